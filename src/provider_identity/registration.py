"""Registration requests and the matcher that checks them against provider records.

"If you are registering as a provider, select Practitioner ... All your
information must match exactly as listed on your Explanation of Benefit (EOB)
or welcome letter." "Your Group Name, Tax ID, Provider ID and ZIP Code must
match exactly." "For your ZIP code, if you have multiple addresses in your
profile, any ZIP code from the profile will work."
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from types import MappingProxyType

import attrs

from provider_identity._fields import FieldErrors, collect
from provider_identity.accounts import CanonicalEmail, canonical_email, canonical_username
from provider_identity.errors import (
    DetailsMismatch,
    FieldError,
    InvalidInput,
    NotEligibleForGroup,
    PasswordRejected,
    ProviderNotFound,
    TicketInvalid,
)
from provider_identity.i18n import listing, msg
from provider_identity.passwords import PasswordPolicy
from provider_identity.plan import SEED_LINES_OF_BUSINESS, PlanLines
from provider_identity.ports import ProviderDirectory
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
    tax_id_repr,
)
from provider_identity.security_questions import SecurityQuestions

__all__ = [
    "DEFAULT_HELP_LINES",
    "AccountRequest",
    "ProviderCheck",
    "ProviderDetails",
    "ProviderRequest",
    "RegistrationMatcher",
    "RegistrationRequest",
    "RegistrationTicket",
    "ValidAccount",
    "ValidRegistration",
    "validate_account",
    "validate_registration",
]

#: "you can call the help line at 1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace)":
#: the seed's :class:`~provider_identity.plan.PlanLines` (a mapping of line to help line).
DEFAULT_HELP_LINES: Mapping[LineOfBusiness, str] = SEED_LINES_OF_BUSINESS


#: How the refusal names each category, in the seed's order of mention.
_GROUP_WORDS: Mapping[ProviderCategory, str] = MappingProxyType(
    {
        ProviderCategory.RADIOLOGY: msg("radiologists"),
        ProviderCategory.ANESTHESIOLOGY: msg("anesthesiologists"),
        ProviderCategory.PATHOLOGY: msg("pathologists"),
        ProviderCategory.HOSPITALIST: msg("hospitalists"),
        ProviderCategory.EMERGENCY_URGENT_CARE: msg("emergency room/urgent care providers"),
        ProviderCategory.LABORATORY: msg("laboratory providers"),
        ProviderCategory.PRIMARY_CARE: msg("primary care providers"),
        ProviderCategory.SPECIALIST: msg("specialists"),
        ProviderCategory.BEHAVIORAL_HEALTH: msg("behavioral health providers"),
        ProviderCategory.OTHER: msg("other providers"),
        ProviderCategory.HOSPITAL: msg("hospitals"),
        ProviderCategory.SKILLED_NURSING_FACILITY: msg("skilled nursing facilities"),
        ProviderCategory.OTHER_FACILITY: msg("other facilities"),
    }
)


def _not_eligible_message(categories: frozenset[ProviderCategory]) -> str:
    """The "not eligible for Group" wording for the categories that may register as a Group.

    The seed's sentence for the default categories; otherwise the same
    sentence listing exactly ``categories``.
    """
    if categories == GROUP_ELIGIBLE_CATEGORIES:
        return NotEligibleForGroup.default_message
    words = [word for category, word in _GROUP_WORDS.items() if category in categories]
    words += [  # a plan's own categories, after the seed's, by their codes
        msg("{category} providers", category=category.value.replace("_", " "))
        for category in sorted(categories - _GROUP_WORDS.keys())
    ]
    if not words:
        return msg("Group registration is not available. Please register as a Practitioner.")
    return msg(
        "Group registration is available for {categories}. Please register as a Practitioner.",
        categories=listing(words),
    )


@attrs.frozen(kw_only=True)
class RegistrationRequest:
    """Everything the User Registration page collects, as typed by the user.

    Nothing is validated on construction: :meth:`IdentityService.register`
    validates every field and reports all problems at once. The password and
    answer are kept out of ``repr``; the Tax ID shows its last 4 characters only.

    Attributes:
        provider_type: Practitioner or Group (enum or its value).
        name: The practitioner's name, or the Group Name.
        tax_id: Tax ID, any formatting (``12-3456789``).
        zip_code: Any ZIP code of the provider's profile (ZIP+4 accepted).
        provider_id: The plan's provider number (required for a Group).
        npi: A practitioner may give the NPI instead of the Provider ID.
        username: The User Name to log in with.
        password: The password to log in with.
        email: Where the activation email goes.
        security_question: One of the configured questions.
        security_answer: Its answer.
        agreement_confirmed: The Provider Agreement was confirmed.
        line_of_business: Optional hint, to pick the help line when the provider is unknown.
    """

    provider_type: ProviderType | str
    name: str
    tax_id: str = attrs.field(repr=tax_id_repr)
    zip_code: str
    provider_id: str = ""
    npi: str = ""
    username: str
    password: str = attrs.field(repr=False)
    email: str
    security_question: str
    security_answer: str = attrs.field(repr=False)
    agreement_confirmed: bool = False
    line_of_business: LineOfBusiness | None = None


@attrs.frozen(kw_only=True)
class ProviderRequest:
    """Step 1 of a step-by-step registration: the provider details alone, as typed.

    Checked by :meth:`IdentityService.check_provider`; the fields mean what
    they mean on :class:`RegistrationRequest`.
    """

    provider_type: ProviderType | str
    name: str
    tax_id: str = attrs.field(repr=tax_id_repr)
    zip_code: str
    provider_id: str = ""
    npi: str = ""
    line_of_business: LineOfBusiness | None = None


@attrs.frozen(kw_only=True)
class AccountRequest:
    """Step 3 of a step-by-step registration: the user account, with step 1's ticket.

    Attributes:
        ticket: :attr:`ProviderCheck.ticket`, from step 1.
        agreement_confirmed: The Provider Agreement was confirmed (step 2).

    The other fields mean what they mean on :class:`RegistrationRequest`.
    """

    ticket: str = attrs.field(repr=False)
    username: str
    password: str = attrs.field(repr=False)
    email: str
    security_question: str
    security_answer: str = attrs.field(repr=False)
    agreement_confirmed: bool = False


@attrs.frozen(kw_only=True)
class ProviderCheck:
    """The provider details of step 1 matched a record that may register.

    Attributes:
        ticket: Signed and short-lived; names the matched record by its
            Provider ID and the provider type, nothing personal. Carry it to
            step 3 (a hidden field or the session) in an :class:`AccountRequest`.
        provider_type: Practitioner or Group, as chosen.
        expires_at: When the ticket stops being accepted.
    """

    ticket: str = attrs.field(repr=False)
    provider_type: ProviderType
    expires_at: datetime


@attrs.frozen(kw_only=True)
class RegistrationTicket:
    """What a verified ticket says: the matched record and the provider type chosen."""

    provider_id: str
    provider_type: ProviderType

    def payload(self) -> dict[str, str | int]:
        """The signed form (opaque: a Provider ID is the plan's number, not personal data)."""
        return {"r": self.provider_id, "t": self.provider_type.value}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> RegistrationTicket:
        """Read a verified payload back.

        Raises:
            TicketInvalid: the payload is not a ticket's.
        """
        provider_id, kind = payload.get("r"), payload.get("t")
        types = {member.value: member for member in ProviderType}
        if not isinstance(provider_id, str) or not isinstance(kind, str) or kind not in types:
            raise TicketInvalid
        return cls(provider_id=provider_id, provider_type=types[kind])


@attrs.frozen(kw_only=True)
class ProviderDetails:
    """The provider part of a request, normalised for comparison."""

    provider_type: ProviderType
    name_key: str
    tax_id: str = attrs.field(repr=tax_id_repr)
    zip_code: str
    provider_id: str | None = None
    npi: str | None = None
    line_of_business: LineOfBusiness | None = None

    @classmethod
    def parse(cls, request: RegistrationRequest | ProviderRequest) -> ProviderDetails:
        """Normalise the provider fields of ``request``.

        Raises:
            InvalidInput: every problem with the provider fields, at once.
        """
        errors = FieldErrors()
        provider_type = _provider_type(request.provider_type, errors)
        values: dict[str, str | None] = {}
        for field, normalize in (
            ("name", normalize_name),
            ("tax_id", normalize_tax_id),
            ("zip_code", normalize_zip),
        ):
            values[field] = collect(
                errors.errors, partial(normalize, getattr(request, field), field=field)
            )
        provider_id = npi = None
        if _given(request.provider_id):
            provider_id = collect(
                errors.errors,
                partial(normalize_provider_id, request.provider_id, field="provider_id"),
            )
        if _given(request.npi) and provider_type is not ProviderType.GROUP:
            npi = collect(errors.errors, partial(normalize_npi, request.npi, field="npi"))
        if provider_type is ProviderType.GROUP and not _given(request.provider_id):
            errors.add("provider_id", "required", "Provider ID is required for a Group.")
        elif not _given(request.provider_id) and not _given(request.npi):
            errors.add("provider_id", "required", "Provider ID or NPI is required.")
        line: object = request.line_of_business
        if line is not None and not isinstance(line, LineOfBusiness):
            errors.add("line_of_business", "wrong_type", "Line of business is not valid.")
        if errors.errors or provider_type is None:
            raise InvalidInput(errors.errors)
        return cls(
            provider_type=provider_type,
            name_key=str(values["name"]),
            tax_id=str(values["tax_id"]),
            zip_code=str(values["zip_code"]),
            provider_id=provider_id,
            npi=npi,
            line_of_business=request.line_of_business,
        )


@attrs.frozen(kw_only=True)
class ValidAccount:
    """The user-account fields of a request, checked and normalised.

    Attributes:
        username: The User Name as typed, trimmed (what the account shows).
        username_key: Its canonical form (what lookups and uniqueness use).
        email: The canonical email address and its key.
        answer: The normalised security answer.
        password: The password as typed.
    """

    username: str
    username_key: str
    email: CanonicalEmail
    answer: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class ValidRegistration(ValidAccount):
    """A registration request that passed every field check, normalised.

    Attributes:
        details: The provider fields, normalised for matching.
    """

    details: ProviderDetails


def validate_registration(
    request: RegistrationRequest,
    *,
    password_policy: PasswordPolicy,
    security_questions: SecurityQuestions,
) -> ValidRegistration:
    """Check every field of ``request``; return its normalised values.

    Raises:
        InvalidInput: every field problem at once, the password's included.
        PasswordRejected: the password's problems, when they are the only ones.
    """
    errors: list[FieldError] = []
    details = collect(errors, partial(ProviderDetails.parse, request))
    account = validate_account(
        request,
        password_policy=password_policy,
        security_questions=security_questions,
        earlier=errors,
    )
    assert details is not None  # noqa: S101  # its errors were raised above
    return ValidRegistration(details=details, **attrs.asdict(account, recurse=False))


def validate_account(
    request: RegistrationRequest | AccountRequest,
    *,
    password_policy: PasswordPolicy,
    security_questions: SecurityQuestions,
    earlier: Sequence[FieldError] = (),
) -> ValidAccount:
    """Check the user-account fields of ``request`` (and the agreement); return them normalised.

    Args:
        earlier: Field errors found before (the provider fields'), reported
            first, together with these.

    Raises:
        InvalidInput: every field problem at once, the password's included.
        PasswordRejected: the password's problems, when they are the only ones.
    """
    errors: list[FieldError] = list(earlier)
    username_key = collect(errors, partial(canonical_username, request.username))
    email = collect(errors, partial(canonical_email, request.email))
    answer = collect(
        errors,
        partial(security_questions.validate, request.security_question, request.security_answer),
    )
    if request.agreement_confirmed is not True:
        errors.append(
            FieldError(
                field="agreement_confirmed",
                code="required",
                message=msg("Please confirm the Provider Agreement."),
            )
        )
    violations = password_policy.check(
        request.password,
        username=request.username if isinstance(request.username, str) else None,
        email=email.address if email is not None else None,
    )
    password_errors = [violation.as_field_error() for violation in violations]
    if errors:
        raise InvalidInput([*errors, *password_errors])
    if password_errors:
        raise PasswordRejected(password_errors)
    # Each None above recorded an error, and a password with no violation is text.
    assert username_key is not None  # noqa: S101
    assert email is not None  # noqa: S101
    assert answer is not None  # noqa: S101
    assert isinstance(request.password, str)  # noqa: S101
    return ValidAccount(
        username=request.username.strip(),
        username_key=username_key,
        email=email,
        answer=answer,
        password=request.password,
    )


def _given(value: object) -> bool:
    return not (isinstance(value, str) and not value.strip()) and value is not None


def _provider_type(value: object, errors: FieldErrors) -> ProviderType | None:
    if isinstance(value, ProviderType):
        return value
    if isinstance(value, str):
        for member in ProviderType:
            if value.strip().casefold() == member.value:
                return member
    errors.add("provider_type", "required", "Select Practitioner or Group.")
    return None


def _help_lines(value: Mapping[LineOfBusiness, str]) -> PlanLines:
    return PlanLines.from_help_lines(value)


@attrs.frozen(kw_only=True)
class RegistrationMatcher:
    """Finds the provider record a registration names and checks every detail against it.

    Attributes:
        directory: Where provider records are looked up.
        help_lines: Help line per line of business, for "provider does not exist":
            a :class:`~provider_identity.plan.PlanLines` (with display names)
            or a plain ``{line: number}`` mapping.
        group_categories: Categories that may register as a Group.
    """

    directory: ProviderDirectory
    help_lines: PlanLines = attrs.field(default=SEED_LINES_OF_BUSINESS, converter=_help_lines)
    group_categories: frozenset[ProviderCategory] = GROUP_ELIGIBLE_CATEGORIES

    def match(self, details: ProviderDetails) -> ProviderRecord:
        """Return the record ``details`` names, if every detail matches it.

        Raises:
            ProviderNotFound: no record has the Provider ID / NPI given.
            DetailsMismatch: the record's Tax ID, name or ZIP codes differ.
            NotEligibleForGroup: a Group registration for a category that may not.
        """
        if details.provider_id is not None:
            record = self.directory.by_provider_id(details.provider_id)
        else:
            record = self.directory.by_npi(str(details.npi))
        if record is None:
            raise ProviderNotFound(self.help_lines_for(details.line_of_business))
        if (
            record.tax_id != details.tax_id
            or record.name_key != details.name_key
            or details.zip_code not in record.zip_codes
            or (
                details.npi is not None
                and details.provider_id is not None
                and record.npi != details.npi
            )
        ):
            raise DetailsMismatch
        if (
            details.provider_type is ProviderType.GROUP
            and record.category not in self.group_categories
        ):
            raise NotEligibleForGroup(_not_eligible_message(self.group_categories))
        return record

    def match_ticket(self, ticket: RegistrationTicket) -> ProviderRecord:
        """The record a verified ticket names, if it still exists and may still register so.

        Raises:
            ProviderNotFound: the record left the directory since step 1.
            NotEligibleForGroup: its category may no longer register as a Group.
        """
        record = self.directory.by_provider_id(ticket.provider_id)
        if record is None:
            raise ProviderNotFound(self.help_lines_for(None))
        if (
            ticket.provider_type is ProviderType.GROUP
            and record.category not in self.group_categories
        ):
            raise NotEligibleForGroup(_not_eligible_message(self.group_categories))
        return record

    def help_lines_for(self, line: LineOfBusiness | None) -> tuple[tuple[str, str], ...]:
        """``(display name, number)`` pairs: the line asked for, or all of the plan's."""
        lines = self.help_lines
        if line is not None and line in lines:
            return ((lines.display_name(line), lines[line]),)
        return tuple((lines.display_name(name), number) for name, number in lines.items())
