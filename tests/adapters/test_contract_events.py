"""Every persisted audit trail stores, finds, purges and exports events alike."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import IdentityService, InvalidCredentials, InvalidInput
from provider_identity.adapters.outbox import OutboxMailer
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlEventSink,
    SqlOutboxStore,
    SqlProviderDirectory,
    create_schema,
    metadata,
    transaction,
)
from provider_identity.events import (
    Action,
    AuditEvent,
    from_json_line,
    write_json_lines,
)
from provider_identity.testing import ManualClock, sample_records
from tests.adapters.conftest import Target
from tests.helpers import practitioner

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(minutes: int, **fields: Any) -> AuditEvent:
    """A login event ``minutes`` after T0."""
    values: dict[str, Any] = {
        "action": Action.LOGIN,
        "outcome": "success",
        "at": T0 + timedelta(minutes=minutes),
        "username": "jdoe",
        "account_id": "a1",
    }
    values.update(fields)
    return AuditEvent(**values)


def test_an_event_round_trips_every_field(event_log: Any) -> None:
    """What goes in comes back equal: microseconds, client address and detail included."""
    stored = event(
        0,
        at=T0 + timedelta(microseconds=7),
        client_address="2001:db8::1",
        detail={"provider_id": "P1000001", "by": "agent-7"},
    )
    event_log.emit(stored)
    assert event_log.query() == (stored,)
    assert event_log.query()[0].at.utcoffset() == timedelta(0)


def test_the_query_filters_by_account_username_and_time_window(event_log: Any) -> None:
    """Each filter narrows, they combine, since is inclusive and until exclusive."""
    events = [
        event(0),
        event(1, username="rpatel", account_id="a2"),
        event(2, username="nobody", account_id=None, outcome="invalid_credentials"),
        event(3),
    ]
    for each in reversed(events):  # stored out of order, returned by time
        event_log.emit(each)
    assert event_log.query() == tuple(events)
    assert event_log.query(account_id="a1") == (events[0], events[3])
    assert event_log.query(username="nobody") == (events[2],)
    assert event_log.query(since=T0 + timedelta(minutes=1)) == tuple(events[1:])
    assert event_log.query(until=T0 + timedelta(minutes=1)) == (events[0],)
    window = {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=3)}
    assert event_log.query(**window) == (events[1], events[2])
    assert event_log.query(account_id="a1", **window) == ()
    assert event_log.query(account_id="a1", username="rpatel") == ()


def test_a_limit_keeps_the_newest_events_oldest_first(event_log: Any) -> None:
    """limit=2 of four events: the last two, in time order; limit=0: none."""
    events = [event(n) for n in range(4)]
    for each in events:
        event_log.emit(each)
    assert event_log.query(limit=2) == tuple(events[2:])
    assert event_log.query(limit=0) == ()
    assert event_log.query(limit=10) == tuple(events)


def test_events_at_the_same_moment_keep_their_order(event_log: Any) -> None:
    """Two decisions in the same microsecond come back in the order they were made."""
    first, second = event(0, outcome="first"), event(0, outcome="second")
    event_log.emit(first)
    event_log.emit(second)
    assert [e.outcome for e in event_log.query()] == ["first", "second"]
    assert [e.outcome for e in event_log.query(limit=1)] == ["second"]


def test_purge_deletes_only_what_is_older_than_the_cutoff(event_log: Any) -> None:
    """Retention: events before the cutoff go, the one at it stays; a second purge deletes none."""
    for minutes in (0, 1, 2):
        event_log.emit(event(minutes))
    assert event_log.purge(before=T0 + timedelta(minutes=1)) == 1
    assert [e.at for e in event_log.query()] == [T0 + timedelta(minutes=n) for n in (1, 2)]
    assert event_log.purge(before=T0 + timedelta(minutes=1)) == 0


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"account_id": 7}, "account_id"),
        ({"username": b"jdoe"}, "username"),
        ({"username": "x" * 5000}, "username"),
        ({"since": datetime(2026, 3, 1)}, "since"),  # naive on purpose
        ({"until": "2026-03-01"}, "until"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 2.5}, "limit"),
    ],
)
def test_a_bad_filter_is_refused_and_changes_nothing(
    event_log: Any, filters: dict[str, Any], field: str
) -> None:
    """A typed InvalidInput naming the filter; the stored events stay as they were."""
    event_log.emit(event(0))
    with pytest.raises(InvalidInput) as refused:
        event_log.query(**filters)
    assert refused.value.fields == {field}
    assert len(event_log.query()) == 1


def test_a_tax_id_typed_as_a_username_is_stored_masked(event_log: Any) -> None:
    """A full Tax ID in any free-text field keeps its last 4 digits; a hash is redacted."""
    event_log.emit(
        event(
            0,
            username="311234567",
            client_address="31-1234567",
            detail={"note": "ssn 123-45-6789", "hash": "$argon2id$v=19$m=1,t=1,p=1$abc$def"},
        )
    )
    [stored] = event_log.query()
    assert stored.username == "*****4567"
    assert stored.client_address == "*****4567"
    assert dict(stored.detail) == {"note": "ssn *****6789", "hash": "[redacted]"}


def test_the_json_lines_export_reads_back_equal(event_log: Any) -> None:
    """One JSON object per line, each parsing back to the stored event."""
    events = [event(0, detail={"k": "line\nbreak"}), event(1, username=None, account_id=None)]
    for each in events:
        event_log.emit(each)
    out = io.StringIO()
    assert write_json_lines(event_log.query(), out) == 2
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert [from_json_line(line) for line in lines] == events


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8),
    cut=st.integers(min_value=0, max_value=60),
)
def test_any_window_returns_exactly_the_events_inside_it(
    event_log: Any, offsets: list[int], cut: int
) -> None:
    """For any events and cutoff: since=cut gets those at or after, until=cut the rest."""
    event_log.purge(before=T0 + timedelta(days=1))
    for n, offset in enumerate(offsets):
        event_log.emit(event(offset, outcome=f"e{n}"))
    moment = T0 + timedelta(minutes=cut)
    after = event_log.query(since=moment)
    before = event_log.query(until=moment)
    assert sorted(e.outcome for e in (*before, *after)) == sorted(
        f"e{n}" for n in range(len(offsets))
    )
    assert all(e.at >= moment for e in after)
    assert all(e.at < moment for e in before)


# -- SQL only: the caller's transaction, a database that refuses ---------------------------


def test_bound_to_a_connection_the_event_commits_with_the_change(
    sql: Target, make_service: Callable[..., IdentityService], clock: ManualClock
) -> None:
    """In a unit of work the account and its register event commit, or roll back, together."""
    SqlProviderDirectory(sql.engine).upsert(sample_records())

    class Crash(Exception):
        """The request dies before the commit."""

    def register_then_crash() -> None:
        with transaction(sql.engine) as connection:
            make_service(
                accounts=SqlAccountRepository(connection),
                mailer=OutboxMailer(SqlOutboxStore(connection), clock),
                events=SqlEventSink(connection),
            ).register(practitioner())
            raise Crash

    with pytest.raises(Crash):
        register_then_crash()
    assert SqlEventSink(sql.engine).query() == ()
    with transaction(sql.engine) as connection:
        make_service(
            accounts=SqlAccountRepository(connection),
            mailer=OutboxMailer(SqlOutboxStore(connection), clock),
            events=SqlEventSink(connection),
        ).register(practitioner())
    [stored] = SqlEventSink(sql.engine).query()
    assert (stored.action, stored.outcome, stored.username) == (Action.REGISTER, "success", "jdoe")


def test_bound_to_the_engine_every_refusal_is_kept(
    sql: Target, make_service: Callable[..., IdentityService]
) -> None:
    """Each event is its own transaction: a refused login is recorded though the call raised."""
    sink = SqlEventSink(sql.engine)
    with pytest.raises(InvalidCredentials):
        make_service(events=sink).login("nobody", "Wrong-Password-1", client_address="192.0.2.1")
    [stored] = sink.query(username="nobody")
    assert (stored.action, stored.outcome, stored.client_address) == (
        Action.LOGIN,
        "invalid_credentials",
        "192.0.2.1",
    )


def test_a_database_that_refuses_the_event_never_fails_the_request(
    sql: Target, caplog: pytest.LogCaptureFixture
) -> None:
    """Without its table the sink logs the event at WARNING instead, and emit returns."""
    metadata.tables["identity_events"].drop(sql.engine)
    try:
        with caplog.at_level(logging.WARNING):
            SqlEventSink(sql.engine).emit(event(0, username="311234567"))
        assert "action=login" in caplog.text
        assert "username=*****4567" in caplog.text  # the fallback gets the stored form
        assert "311234567" not in caplog.text
    finally:
        create_schema(sql.engine)
