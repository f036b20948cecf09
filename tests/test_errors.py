"""The error tree: stable codes, the documented hierarchy, the seed's wording."""

from __future__ import annotations

import copy
import functools
import inspect
import pickle
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import provider_identity
from provider_identity import (
    AccountLocked,
    FactorRequired,
    FieldError,
    IdentityError,
    InvalidInput,
    MailDeliveryError,
    PasswordRejected,
    ProviderNotFound,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    UsernameUnavailable,
    errors,
)
from provider_identity.adapters.smtp import UnsafeHeader

#: The public codes. Renaming one breaks callers: this list must change on purpose.
CODES = {
    "AbuseLimitError": "abuse_limit",
    "AccountDeactivated": "account_deactivated",
    "TicketExpired": "ticket_expired",
    "TicketInvalid": "ticket_invalid",
    "AccountLocked": "account_locked",
    "AccountNotActivated": "account_not_activated",
    "AccountNotFound": "account_not_found",
    "AlreadyRegistered": "already_registered",
    "AuthenticationError": "authentication_error",
    "CallerNotVerified": "caller_not_verified",
    "ChallengeExpired": "login_challenge_expired",
    "ChallengeInvalid": "login_challenge_invalid",
    "CodeAlreadyUsed": "code_already_used",
    "ConcurrentUpdate": "concurrent_update",
    "ConfigurationError": "configuration_error",
    "DetailsMismatch": "details_mismatch",
    "FactorAlreadyEnrolled": "factor_already_enrolled",
    "FactorNotEnrolled": "factor_not_enrolled",
    "FactorRequired": "factor_required",
    "HumanCheckRequired": "human_check_required",
    "IdentityError": "identity_error",
    "InvalidCode": "invalid_code",
    "InvalidCredentials": "invalid_credentials",
    "InvalidInput": "invalid_input",
    "InvalidTransition": "invalid_transition",
    "MailDeliveryError": "mail_delivery_failed",
    "NotEligibleForGroup": "not_eligible_for_group",
    "PasswordRejected": "password_rejected",
    "ProviderNotFound": "provider_not_found",
    "RegistrationError": "registration_error",
    "SecondFactorError": "second_factor_error",
    "SecondFactorsOff": "second_factors_off",
    "SecurityAnswerError": "security_answer_error",
    "SecurityAnswerLocked": "security_answer_locked",
    "SecurityAnswerMismatch": "security_answer_mismatch",
    "StoreUnavailable": "store_unavailable",
    "TokenAlreadyUsed": "token_already_used",
    "TokenError": "token_error",
    "TokenExpired": "token_expired",
    "TokenInvalid": "token_invalid",
    "TokenWrongPurpose": "token_wrong_purpose",
    "TooManyAttempts": "too_many_attempts",
    "UsernameUnavailable": "username_unavailable",
}

PUBLIC_ERRORS = {
    name: value
    for name, value in vars(provider_identity).items()
    if inspect.isclass(value) and issubclass(value, IdentityError)
}


def test_every_public_error_has_its_documented_stable_code() -> None:
    """The snapshot: a renamed or added code fails here until CODES changes on purpose."""
    assert {name: error.code for name, error in PUBLIC_ERRORS.items()} == CODES
    assert UnsafeHeader.code == "unsafe_header"


def test_codes_are_unique() -> None:
    """No two errors share a code (the SMTP adapter's own error included)."""
    codes = [error.code for error in PUBLIC_ERRORS.values()] + [UnsafeHeader.code]
    assert len(codes) == len(set(codes))


def test_messages_default_to_the_seeds_wording_and_can_be_replaced() -> None:
    """ProviderNotFound names the help line; a MailDeliveryError message can be replaced."""
    error = ProviderNotFound((("Medicaid", "1-855-202-1058"),))
    assert "does not exist in Provider Portal" in error.message
    assert "1-855-202-1058 (Medicaid)" in str(error)
    assert error.help_lines == (("Medicaid", "1-855-202-1058"),)
    assert str(MailDeliveryError(550, "Refused.")) == "Refused."


def test_errors_carry_what_a_caller_needs() -> None:
    """Structured attributes: lock ends, attempts left, the clashing field, the SMTP code."""
    until = datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert AccountLocked(until).locked_until == until
    assert SecurityAnswerLocked(until).locked_until == until
    assert SecurityAnswerMismatch(attempts_left=2).attempts_left == 2
    assert UsernameUnavailable("email").field == "email"
    assert MailDeliveryError(451).smtp_code == 451


