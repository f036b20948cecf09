"""The audit trail's commands: purge-events (retention) and export-events (JSON lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provider_identity.adapters.sql import SqlEventSink, create_schema, make_engine
from provider_identity.cli import database_url
from provider_identity.events import Action, AuditEvent, from_json_line
from tests.adapters.test_cli import run
from tests.test_cli import refusal


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite file with the tables, and three events: 40 and 10 days old, and now."""
    path = str(tmp_path / "portal.db")
    engine = make_engine(database_url(path))
    create_schema(engine)
    sink = SqlEventSink(engine)
    now = datetime.now(UTC)
    for days, username, account in ((40, "jdoe", "a1"), (10, "rpatel", "a2"), (0, "jdoe", "a1")):
        sink.emit(
            AuditEvent(
                action=Action.LOGIN,
                outcome="success",
                at=now - timedelta(days=days),
                username=username,
                account_id=account,
            )
        )
    engine.dispose()
    return path


def stored(database: str) -> list[str | None]:
    return [e.username for e in SqlEventSink(make_engine(database_url(database))).query()]


def test_purge_events_deletes_what_is_older_than_the_days_given(database: str) -> None:
    """--older-than 30 deletes the 40-day-old event only, and says how many."""
    status, output = run("purge-events", "--older-than", "30", "--database", database)
    assert status == 0
    assert output.startswith("1 audit events older than ")
    assert stored(database) == ["rpatel", "jdoe"]
    assert run("purge-events", "--older-than", "30", "--database", database)[1].startswith("0 ")


@pytest.mark.parametrize("days", ["0", "-5"])
def test_purge_events_refuses_less_than_a_day_and_deletes_nothing(
    database: str, days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--older-than 0 would delete the whole trail: refused in one line, nothing deleted."""
    [line] = refusal(capsys, "purge-events", "--older-than", days, "--database", database)
    assert "at least 1" in line
    assert len(stored(database)) == 3


def test_export_events_writes_one_json_line_per_event_oldest_first(database: str) -> None:
    """Every line parses back to an event; the order is by time."""
    status, output = run("export-events", "--database", database)
    events = [from_json_line(line) for line in output.splitlines()]
    assert status == 0
    assert [e.username for e in events] == ["jdoe", "rpatel", "jdoe"]
    assert all(json.loads(line)["action"] == "login" for line in output.splitlines())


def test_export_events_filters_by_account_username_and_window(database: str) -> None:
    """--account, --username (any spelling), --since and --until narrow the export."""
    since = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
    by_account = run("export-events", "--database", database, "--account", "a2")[1]
    by_name = run("export-events", "--database", database, "--username", " JDoe ")[1]
    recent = run("export-events", "--database", database, "--since", since)[1]
    old = run("export-events", "--database", database, "--until", since)[1]
    assert [from_json_line(line).username for line in by_account.splitlines()] == ["rpatel"]
    assert len(by_name.splitlines()) == 2
    assert [from_json_line(line).username for line in recent.splitlines()] == ["rpatel", "jdoe"]
    assert len(old.splitlines()) == 1


def test_export_events_refuses_a_date_that_is_not_iso_8601(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --since is one clear line, before the database is opened."""
    [line] = refusal(capsys, "export-events", "--database", database, "--since", "last week")
    assert "ISO 8601" in line
