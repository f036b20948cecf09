"""Audit events: one per decision, in UTC, escaped in logs, and never holding a secret."""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from provider_identity import (
    AccountLocked,
    Action,
    AuditEvent,
    DetailsMismatch,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    LoggingEventSink,
    ProviderNotFound,
)
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    RecordingEventSink,
    RecordingMailer,
)
from tests.helpers import PASSWORD, practitioner

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CLIENT = "203.0.113.7"
NEW_PASSWORD = "Green-Kestrel-2032"
WRONG_PASSWORD = "Wrong-Password-1"
ANSWER = "Marmaduke the Third"


class Lines(logging.Handler):
    """Keeps each formatted record, and the records themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def log() -> Lines:
    return Lines()


@pytest.fixture
def sink(log: Lines) -> LoggingEventSink:
    logger = logging.Logger("test-audit", logging.DEBUG)
    logger.addHandler(log)
    return LoggingEventSink(logger=logger)


def event(**changes: object) -> AuditEvent:
    fields: dict[str, object] = {"action": Action.LOGIN, "outcome": "success", "at": AT}
    return AuditEvent(**{**fields, **changes})  # type: ignore[arg-type]  # mixed field values


# -- the event itself ------------------------------------------------------------------


def test_event_fields_and_defaults() -> None:
    """Who, what, when, outcome, from where; detail is sorted pairs; the event is frozen."""
    audit = event(
        username="jdoe", account_id="a1", client_address=CLIENT, detail={"z": "1", "a": "2"}
    )
    assert (audit.action, audit.outcome, audit.at, audit.username) == (
        Action.LOGIN,
        "success",
        AT,
        "jdoe",
    )
    assert (audit.account_id, audit.client_address) == ("a1", CLIENT)
    assert audit.detail == (("a", "2"), ("z", "1"))
    assert event().detail == ()
    assert event().username is event().account_id is event().client_address is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        audit.outcome = "forged"  # type: ignore[misc]  # frozen on purpose


def test_event_time_is_always_utc() -> None:
    """An event's time is aware UTC: other zones are converted, naive times refused."""
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    assert event(at=local).at.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        event(at=AT.replace(tzinfo=None))


def test_service_events_are_stamped_with_the_clocks_utc_time(
    service: IdentityService, events: RecordingEventSink, clock: ManualClock
) -> None:
    """Events carry the clock's time in UTC, even when the clock was set in another zone."""
    clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))))
    service.request_password_reset("nobody")
    [audit] = events
    assert audit.at == clock.now()
    assert audit.at.utcoffset() == timedelta(0)
    assert audit.at.hour == 6


# -- logging ---------------------------------------------------------------------------


def test_logging_sink_writes_one_key_value_line(sink: LoggingEventSink, log: Lines) -> None:
    """action, outcome, UTC time, username, account, client and detail, on one line."""
    audit = event(username="jdoe", account_id="a1", client_address=CLIENT, detail={"k": "v"})
    sink.emit(audit)
    assert log.lines == [
        "action=login outcome=success at=2026-01-05T09:00:00+00:00 "
        f"username=jdoe account=a1 client={CLIENT} k=v"
    ]
    [record] = log.records
    assert record.levelno == logging.INFO
    assert record.audit == {  # type: ignore[attr-defined]  # set via extra=
        "action": "login",
        "outcome": "success",
        "at": "2026-01-05T09:00:00+00:00",
        "username": "jdoe",
        "account_id": "a1",
        "client_address": CLIENT,
        "detail": {"k": "v"},
    }


def test_logging_sink_extra_renders_as_json(sink: LoggingEventSink, log: Lines) -> None:
    """The values attached for structured handlers are plain: json.dumps takes them as they are."""
    sink.emit(event(detail={"provider_id": "P1"}))
    [record] = log.records
    rendered = json.loads(json.dumps(record.audit))  # type: ignore[attr-defined]
    assert rendered["action"] == "login"
    assert rendered["detail"] == {"provider_id": "P1"}
    assert rendered["username"] is None


def test_logging_sink_level_is_configurable(log: Lines) -> None:
    """Audit lines can go out at another level."""
    logger = logging.Logger("test-audit-level", logging.DEBUG)
    logger.addHandler(log)
    LoggingEventSink(logger=logger, level=logging.WARNING).emit(event())
    assert [record.levelno for record in log.records] == [logging.WARNING]