def test_password_rejected_lists_its_field_errors() -> None:
    """PasswordRejected is an InvalidInput whose errors are the password's rule codes."""
    rejected = PasswordRejected(
        [provider_identity.FieldError(field="password", code="too_short", message="Short.")]
    )
    assert [e.code for e in rejected.errors] == ["too_short"]
    assert isinstance(rejected, InvalidInput)


def test_single_builds_one_field_error_of_the_class_it_is_called_on() -> None:
    """``single`` gives one FieldError; on PasswordRejected it builds a PasswordRejected."""
    error = PasswordRejected.single("password", "reused", "Used before.")
    assert type(error) is PasswordRejected
    assert error.errors == (
        provider_identity.FieldError(field="password", code="reused", message="Used before."),
    )
    assert error.fields == {"password"}


# -- the documented tree, wording and behaviour of every error ------------------------------

UNTIL = datetime(2026, 1, 6, 9, tzinfo=UTC)

ZIP = FieldError(field="zip_code", code="required", message="ZIP Code is required.")
REUSED = FieldError(field="password", code="reused", message="Must be new.")

#: One instance of every public error, built as the library builds it (``message=`` optional).
SAMPLES: dict[str, Callable[..., IdentityError]] = {
    **{name: PUBLIC_ERRORS[name] for name in CODES},  # those that need no argument
    "AbuseLimitError": functools.partial(errors.AbuseLimitError, "login"),
    "AccountLocked": functools.partial(AccountLocked, UNTIL),
    "FactorRequired": functools.partial(FactorRequired, "policy"),
    "HumanCheckRequired": functools.partial(errors.HumanCheckRequired, "registration"),
    "InvalidInput": functools.partial(InvalidInput, [ZIP]),
    "MailDeliveryError": functools.partial(MailDeliveryError, 550),
    "PasswordRejected": functools.partial(PasswordRejected, [REUSED]),
    "ProviderNotFound": functools.partial(ProviderNotFound, [("Medicaid", "1-855-202-1058")]),
    "SecurityAnswerLocked": functools.partial(SecurityAnswerLocked, UNTIL),
    "SecurityAnswerMismatch": functools.partial(SecurityAnswerMismatch, 1),
    "TooManyAttempts": functools.partial(errors.TooManyAttempts, "login", timedelta(seconds=90)),
    "UsernameUnavailable": functools.partial(UsernameUnavailable, "email"),
}


def pickle_round_trip(error: IdentityError) -> IdentityError:
    again: IdentityError = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes
    return again


def drawn_tree() -> dict[str, str]:
    """Each class's parent as drawn in the errors module's docstring."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z]\w+)", line)
        if match is None:
            continue
        depth = len(match.group(1)) // 4 + (1 if "──" in line else 0)
        del stack[depth:]
        if stack:
            parents[match.group(2)] = stack[-1]
        stack.append(match.group(2))
    return parents


def test_the_tree_drawn_in_the_module_docstring_is_the_class_tree() -> None:
    """Every public error appears once in the drawing, under its real base class."""
    drawn = drawn_tree()
    assert set(drawn) | {"IdentityError"} == set(PUBLIC_ERRORS)
    actual = {
        name: next(b for b in error.__bases__ if issubclass(b, IdentityError)).__name__
        for name, error in PUBLIC_ERRORS.items()
        if error is not IdentityError
    }
    assert drawn == actual


def test_only_input_and_configuration_errors_are_value_errors() -> None:
    """argon2-cffi's convention: bad input is also a ValueError, nothing else is."""
    value_errors = {name for name, error in PUBLIC_ERRORS.items() if issubclass(error, ValueError)}
    assert value_errors == {"ConfigurationError", "InvalidInput", "PasswordRejected"}


def test_the_module_exports_every_error_sorted() -> None:
    """errors.__all__ is sorted, lists every error, and the package re-exports each."""
    assert errors.__all__ == sorted(errors.__all__)
    assert set(PUBLIC_ERRORS) | {"FieldError"} == set(errors.__all__)
    assert all(getattr(provider_identity, name) is getattr(errors, name) for name in errors.__all__)


