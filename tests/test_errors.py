"""The error tree: stable codes, the documented hierarchy, the seed's wording."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

import provider_identity
from provider_identity import (
    AccountLocked,
    AuthenticationError,
    ConfigurationError,
    IdentityError,
    InvalidInput,
    MailDeliveryError,
    PasswordRejected,
    ProviderNotFound,
    RegistrationError,
    SecurityAnswerError,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    TokenError,
    UsernameUnavailable,
)
from provider_identity.adapters.smtp import UnsafeHeader

#: The public codes. Renaming one breaks callers: this list must change on purpose.
CODES = {
    "AccountLocked": "account_locked",
    "AccountNotActivated": "account_not_activated",
    "AccountNotFound": "account_not_found",
    "AlreadyRegistered": "already_registered",
    "AuthenticationError": "authentication_error",
    "ConcurrentUpdate": "concurrent_update",
    "ConfigurationError": "configuration_error",
    "DetailsMismatch": "details_mismatch",
    "IdentityError": "identity_error",
    "InvalidCredentials": "invalid_credentials",
    "InvalidInput": "invalid_input",
    "MailDeliveryError": "mail_delivery_failed",
    "NotEligibleForGroup": "not_eligible_for_group",
    "PasswordRejected": "password_rejected",
    "ProviderNotFound": "provider_not_found",
    "RegistrationError": "registration_error",
    "SecurityAnswerError": "security_answer_error",
    "SecurityAnswerLocked": "security_answer_locked",
    "SecurityAnswerMismatch": "security_answer_mismatch",
    "TokenAlreadyUsed": "token_already_used",
    "TokenError": "token_error",
    "TokenExpired": "token_expired",
    "TokenInvalid": "token_invalid",
    "TokenWrongPurpose": "token_wrong_purpose",
    "UsernameUnavailable": "username_unavailable",
}

PUBLIC_ERRORS = {
    name: value
    for name, value in vars(provider_identity).items()
    if inspect.isclass(value) and issubclass(value, IdentityError)
}


def test_every_public_error_has_its_documented_stable_code() -> None:
    assert {name: error.code for name, error in PUBLIC_ERRORS.items()} == CODES
    assert UnsafeHeader.code == "unsafe_header"


def test_codes_are_unique() -> None:
    codes = [error.code for error in PUBLIC_ERRORS.values()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("parent", "children"),
    [
        (RegistrationError, {"ProviderNotFound", "DetailsMismatch", "NotEligibleForGroup",
                             "AlreadyRegistered", "UsernameUnavailable"}),
        (AuthenticationError, {"InvalidCredentials", "AccountLocked", "AccountNotActivated"}),
        (TokenError, {"TokenExpired", "TokenInvalid", "TokenWrongPurpose", "TokenAlreadyUsed"}),
        (SecurityAnswerError, {"SecurityAnswerMismatch", "SecurityAnswerLocked"}),
        (InvalidInput, {"PasswordRejected"}),
    ],
)  # fmt: skip
def test_the_tree_is_as_documented(parent: type[IdentityError], children: set[str]) -> None:
    below = {name for name, error in PUBLIC_ERRORS.items() if error.__bases__[0] is parent}
    assert below == children
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidInput, ValueError)


def test_messages_default_to_the_seeds_wording_and_can_be_replaced() -> None:
    error = ProviderNotFound((("Medicaid", "1-855-202-1058"),))
    assert "does not exist in Provider Portal" in error.message
    assert "1-855-202-1058 (Medicaid)" in str(error)
    assert error.help_lines == (("Medicaid", "1-855-202-1058"),)
    assert str(MailDeliveryError(550, "Refused.")) == "Refused."


def test_errors_carry_what_a_caller_needs() -> None:
    until = datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert AccountLocked(until).locked_until == until
    assert SecurityAnswerLocked(until).locked_until == until
    assert SecurityAnswerMismatch(attempts_left=2).attempts_left == 2
    assert UsernameUnavailable("email").field == "email"
    assert MailDeliveryError(451).smtp_code == 451


def test_password_rejected_lists_its_field_errors() -> None:
    rejected = PasswordRejected(
        [provider_identity.FieldError(field="password", code="too_short", message="Short.")]
    )
    assert [e.code for e in rejected.errors] == ["too_short"]
    assert isinstance(rejected, InvalidInput)
