"""Form data (a ``Mapping`` of field name to submitted text) to the library's requests."""

from __future__ import annotations

from collections.abc import Mapping

from provider_identity.errors import InvalidInput
from provider_identity.i18n import msg
from provider_identity.providers import LineOfBusiness
from provider_identity.registration import AccountRequest, ProviderRequest, RegistrationRequest

__all__ = [
    "CHECKED_VALUES",
    "account_request",
    "checkbox",
    "new_password",
    "provider_request",
    "registration_request",
    "text",
]

#: What browsers and frameworks submit for a ticked checkbox (compared case-insensitively).
CHECKED_VALUES = frozenset({"on", "true", "1", "yes", "y", "checked"})

#: Fields taken exactly as typed: passwords are never trimmed.
_SECRET = frozenset(
    {"password", "password_again", "current_password", "new_password", "security_answer"}
)


def text(form: Mapping[str, object], name: str) -> str:
    """The field's text: trimmed (secrets exactly as typed), ``""`` when missing or not text.

    A multi-valued form (Werkzeug's ``MultiDict``, Starlette's ``FormData``)
    gives its first value.
    """
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value if name in _SECRET else value.strip()


def checkbox(form: Mapping[str, object], name: str) -> bool:
    """True if the checkbox ``name`` was ticked (present with a "checked" value)."""
    return text(form, name).casefold() in CHECKED_VALUES


def new_password(form: Mapping[str, object], *, again: str = "password_again") -> str:
    """The ``password`` field, once the ``again`` field repeats it exactly.

    Raises:
        InvalidInput: the two differ (code ``mismatch`` on ``again``).
    """
    password = text(form, "password")
    if text(form, again) != password:
        raise InvalidInput.single(again, "mismatch", msg("The passwords do not match."))
    return password


def _line_of_business(form: Mapping[str, object]) -> LineOfBusiness | None:
    value = text(form, "line_of_business").casefold()
    if not value:
        return None
    for line in LineOfBusiness:
        if line.value.casefold() == value:
            return line
    raise InvalidInput.single("line_of_business", "invalid", msg("Line of business is not valid."))


def provider_request(form: Mapping[str, object]) -> ProviderRequest:
    """Step 1's form (``provider_type``, ``name``, ``tax_id``, ``zip_code``, ``provider_id``,
    ``npi``, ``line_of_business``) as a :class:`~provider_identity.ProviderRequest`.

    Raises:
        InvalidInput: ``line_of_business`` is given but names no line of business.
    """
    return ProviderRequest(
        provider_type=text(form, "provider_type"),
        name=text(form, "name"),
        tax_id=text(form, "tax_id"),
        zip_code=text(form, "zip_code"),
        provider_id=text(form, "provider_id"),
        npi=text(form, "npi"),
        line_of_business=_line_of_business(form),
    )


def account_request(
    form: Mapping[str, object], *, ticket: str, agreement_confirmed: bool | None = None
) -> AccountRequest:
    """Step 3's form (``username``, ``password``, ``email``, ``security_question``,
    ``security_answer``, ``agreement_confirmed``) as an :class:`~provider_identity.AccountRequest`.

    Args:
        ticket: Step 1's ticket (kept in the session or a hidden field).
        agreement_confirmed: Step 2's answer, when it was kept apart from this
            form; ``None`` reads the ``agreement_confirmed`` checkbox.
    """
    return AccountRequest(
        ticket=ticket,
        username=text(form, "username"),
        password=text(form, "password"),
        email=text(form, "email"),
        security_question=text(form, "security_question"),
        security_answer=text(form, "security_answer"),
        agreement_confirmed=(
            checkbox(form, "agreement_confirmed")
            if agreement_confirmed is None
            else agreement_confirmed
        ),
    )


def registration_request(form: Mapping[str, object]) -> RegistrationRequest:
    """A one-page registration form (the fields of both steps) as a
    :class:`~provider_identity.RegistrationRequest`.

    Raises:
        InvalidInput: ``line_of_business`` is given but names no line of business.
    """
    provider = provider_request(form)
    return RegistrationRequest(
        provider_type=provider.provider_type,
        name=provider.name,
        tax_id=provider.tax_id,
        zip_code=provider.zip_code,
        provider_id=provider.provider_id,
        npi=provider.npi,
        line_of_business=provider.line_of_business,
        username=text(form, "username"),
        password=text(form, "password"),
        email=text(form, "email"),
        security_question=text(form, "security_question"),
        security_answer=text(form, "security_answer"),
        agreement_confirmed=checkbox(form, "agreement_confirmed"),
    )