def test_no_module_raises_the_root_or_a_branch_directly() -> None:
    """IdentityError and the branch classes are for catching; only leaves are raised."""
    branches = ("IdentityError", "RegistrationError", "AuthenticationError", "TokenError",
                "SecurityAnswerError", "AbuseLimitError")  # fmt: skip
    source = Path(provider_identity.__file__).parent
    raised = {
        (path.name, branch)
        for path in source.rglob("*.py")
        for branch in branches
        if re.search(rf"raise {branch}\b", path.read_text(encoding="utf-8"))
    }
    assert raised == set()


@pytest.mark.parametrize("name", sorted(CODES))
def test_every_error_has_a_message_str_and_repr(name: str) -> None:
    """str() is the user-facing message; repr names the class, the code and the message."""
    error = SAMPLES[name]()
    assert type(error).__name__ == name
    assert error.message
    assert error.message.endswith(".")
    assert str(error) == error.message
    assert repr(error) == f"{name}(code={CODES[name]!r}, message={error.message!r})"


@pytest.mark.parametrize("name", sorted(CODES))
def test_every_message_can_be_replaced_and_the_code_stays(name: str) -> None:
    """A re-branded message changes str(), never the code or the structured attributes."""
    default, replaced = SAMPLES[name](), SAMPLES[name](message="Custom wording.")
    assert (str(replaced), replaced.message, replaced.code) == (
        "Custom wording.", "Custom wording.", CODES[name],
    )  # fmt: skip
    assert vars(replaced) == {**vars(default), "message": "Custom wording."}


@pytest.mark.parametrize(
    ("error", "seed"),
    [
        (errors.AlreadyRegistered(), "go to the Provider Login page and log in"),
        (errors.AccountLocked(UNTIL), "Forgot password? link to reset your password, or"),
        (errors.AccountLocked(UNTIL), "wait 24 hours and attempt to log in again"),
        (errors.DetailsMismatch(), "must match exactly as listed on your Explanation of Benefit"),
        (errors.NotEligibleForGroup(), "radiologists, anesthesiologists, pathologists"),
        (ProviderNotFound(), "does not exist in Provider Portal"),
        (
            ProviderNotFound((("Medicaid", "1-855-202-1058"), ("Marketplace", "1-833-230-2030"))),
            "call the help line at 1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace)",
        ),
    ],
)  # fmt: skip
def test_messages_use_the_seeds_wording(error: IdentityError, seed: str) -> None:
    """Where the seed words a message, the default message says it."""
    assert seed in error.message


def test_provider_not_found_without_help_lines_and_with_a_custom_message() -> None:
    """No help line: the bare seed sentence; a custom message keeps the structured lines."""
    assert ProviderNotFound().message == "The provider does not exist in Provider Portal."
    assert ProviderNotFound().help_lines == ()
    custom = ProviderNotFound([("Medicaid", "1-855-202-1058")], message="Call us.")
    assert (str(custom), custom.help_lines) == ("Call us.", (("Medicaid", "1-855-202-1058"),))


def test_small_helpers_of_the_errors() -> None:
    """UsernameUnavailable names its field, InvalidInput its fields, ConcurrentUpdate explains."""
    assert UsernameUnavailable().field == "username"
    assert "user name" in UsernameUnavailable().message
    assert "email address" in UsernameUnavailable("email").message
    both = InvalidInput([FieldError(field=f, code="required", message="R.") for f in "aba"])
    assert both.fields == frozenset({"a", "b"})
    assert both.message == "Please correct the highlighted fields."
    assert "do not change" in errors.ConcurrentUpdate.identifiers_changed().message
    assert MailDeliveryError().smtp_code is None


@pytest.mark.parametrize(
    "name",
    sorted(CODES),
)
@pytest.mark.parametrize("duplicate", [pickle_round_trip, copy.copy, copy.deepcopy])
def test_errors_survive_pickle_and_copy(
    name: str, duplicate: Callable[[IdentityError], IdentityError]
) -> None:
    """Errors cross process boundaries (multiprocessing, task queues) unchanged."""
    error = SAMPLES[name]()
    again = duplicate(error)
    assert type(again) is type(error)
    assert (str(again), repr(again), again.args, vars(again)) == (
        str(error), repr(error), error.args, vars(error),
    )  # fmt: skip
