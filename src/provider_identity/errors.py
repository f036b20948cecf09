"""Every error the library raises, each with a stable ``code``.

The tree::

    IdentityError                      (never raised directly)
    ├── ConfigurationError             ValueError; bad settings at construction
    ├── InvalidInput                   ValueError; field errors, all at once
    │   └── PasswordRejected           the only field errors are the password's
    ├── RegistrationError
    │   ├── ProviderNotFound           carries the help line(s)
    │   ├── DetailsMismatch
    │   ├── NotEligibleForGroup
    │   ├── AlreadyRegistered
    │   └── UsernameUnavailable        username or email taken
    ├── AuthenticationError
    │   ├── InvalidCredentials         unknown user and wrong password alike
    │   ├── AccountLocked              carries ``locked_until``
    │   ├── AccountNotActivated
    │   ├── AccountDeactivated         right password, account switched off
    │   ├── InvalidCode                a wrong second-factor code or passkey answer
    │   │   └── CodeAlreadyUsed        a TOTP code (or its step) accepted before
    │   ├── ChallengeExpired           the login challenge is too old: log in again
    │   └── ChallengeInvalid           forged, or already used, or the account changed
    ├── TokenError
    │   ├── TokenExpired
    │   │   └── TicketExpired          a registration ticket outlived its lifetime
    │   ├── TokenInvalid               forged, truncated, garbled
    │   │   └── TicketInvalid          a registration ticket that is not one
    │   ├── TokenWrongPurpose
    │   └── TokenAlreadyUsed
    ├── SecurityAnswerError
    │   ├── SecurityAnswerMismatch     carries ``attempts_left``
    │   ├── SecurityAnswerLocked       carries ``locked_until``
    │   └── CallerNotVerified          a desk action before a verified answer
    ├── AbuseLimitError
    │   ├── TooManyAttempts            a rate limit refused; carries ``retry_after``
    │   └── HumanCheckRequired         complete the human check, then try again
    ├── SecondFactorError
    │   ├── SecondFactorsOff           the service's MFA mode is "off"
    │   ├── FactorNotEnrolled          no such factor (or no enrolment to confirm)
    │   ├── FactorAlreadyEnrolled      remove the factor first
    │   └── FactorRequired             the policy needs the last factor kept
    ├── AccountNotFound                an administrative call named no account
    ├── InvalidTransition              the account's state does not allow the change
    ├── ConcurrentUpdate               a repository refused a stale write
    ├── MailDeliveryError              a Mailer could not hand a message over
    └── StoreUnavailable               a store (SQL, Redis) did not answer

``code`` is part of the public API: match on it (or on the class), never on
``message``, which is user-facing wording and may be re-branded. No error
message ever contains a password, security answer, token, hash or full Tax ID.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn, Self

import attrs

from provider_identity.i18n import listing, msg, msg_plural

__all__ = [
    "AbuseLimitError",
    "AccountDeactivated",
    "AccountLocked",
    "AccountNotActivated",
    "AccountNotFound",
    "AlreadyRegistered",
    "AuthenticationError",
    "CallerNotVerified",
    "ChallengeExpired",
    "ChallengeInvalid",
    "CodeAlreadyUsed",
    "ConcurrentUpdate",
    "ConfigurationError",
    "DetailsMismatch",
    "FactorAlreadyEnrolled",
    "FactorNotEnrolled",
    "FactorRequired",
    "FieldError",
    "HumanCheckRequired",
    "IdentityError",
    "InvalidCode",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidTransition",
    "MailDeliveryError",
    "NotEligibleForGroup",
    "PasswordRejected",
    "ProviderNotFound",
    "RegistrationError",
    "SecondFactorError",
    "SecondFactorsOff",
    "SecurityAnswerError",
    "SecurityAnswerLocked",
    "SecurityAnswerMismatch",
    "StoreUnavailable",
    "TicketExpired",
    "TicketInvalid",
    "TokenAlreadyUsed",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenWrongPurpose",
    "TooManyAttempts",
    "UsernameUnavailable",
]


class IdentityError(Exception):
    """Root of the library's errors. Never raised directly.

    Attributes:
        code: Stable, machine-readable identifier of the error class.
        message: Default user-facing wording (the seed's, where it has one).
    """

    code: ClassVar[str] = "identity_error"
    default_message: ClassVar[str] = msg("The request could not be completed.")

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other arguments than the message; rebuild from the state,
        # so pickle and copy keep every attribute (help_lines, field ...).
        return (_rebuild, (type(self), dict(vars(self))))


def _rebuild(cls: type[IdentityError], state: dict[str, Any]) -> IdentityError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class ConfigurationError(IdentityError, ValueError):
    """A setting is unsafe or inconsistent; raised when an object is built."""

    code = "configuration_error"
    default_message = msg("The configuration is not valid.")


def params_dict(values: Mapping[str, int | str]) -> dict[str, int | str]:
    """An attrs converter: a message's parameters, as a dictionary of its own."""
    return dict(values)


@attrs.frozen(kw_only=True)
class FieldError:
    """One problem with one input field, ready to show beside the field.

    Attributes:
        field: The request field's name, e.g. ``"tax_id"``.
        code: Stable identifier, e.g. ``"required"`` or ``"too_short"``.
        message: User-facing wording, in English; the library's own carries its
            message id, so ``error_view(err, locale="es")`` shows it translated
            (:mod:`provider_identity.i18n`).
        params: The values the wording states (``{"min": 12}`` for
            "Must be a minimum of 12 characters."), so a translation keyed by
            ``code`` can state them too. Never a secret.
    """

    field: str
    code: str
    message: str
    params: dict[str, int | str] = attrs.field(factory=dict, converter=params_dict, hash=False)


class InvalidInput(IdentityError, ValueError):
    """Input is missing or malformed. Every problem is reported at once.

    Attributes:
        errors: One :class:`FieldError` per problem, in field order.
    """

    code = "invalid_input"
    default_message = msg("Please correct the highlighted fields.")

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__(message)

    @classmethod
    def single(
        cls, field: str, code: str, message: str, params: Mapping[str, int | str] | None = None
    ) -> Self:
        """The error for one problem with one field."""
        return cls([FieldError(field=field, code=code, message=message, params=params or {})])

    @property
    def fields(self) -> frozenset[str]:
        """The names of the fields that have at least one problem."""
        return frozenset(error.field for error in self.errors)


class PasswordRejected(InvalidInput):
    """The new password breaks the password policy; ``errors`` lists each rule."""

    code = "password_rejected"
    default_message = msg("The password does not meet the requirements.")


class RegistrationError(IdentityError):
    """Registration was refused for a reason other than malformed input."""

    code = "registration_error"


class ProviderNotFound(RegistrationError):
    """No provider record has the Provider ID, NPI or Tax ID given.

    Attributes:
        help_lines: ``(line of business, phone number)`` pairs to call.
    """

    code = "provider_not_found"
    default_message = msg("The provider does not exist in Provider Portal.")

    def __init__(
        self, help_lines: Sequence[tuple[str, str]] = (), message: str | None = None
    ) -> None:
        self.help_lines: tuple[tuple[str, str], ...] = tuple(help_lines)
        if message is None and self.help_lines:
            numbers = [msg("{number} ({line})", number=n, line=line) for line, n in self.help_lines]
            message = msg(
                "The provider does not exist in Provider Portal. "
                "Please call the help line at {numbers}.",
                numbers=listing(numbers, "or"),
            )
        super().__init__(message)


class DetailsMismatch(RegistrationError):
    """A record exists, but the details given do not match it exactly."""

    code = "details_mismatch"
    default_message = msg(
        "The information you entered does not match our records. All your information "
        "must match exactly as listed on your Explanation of Benefit (EOB) or welcome letter."
    )


class NotEligibleForGroup(RegistrationError):
    """The provider's category may not register as a Group."""

    code = "not_eligible_for_group"
    default_message = msg(
        "Group registration is available for radiologists, anesthesiologists, pathologists, "
        "hospitalists, emergency room/urgent care and laboratory providers, and facilities "
        "such as hospitals and skilled nursing facilities. Please register as a Practitioner."
    )


class AlreadyRegistered(RegistrationError):
    """The provider already has an account.

    Attributes:
        pending: The account was never activated (and has not expired yet).
        expires_at: For a pending account, when it expires and may be registered again.
        masked_email: For a pending account, its address with most letters hidden
            (``j***@e***.org``), so the real person can spot a typo and use resend.
    """

    code = "already_registered"
    default_message = msg(
        "You are already registered. Please go to the Provider Login page and log in."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        pending: bool = False,
        expires_at: datetime | None = None,
        masked_email: str | None = None,
    ) -> None:
        self.pending = pending
        self.expires_at = expires_at
        self.masked_email = masked_email
        if message is None and pending and expires_at is not None and masked_email is not None:
            message = msg(
                "This provider has a registration waiting for activation. The activation "
                "email went to {email}; use Resend Activation Email, or register "
                "again after {date}.",
                email=masked_email,
                date=_date_words(expires_at),
            )
        super().__init__(message)


class UsernameUnavailable(RegistrationError):
    """The username, or the email address, is already used by another account.

    Attributes:
        field: ``"username"`` or ``"email"``.
    """

    code = "username_unavailable"
    default_message = msg("That user name is not available. Please choose another.")

    def __init__(self, field: str = "username", message: str | None = None) -> None:
        self.field = field
        if message is None and field == "email":
            message = msg("That email address is already used by another account.")
        super().__init__(message)


class AuthenticationError(IdentityError):
    """A login (or a password check standing in for one) was refused."""

    code = "authentication_error"


class InvalidCredentials(AuthenticationError):
    """Unknown username or wrong password; deliberately the same error."""

    code = "invalid_credentials"
    default_message = msg("The user name or password is incorrect.")


def _locked(wait: str) -> str:
    return msg(
        "Your account is locked due to too many incorrect login attempts. Use the Forgot "
        "password? link to reset your password, or wait {wait} and attempt to log in again.",
        wait=wait,
    )


#: The months, as dates in messages name them.
_MONTHS = (
    msg("January"),
    msg("February"),
    msg("March"),
    msg("April"),
    msg("May"),
    msg("June"),
    msg("July"),
    msg("August"),
    msg("September"),
    msg("October"),
    msg("November"),
    msg("December"),
)


def _date_words(moment: datetime) -> str:
    """``March 5, 2026``: a date as a message states it (translated with the message)."""
    return msg(
        "{month} {day}, {year}", month=_MONTHS[moment.month - 1], day=moment.day, year=moment.year
    )


class AccountLocked(AuthenticationError):
    """Too many incorrect attempts; even the right password is refused.

    Attributes:
        locked_until: Aware UTC datetime at which the lock ends by itself.
    """

    code = "account_locked"
    default_message = _locked(msg_plural("{count} hour", "{count} hours", count=24))

    def __init__(
        self,
        locked_until: datetime,
        message: str | None = None,
        *,
        lock_duration: timedelta | None = None,
    ) -> None:
        """``lock_duration``: the policy's, stated in the default message's "wait ..."."""
        self.locked_until = locked_until
        if message is None and lock_duration is not None:
            message = _locked(_duration_words(lock_duration))
        super().__init__(message)


def _duration_words(duration: timedelta) -> str:
    """``24 hours``, ``15 minutes``, ``7 days``: the largest whole unit (days from two on).

    Seconds are rounded up, so a wait is never understated.
    """
    seconds = max(math.ceil(duration.total_seconds()), 1)
    if seconds % 86_400 == 0 and seconds >= 2 * 86_400:
        return msg_plural("{count} day", "{count} days", count=seconds // 86_400)
    if seconds % 3600 == 0:
        return msg_plural("{count} hour", "{count} hours", count=seconds // 3600)
    if seconds % 60 == 0:
        return msg_plural("{count} minute", "{count} minutes", count=seconds // 60)
    return msg_plural("{count} second", "{count} seconds", count=seconds)


class AccountNotActivated(AuthenticationError):
    """The password is right but the account was never activated."""

    code = "account_not_activated"
    default_message = msg(
        "Your account is not activated yet. Open the email Activate Your Provider Portal "
        "Account and click the Activate Account link."
    )


class InvalidCode(AuthenticationError):
    """The second-factor code (TOTP or recovery code) or passkey answer is wrong.

    Counts toward the login lockout, as a wrong password does.
    """

    code = "invalid_code"
    default_message = msg("The code is incorrect.")


class CodeAlreadyUsed(InvalidCode):
    """The TOTP code was right but its time step was accepted before (a replay)."""

    code = "code_already_used"
    default_message = msg("This code was already used. Wait for the next one and try again.")


class ChallengeExpired(AuthenticationError):
    """The login challenge of the second step is older than its lifetime."""

    code = "login_challenge_expired"
    default_message = msg("Your sign-in took too long. Please log in again.")


class ChallengeInvalid(AuthenticationError):
    """The login challenge is forged or garbled, was used already, or the account changed."""

    code = "login_challenge_invalid"
    default_message = msg("This sign-in cannot be completed. Please log in again.")


class AccountDeactivated(AuthenticationError):
    """The password is right but the account is deactivated; only the help line can help."""

    code = "account_deactivated"
    default_message = msg(
        "Your Provider Portal account is deactivated. Please call the help line to restore it."
    )


class InvalidTransition(IdentityError):
    """The account is not in a state this change applies to (for example, not active)."""

    code = "invalid_transition"
    default_message = msg("The account cannot be changed this way in its present state.")


class TokenError(IdentityError):
    """An activation or reset link cannot be used."""

    code = "token_error"


class TokenExpired(TokenError):
    """The link is older than its purpose's lifetime."""

    code = "token_expired"
    default_message = msg("This link has expired. Please request a new one.")


class TokenInvalid(TokenError):
    """The link is forged, truncated or garbled."""

    code = "token_invalid"
    default_message = msg("This link is not valid.")


class TicketExpired(TokenExpired):
    """The registration ticket of step 1 is older than its lifetime: start again."""

    code = "ticket_expired"
    default_message = msg(
        "Your registration has timed out. Please enter your provider information again."
    )


class TicketInvalid(TokenInvalid):
    """The registration ticket is forged, garbled, or not a registration ticket."""

    code = "ticket_invalid"
    default_message = msg("Please start your registration again from the provider information.")


class TokenWrongPurpose(TokenError):
    """A genuine link, but for another purpose (a reset link used to activate)."""

    code = "token_wrong_purpose"
    default_message = msg("This link cannot be used here.")


class TokenAlreadyUsed(TokenError):
    """The link was already used, or the account changed since it was sent."""

    code = "token_already_used"
    default_message = msg("This link has already been used.")


class SecurityAnswerError(IdentityError):
    """A support-desk check of the security answer failed."""

    code = "security_answer_error"


class SecurityAnswerMismatch(SecurityAnswerError):
    """The answer is wrong.

    Attributes:
        attempts_left: Wrong answers still allowed before the check locks.
    """

    code = "security_answer_mismatch"
    default_message = msg("The security answer does not match.")

    def __init__(self, attempts_left: int, message: str | None = None) -> None:
        self.attempts_left = attempts_left
        super().__init__(message)


class SecurityAnswerLocked(SecurityAnswerError):
    """Too many wrong answers; the check is refused until ``locked_until``."""

    code = "security_answer_locked"
    default_message = msg("Too many incorrect security answers. Please try again later.")

    def __init__(self, locked_until: datetime, message: str | None = None) -> None:
        self.locked_until = locked_until
        super().__init__(message)


class AbuseLimitError(IdentityError):
    """A rate limit or a human check stopped the request before any work was done.

    Attributes:
        limit: Which limit refused (a :class:`~provider_identity.limits.LimitKind` value).
    """

    code = "abuse_limit"

    def __init__(self, limit: str, message: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)


def _too_many(wait: str) -> str:
    return msg("Too many attempts. Please wait {wait} and try again.", wait=wait)


class TooManyAttempts(AbuseLimitError):
    """Too many attempts from one client address or for one key; try again later.

    Attributes:
        limit: Which limit refused.
        retry_after: How long until an attempt may be admitted again, at the
            earliest (for a ``Retry-After`` header, rounded up to seconds).
    """

    code = "too_many_attempts"
    default_message = _too_many(msg("a few minutes"))

    def __init__(self, limit: str, retry_after: timedelta, message: str | None = None) -> None:
        self.retry_after = retry_after
        if message is None:
            message = _too_many(_duration_words(retry_after))
        super().__init__(limit, message)


class HumanCheckRequired(AbuseLimitError):
    """Show the human check (hCaptcha, Turnstile, reCAPTCHA ...) and send its answer back.

    Raised when the check is due (after a number of attempts) and the request
    brought no answer, or one the :class:`~provider_identity.ports.HumanCheck` refused.
    """

    code = "human_check_required"
    default_message = msg("Please complete the check below, then try again.")


class CallerNotVerified(SecurityAnswerError):
    """A support-desk action that needs a verified caller came without one (or too late).

    The agent verifies the caller's security answer first
    (:meth:`~provider_identity.support.SupportDesk.verify_caller`); that opens
    a short window for this agent and this account only.
    """

    code = "caller_not_verified"
    default_message = msg(
        "Verify the caller's security answer first; the verification is valid for a short time."
    )


class SecondFactorError(IdentityError):
    """A second-factor management call (enrol, confirm, remove) was refused."""

    code = "second_factor_error"


class SecondFactorsOff(SecondFactorError):
    """The service's MFA mode is ``"off"``: factors can be neither enrolled nor used."""

    code = "second_factors_off"
    default_message = msg("Two-step verification is not available.")


class FactorNotEnrolled(SecondFactorError):
    """The account has no such factor, or no enrolment waiting for its first code."""

    code = "factor_not_enrolled"
    default_message = msg("This sign-in method is not set up.")


class FactorAlreadyEnrolled(SecondFactorError):
    """The account has this factor already; remove it before enrolling another."""

    code = "factor_already_enrolled"
    default_message = msg("This sign-in method is already set up.")


class FactorRequired(SecondFactorError):
    """The last factor may not be removed: the policy requires one, or the password is too short.

    Attributes:
        reason: ``"policy"`` (MFA is required) or ``"password_too_short"``
            (the password meets only the shorter minimum a second factor allows).
    """

    code = "factor_required"
    default_message = msg("Your account needs a second sign-in method; add another one first.")

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message)


class AccountNotFound(IdentityError):
    """An administrative or authenticated call named an account that does not exist."""

    code = "account_not_found"
    default_message = msg("No such account.")


class ConcurrentUpdate(IdentityError):
    """The account changed between read and write; the write was refused."""

    code = "concurrent_update"
    default_message = msg("The account was changed by another request. Please try again.")

    @classmethod
    def identifiers_changed(cls) -> ConcurrentUpdate:
        """The refusal of a write that would change an account's username, email or provider."""
        return cls("Usernames, emails and providers of an account do not change.")


class MailDeliveryError(IdentityError):
    """A Mailer could not hand the message over.

    Attributes:
        smtp_code: The relay's reply code, when there was one.
    """

    code = "mail_delivery_failed"
    default_message = msg("The message could not be sent.")

    def __init__(self, smtp_code: int | None = None, message: str | None = None) -> None:
        self.smtp_code = smtp_code
        super().__init__(message)


class StoreUnavailable(IdentityError):
    """A store (database, Redis) did not answer: down, unreachable or timed out.

    Raised by the SQL and Redis adapters instead of the driver's error, whose
    text may quote the statement's values; nothing of it is chained. The
    service's flows raise it before they commit anything, or not at all.
    """

    code = "store_unavailable"
    default_message = msg(
        "The service is temporarily unavailable. Please try again in a few minutes."
    )

    @classmethod
    def raise_unchained(cls) -> NoReturn:
        """Raise a new one with no ``__context__``, even inside an ``except`` block.

        ``raise ... from None`` only hides the driver's error: it stays in
        ``__context__``, where a logger or error tracker may still find it.
        """
        error = cls()
        try:
            raise error
        finally:
            error.__context__ = None
