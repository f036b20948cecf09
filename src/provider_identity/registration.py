"""Registration requests and the matcher that checks them against provider records.

"If you are registering as a provider, select Practitioner ... All your
information must match exactly as listed on your Explanation of Benefit (EOB)
or welcome letter." "Your Group Name, Tax ID, Provider ID and ZIP Code must
match exactly." "For your ZIP code, if you have multiple addresses in your
profile, any ZIP code from the profile will work."
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from provider_identity._fields import FieldErrors
from provider_identity.errors import (
    DetailsMismatch,
    InvalidInput,
    NotEligibleForGroup,
    ProviderNotFound,
)
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

__all__ = [
    "DEFAULT_HELP_LINES",
    "ProviderDetails",
    "RegistrationMatcher",
    "RegistrationRequest",
]

#: "you can call the help line at 1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace)"
DEFAULT_HELP_LINES: Mapping[LineOfBusiness, str] = MappingProxyType(
    {
        LineOfBusiness.MEDICAID: "1-855-202-1058",
        LineOfBusiness.MARKETPLACE: "1-833-230-2030",
    }
)


#: How the refusal names each category, in the seed's order of mention.
_GROUP_WORDS: Mapping[ProviderCategory, str] = MappingProxyType(
    {
        ProviderCategory.RADIOLOGY: "radiologists",
        ProviderCategory.ANESTHESIOLOGY: "anesthesiologists",
        ProviderCategory.PATHOLOGY: "pathologists",
        ProviderCategory.HOSPITALIST: "hospitalists",
        ProviderCategory.EMERGENCY_URGENT_CARE: "emergency room/urgent care providers",
        ProviderCategory.LABORATORY: "laboratory providers",
        ProviderCategory.PRIMARY_CARE: "primary care providers",
        ProviderCategory.SPECIALIST: "specialists",
        ProviderCategory.BEHAVIORAL_HEALTH: "behavioral health providers",
        ProviderCategory.OTHER: "other providers",
        ProviderCategory.HOSPITAL: "hospitals",
        ProviderCategory.SKILLED_NURSING_FACILITY: "skilled nursing facilities",
        ProviderCategory.OTHER_FACILITY: "other facilities",
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
    if not words:
        return "Group registration is not available. Please register as a Practitioner."
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"Group registration is available for {listed}. Please register as a Practitioner."


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
    def parse(cls, request: RegistrationRequest, errors: FieldErrors) -> ProviderDetails | None:
        """Normalise the provider fields of ``request``; record every problem in ``errors``."""
        provider_type = _provider_type(request.provider_type, errors)
        values: dict[str, str | None] = {}
        for field, normalize in (
            ("name", normalize_name),
            ("tax_id", normalize_tax_id),
            ("zip_code", normalize_zip),
        ):
            values[field] = _collect(errors, normalize, getattr(request, field), field)
        provider_id = npi = None
        if _given(request.provider_id):
            provider_id = _collect(
                errors, normalize_provider_id, request.provider_id, "provider_id"
            )
        if _given(request.npi) and provider_type is not ProviderType.GROUP:
            npi = _collect(errors, normalize_npi, request.npi, "npi")
        if provider_type is ProviderType.GROUP and not _given(request.provider_id):
            errors.add("provider_id", "required", "Provider ID is required for a Group.")
        elif not _given(request.provider_id) and not _given(request.npi):
            errors.add("provider_id", "required", "Provider ID or NPI is required.")
        line: object = request.line_of_business
        if line is not None and not isinstance(line, LineOfBusiness):
            errors.add("line_of_business", "wrong_type", "Line of business is not valid.")
        if errors.errors or provider_type is None:
            return None
        return cls(
            provider_type=provider_type,
            name_key=str(values["name"]),
            tax_id=str(values["tax_id"]),
            zip_code=str(values["zip_code"]),
            provider_id=provider_id,
            npi=npi,
            line_of_business=request.line_of_business,
        )


def _given(value: object) -> bool:
    return not (isinstance(value, str) and not value.strip()) and value is not None


def _collect(
    errors: FieldErrors, normalize: Callable[..., str], value: object, field: str
) -> str | None:
    try:
        return normalize(value, field=field)
    except InvalidInput as err:
        errors.extend(err.errors)
        return None


def _provider_type(value: object, errors: FieldErrors) -> ProviderType | None:
    if isinstance(value, ProviderType):
        return value
    if isinstance(value, str):
        for member in ProviderType:
            if value.strip().casefold() == member.value:
                return member
    errors.add("provider_type", "required", "Select Practitioner or Group.")
    return None


@attrs.frozen(kw_only=True)
class RegistrationMatcher:
    """Finds the provider record a registration names and checks every detail against it.

    Attributes:
        directory: Where provider records are looked up.
        help_lines: Help line per line of business, for "provider does not exist".
        group_categories: Categories that may register as a Group.
    """

    directory: ProviderDirectory
    help_lines: Mapping[LineOfBusiness, str] = DEFAULT_HELP_LINES
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

    def help_lines_for(self, line: LineOfBusiness | None) -> tuple[tuple[str, str], ...]:
        """``(line of business, number)`` pairs: the one asked for, or all of them."""
        if line is not None and line in self.help_lines:
            return ((line.value, self.help_lines[line]),)
        return tuple((name.value, number) for name, number in self.help_lines.items())
