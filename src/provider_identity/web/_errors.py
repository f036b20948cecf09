"""Errors to what a page shows: messages beside fields, a page message, an HTTP status."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

import attrs

from provider_identity.errors import (
    AccountLocked,
    AccountNotActivated,
    AccountNotFound,
    AlreadyRegistered,
    AuthenticationError,
    ConcurrentUpdate,
    ConfigurationError,
    FieldError,
    HumanCheckRequired,
    IdentityError,
    InvalidInput,
    MailDeliveryError,
    ProviderNotFound,
    RegistrationError,
    SecurityAnswerError,
    SecurityAnswerLocked,
    StoreUnavailable,
    TokenAlreadyUsed,
    TokenError,
    TokenExpired,
    TooManyAttempts,
    UsernameUnavailable,
)
from provider_identity.i18n import translate

__all__ = ["DEFAULT_STATUSES", "ErrorMap", "ErrorView", "error_view"]

#: The HTTP status of each error class; a class not listed takes its nearest
#: listed base class's (``IdentityError`` at worst), so a new error class maps
#: through the hierarchy it joins.
DEFAULT_STATUSES: Mapping[type[IdentityError] | str, int] = MappingProxyType(
    {
        IdentityError: 400,
        ConfigurationError: 500,
        InvalidInput: 422,
        RegistrationError: 422,
        AlreadyRegistered: 409,
        UsernameUnavailable: 409,
        AuthenticationError: 401,
        AccountNotActivated: 403,
        AccountLocked: 423,
        TokenError: 400,
        TokenExpired: 410,
        TokenAlreadyUsed: 410,
        SecurityAnswerError: 401,
        SecurityAnswerLocked: 423,
        AccountNotFound: 404,
        ConcurrentUpdate: 409,
        MailDeliveryError: 502,
        StoreUnavailable: 503,
        TooManyAttempts: 429,
        HumanCheckRequired: 400,
    }
)


@attrs.frozen(kw_only=True)
class ErrorView:
    """What a page shows for an :class:`~provider_identity.IdentityError`.

    Attributes:
        status: The HTTP status to answer with.
        code: The error's stable code.
        message: The page-level message (a banner); for errors that belong to
            fields, a summary asking to correct them.
        fields: Field name to the messages to show beside it, in order.
        field_errors: The same problems with their codes and parameters (for a
            translation keyed by code).
        help_lines: ``(line of business, phone number)`` pairs to show, one per
            line ("provider does not exist").
        retry_after: For :class:`~provider_identity.TooManyAttempts`: whole
            seconds (rounded up) until a new attempt may be admitted; else ``None``.
        human_check: The page must show the human check (its answer was due).
    """

    status: int
    code: str
    message: str
    fields: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    field_errors: tuple[FieldError, ...] = ()
    help_lines: tuple[tuple[str, str], ...] = ()
    retry_after: int | None = None
    human_check: bool = False

    @property
    def headers(self) -> dict[str, str]:
        """The response headers the error calls for: ``Retry-After`` for a rate limit."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def field(self, name: str) -> tuple[str, ...]:
        """The messages to show beside field ``name`` (none: an empty tuple)."""
        return self.fields.get(name, ())


def _field_errors(error: IdentityError) -> tuple[FieldError, ...]:
    if isinstance(error, InvalidInput):
        return error.errors
    field = getattr(error, "field", None)  # UsernameUnavailable, and any error naming its field
    if isinstance(field, str) and field:
        return (FieldError(field=field, code=error.code, message=error.message),)
    return ()


@attrs.frozen
class ErrorMap:
    """Maps errors to :class:`ErrorView`; extend it for new error classes or codes.

    Attributes:
        statuses: HTTP status per error class, or per ``code`` (a code wins
            over a class; classes are looked up along the error's MRO).
    """

    statuses: Mapping[type[IdentityError] | str, int] = DEFAULT_STATUSES

    def with_status(self, key: type[IdentityError] | str, status: int) -> ErrorMap:
        """A copy where errors of class (or code) ``key`` answer ``status``."""
        return ErrorMap({**self.statuses, key: status})

    def status(self, error: IdentityError) -> int:
        """The HTTP status for ``error``."""
        if error.code in self.statuses:
            return self.statuses[error.code]
        for cls in type(error).__mro__:
            if cls in self.statuses:
                return self.statuses[cls]
        return 400

    def view(self, error: IdentityError, *, locale: str | None = None) -> ErrorView:
        """The page's view of ``error``: field messages, page message, status.

        ``locale``: the messages' language (see :mod:`provider_identity.i18n`;
        ``None``: the current locale). Wording an application passed in itself
        is shown as it is.
        """
        problems = tuple(
            attrs.evolve(problem, message=translate(problem.message, locale))
            for problem in _field_errors(error)
        )
        fields: dict[str, tuple[str, ...]] = {}
        for problem in problems:
            fields[problem.field] = (*fields.get(problem.field, ()), problem.message)
        message = error.message
        if problems and not isinstance(error, InvalidInput):
            message = InvalidInput.default_message
        return ErrorView(
            status=self.status(error),
            code=error.code,
            message=translate(message, locale),
            fields=fields,
            field_errors=problems,
            help_lines=error.help_lines if isinstance(error, ProviderNotFound) else (),
            retry_after=_seconds(error.retry_after) if isinstance(error, TooManyAttempts) else None,
            human_check=isinstance(error, HumanCheckRequired),
        )


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


_DEFAULT = ErrorMap()


def error_view(error: IdentityError, *, locale: str | None = None) -> ErrorView:
    """:meth:`ErrorMap.view` with the default statuses (in ``locale``, else the current one)."""
    return _DEFAULT.view(error, locale=locale)