@pytest.mark.parametrize(
    "breaker", ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x1b[2K", "\x00"]
)
@pytest.mark.parametrize("field", ["username", "client_address", "outcome", "detail"])
def test_logged_values_cannot_start_a_new_line(
    sink: LoggingEventSink, log: Lines, field: str, breaker: str
) -> None:
    """CR, LF and every other line break or control character is escaped as \\xNN."""
    forged = f"jdoe{breaker}action=login outcome=success"
    value: object = {"note": forged} if field == "detail" else forged
    sink.emit(event(**{field: value}))
    [line] = log.lines
    assert line.splitlines() == [line]
    assert breaker not in line
    assert f"jdoe\\x{ord(breaker[0]):02x}" in line


@pytest.mark.parametrize("field", ["username", "client_address"])
def test_logged_values_cannot_forge_another_field(
    sink: LoggingEventSink, log: Lines, field: str
) -> None:
    """A value with a space and '=' stays one field: a reader finds a single outcome."""
    sink.emit(event(outcome="invalid_credentials", **{field: "1.2.3.4 outcome=success"}))
    [line] = log.lines
    outcomes = [token for token in shlex.split(line) if token.startswith("outcome=")]
    assert outcomes == ["outcome=invalid_credentials"]


# -- one event per decision in the service flows ---------------------------------------


def test_each_step_of_the_seeds_flows_emits_one_event(
    service: IdentityService,
    events: RecordingEventSink,
    mailer: RecordingMailer,
    accounts: MemoryAccountRepository,
) -> None:
    """register, activate, login (success, failures, locked), forgot and reset: one event each."""
    account_id = service.register(practitioner(), client_address=CLIENT).account.id
    service.activate(mailer.last_token(), client_address=CLIENT)
    service.login("jdoe", PASSWORD, client_address=CLIENT)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.login("JDoe", WRONG_PASSWORD, client_address=CLIENT)
    for _ in range(2):
        with pytest.raises(AccountLocked):
            service.login("jdoe", WRONG_PASSWORD, client_address=CLIENT)
    service.request_password_reset("jdoe", client_address=CLIENT)
    service.reset_password(mailer.last_token(), NEW_PASSWORD, client_address=CLIENT)
    service.login("jdoe", NEW_PASSWORD, client_address=CLIENT)
    assert events.outcomes() == [
        ("register", "success"),
        ("activate", "success"),
        ("login", "success"),
        *[("login", "invalid_credentials")] * 4,
        *[("login", "account_locked")] * 2,
        ("request_password_reset", "success"),
        ("reset_password", "success"),
        ("login", "success"),
    ]
    assert {(e.username, e.account_id, e.client_address) for e in events} == {
        ("jdoe", account_id, CLIENT)
    }
    locked = [e for e in events if e.outcome == "account_locked"]
    assert all(dict(e.detail)["locked_until"] for e in locked)
    assert dict(events.events[0].detail) == {
        "provider_type": "practitioner",
        "provider_id": "P1000001",
    }
    assert len(accounts) == 1


@pytest.mark.parametrize(
    ("changes", "error", "outcome"),
    [
        ({"provider_id": "P9999999"}, ProviderNotFound, "provider_not_found"),
        ({"tax_id": "31-1234568"}, DetailsMismatch, "details_mismatch"),
        ({"zip_code": "4540"}, InvalidInput, "invalid_input"),
    ],
)
def test_refused_registrations_emit_their_outcome_code(
    service: IdentityService,
    events: RecordingEventSink,
    changes: dict[str, str],
    error: type[Exception],
    outcome: str,
) -> None:
    """A refused registration still emits exactly one event, with the error's code."""
    with pytest.raises(error):
        service.register(practitioner(**changes))
    assert events.outcomes() == [("register", outcome)]


def test_unknown_usernames_are_audited_not_answered(
    service: IdentityService, events: RecordingEventSink
) -> None:
    """Forgot password and login for an unknown name record what happened, with no account."""
    service.request_password_reset("nobody", client_address=CLIENT)
    with pytest.raises(InvalidCredentials):
        service.login("nobody", PASSWORD)
    assert events.outcomes() == [
        ("request_password_reset", "unknown_user"),
        ("login", "invalid_credentials"),
    ]
    assert [e.account_id for e in events] == [None, None]


@pytest.mark.usefixtures("active_account")
def test_read_only_calls_emit_nothing(
    service: IdentityService, events: RecordingEventSink, accounts: MemoryAccountRepository
) -> None:
    """Listing providers, lockout status and session checks decide nothing, so emit nothing."""
    events.events.clear()
    [account] = accounts
    service.accessible_providers(account.id)
    service.lockout_status("jdoe")
    service.is_session_current(account.id, account.credential_version)
    assert events.events == []


# -- no secret in any event ------------------------------------------------------------


def test_events_and_audit_log_never_hold_a_secret(
    make_service: Callable[..., IdentityService],
    events: RecordingEventSink,
    mailer: RecordingMailer,
    accounts: MemoryAccountRepository,
    sink: LoggingEventSink,
    log: Lines,
) -> None:
    """No password (right, wrong or new), answer, token, hash or full Tax ID in events or logs."""
    service = make_service()
    with pytest.raises(DetailsMismatch):
        service.register(practitioner(tax_id="31-1234568", security_answer=ANSWER))
    service.register(practitioner(security_answer=ANSWER))
    tokens = [mailer.last_token()]
    service.activate(tokens[-1])
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", WRONG_PASSWORD)
    with pytest.raises(InvalidCredentials):
        service.login("nobody", PASSWORD)
    service.request_password_reset("jdoe")
    tokens.append(mailer.last_token())
    service.reset_password(tokens[-1], NEW_PASSWORD)
    service.login("jdoe", NEW_PASSWORD)
    service.verify_security_answer("jdoe", ANSWER)
    [account] = accounts
    for audit in events:
        sink.emit(audit)
    dumped = f"{events.events!r}\n" + "\n".join(log.lines)
    secrets = {
        PASSWORD,
        NEW_PASSWORD,
        WRONG_PASSWORD,
        ANSWER,
        ANSWER.casefold(),
        account.password_hash,
        account.security_answer_hash,
        *account.password_history,
        *tokens,
        "311234567",
        "31-1234567",
        "311234568",
        "31-1234568",
    }
    assert [secret for secret in secrets if secret in dumped] == []
    assert len(events.events) == 9
