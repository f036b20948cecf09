"""Audit events: who did what, when, with which outcome, from where.

Events carry no secret: no password, security answer, token, hash or full Tax
ID. ``LoggingEventSink`` writes them as one escaped line each.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from datetime import datetime

import attrs

from provider_identity.clock import ensure_utc

__all__ = ["Action", "AuditEvent", "LoggingEventSink"]


class Action(enum.StrEnum):
    """What an audit event is about."""

    REGISTER = "register"
    ACTIVATE = "activate"
    RESEND_ACTIVATION = "resend_activation"
    LOGIN = "login"
    REQUEST_PASSWORD_RESET = "request_password_reset"
    RESET_PASSWORD = "reset_password"
    CHANGE_PASSWORD = "change_password"
    VERIFY_SECURITY_ANSWER = "verify_security_answer"
    UNLOCK = "unlock"
    COMPLETE_LOGIN = "complete_login"
    BEGIN_TOTP_ENROLMENT = "begin_totp_enrolment"
    CONFIRM_TOTP = "confirm_totp"
    BEGIN_PASSKEY_REGISTRATION = "begin_passkey_registration"
    FINISH_PASSKEY_REGISTRATION = "finish_passkey_registration"
    REGENERATE_RECOVERY_CODES = "regenerate_recovery_codes"
    REMOVE_FACTOR = "remove_factor"
    RESET_FACTORS = "reset_factors"
    REQUEST_EMAIL_CHANGE = "request_email_change"
    CONFIRM_EMAIL_CHANGE = "confirm_email_change"
    CHANGE_SECURITY_ANSWER = "change_security_answer"
    ACCEPT_AGREEMENT = "accept_agreement"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    PURGE_PENDING = "purge_pending"


def _detail(value: Mapping[str, str] | tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(key), str(item)) for key, item in items))


@attrs.frozen(kw_only=True)
class AuditEvent:
    """One audit record.

    Attributes:
        action: What was attempted.
        outcome: ``"success"`` or the stable code of the error that ended it.
        at: Aware UTC time of the decision.
        username: The canonical username the request named, if any.
        account_id: The account concerned, when one exists.
        client_address: The client address the caller passed, as given.
        detail: Extra non-secret facts, as sorted ``(key, value)`` pairs.
    """

    action: Action
    outcome: str
    at: datetime = attrs.field(converter=ensure_utc)
    username: str | None = None
    account_id: str | None = None
    client_address: str | None = None
    detail: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_detail)


# Escaped besides the unprintable: what could end a value or start a new field.
_SEPARATORS = frozenset(" =\"'\\")


def _escape(value: object) -> str:
    return "".join(
        char if char.isprintable() and char not in _SEPARATORS else f"\\x{ord(char):02x}"
        for char in str(value)
    )


@attrs.frozen(kw_only=True)
class LoggingEventSink:
    """Writes each event as one ``key=value`` line to a stdlib logger.

    Every value is escaped: CR, LF, other unprintable characters, spaces,
    ``=``, quotes and backslashes become ``\\xNN``, so a crafted username or
    client address can neither forge a log line nor add a field to one. For
    structured handlers (structlog's ``ProcessorFormatter``, a JSON formatter)
    the event is also attached as ``record.audit``: a dict of plain values
    (text or ``None``, ``detail`` a dict of text) that ``json.dumps`` takes as is.
    """

    logger: logging.Logger = attrs.field(
        factory=lambda: logging.getLogger("provider_identity.audit")
    )
    level: int = logging.INFO

    def emit(self, event: AuditEvent) -> None:
        """Log ``event`` on one line."""
        fields = [
            ("action", event.action.value),
            ("outcome", event.outcome),
            ("at", event.at.isoformat()),
            ("username", event.username),
            ("account", event.account_id),
            ("client", event.client_address),
            *event.detail,
        ]
        line = " ".join(f"{key}={_escape(value)}" for key, value in fields if value is not None)
        self.logger.log(self.level, "%s", line, extra={"audit": _plain(event)})


def _plain(event: AuditEvent) -> dict[str, object]:
    return {
        "action": event.action.value,
        "outcome": event.outcome,
        "at": event.at.isoformat(),
        "username": event.username,
        "account_id": event.account_id,
        "client_address": event.client_address,
        "detail": dict(event.detail),
    }
