"""Audit events: who did what, when, with which outcome, from where.

Events carry no secret: no password, security answer, token, hash or full Tax
ID. ``LoggingEventSink`` writes them as one escaped line each; the persisted
trails (``SqlEventSink``, ``MemoryEventLog``) keep them in their
:func:`stored_form` and export them as JSON lines (:func:`to_json_line`).
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TextIO

import attrs

from provider_identity.clock import ensure_utc
from provider_identity.errors import InvalidInput

__all__ = [
    "REDACTED",
    "Action",
    "AuditEvent",
    "EventFilter",
    "LoggingEventSink",
    "from_json_line",
    "stored_form",
    "to_json_line",
    "write_json_lines",
]


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
    REQUEST_USERNAME_REMINDER = "request_username_reminder"
    LOOK_UP_ACCOUNT = "look_up_account"
    VIEW_HISTORY = "view_history"
    CORRECT_PENDING_EMAIL = "correct_pending_email"
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


# Nine digits in a row, or in the 2-7 (EIN) or 3-2-4 (SSN) layout: what a Tax
# ID typed into a user-name field looks like. Longer digit runs are left alone.
_TAX_ID = re.compile(r"(?<!\d)(?:\d{9}|\d{2}-\d{7}|\d{3}-\d{2}-\d{4})(?!\d)", re.ASCII)
_HASH = re.compile(r"\$argon2(?:id|i|d)\$\S*", re.ASCII)
REDACTED = "[redacted]"


def _masked(value: str | None) -> str | None:
    if value is None:
        return None
    value = _HASH.sub(REDACTED, value)
    return _TAX_ID.sub(lambda match: "*****" + match.group(0)[-4:], value)


def stored_form(event: AuditEvent) -> AuditEvent:
    """``event`` as a persisted trail keeps it: no full Tax ID, no password hash.

    The services never put either in an event, but a user may type a Tax ID
    into the user-name field, and a caller's own ``detail`` could hold
    anything. So, in the username, the client address and every detail value,
    a Tax ID (nine digits, ``12-3456789`` or ``123-45-6789``) keeps its last
    4 digits only, and an argon2 hash becomes ``[redacted]``.
    """
    return attrs.evolve(
        event,
        username=_masked(event.username),
        client_address=_masked(event.client_address),
        detail=tuple((key, _masked(value) or "") for key, value in event.detail),
    )


def to_json_line(event: AuditEvent) -> str:
    """One JSON object on one line (no line break inside), keys sorted; ``at`` in ISO 8601."""
    return json.dumps(_plain(event), sort_keys=True, ensure_ascii=False)


def from_json_line(line: str) -> AuditEvent:
    """The event that :func:`to_json_line` wrote.

    Raises:
        ValueError: the line is not such an object.
    """
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("an audit event line is a JSON object")
    return AuditEvent(
        action=Action(data["action"]),
        outcome=data["outcome"],
        at=datetime.fromisoformat(data["at"]),
        username=data["username"],
        account_id=data["account_id"],
        client_address=data["client_address"],
        detail=data["detail"],
    )


def write_json_lines(events: Iterable[AuditEvent], out: TextIO) -> int:
    """Write each event as a JSON line to ``out``; return how many."""
    count = 0
    for event in events:
        out.write(to_json_line(event) + "\n")
        count += 1
    return count


@attrs.frozen(kw_only=True)
class EventFilter:
    """A checked :meth:`~provider_identity.ports.EventLog.query`: what both trails apply."""

    account_id: str | None = None
    username: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    @classmethod
    def of(
        cls,
        *,
        account_id: object = None,
        username: object = None,
        since: object = None,
        until: object = None,
        limit: object = None,
    ) -> EventFilter:
        """The filter, or :class:`~provider_identity.errors.InvalidInput` naming the bad field."""
        for field, value in (("account_id", account_id), ("username", username)):
            if value is not None and (not isinstance(value, str) or len(value) > 1024):
                raise InvalidInput.single(field, "invalid", f"{field} must be text.")
        moments: list[datetime | None] = []
        for field, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise InvalidInput.single(field, "invalid", f"{field} must be an aware datetime.")
            moments.append(None if value is None else ensure_utc(value))
        if limit is not None and (type(limit) is not int or limit < 0):
            raise InvalidInput.single("limit", "invalid", "limit must be a whole number >= 0.")
        return cls(
            account_id=account_id,  # type: ignore[arg-type]  # checked above
            username=username,  # type: ignore[arg-type]  # checked above
            since=moments[0],
            until=moments[1],
            limit=limit,
        )

    def matches(self, event: AuditEvent) -> bool:
        """True if ``event`` passes every filter but the limit."""
        return (
            (self.account_id is None or event.account_id == self.account_id)
            and (self.username is None or event.username == self.username)
            and (self.since is None or event.at >= self.since)
            and (self.until is None or event.at < self.until)
        )
