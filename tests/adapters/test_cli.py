"""The database commands of the CLI: init-db, import-roster, unlock, purge-pending, reconcile..."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest

from provider_identity import AccountStatus, IdentityService, TokenIssuer
from provider_identity.adapters.outbox import OutboxMailer
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlLockoutStore,
    SqlOutboxStore,
    SqlProviderDirectory,
    make_engine,
)
from provider_identity.cli import database_url, main
from provider_identity.lockout import LockoutTracker
from provider_identity.testing import (
    InlineDelivery,
    ManualClock,
    RecordingEventSink,
    RecordingMailer,
    cheapest_hasher,
    sample_records,
)
from tests.adapters.conftest import Target
from tests.helpers import KEY, practitioner
from tests.test_cli import refusal
from tests.test_outbox import note

ROSTER = Path(__file__).parents[2] / "examples" / "roster.csv"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "portal.db")


def test_a_plain_path_means_a_sqlite_file() -> None:
    """A bare path names a SQLite file; a URL is used as given."""
    assert database_url("portal.db") == "sqlite:///portal.db"
    assert database_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"


def test_init_db_then_import_the_example_roster_twice(database: str) -> None:
    """A second roster import reports the same rows and rejects; --strict fails on rejects."""
    assert run("init-db", "--database", database)[0] == 0
    first = run("import-roster", str(ROSTER), "--database", database)
    second = run("import-roster", str(ROSTER), "--database", database, "--strict")
    assert first[0] == 0
    assert second[0] == 1  # --strict: some rows were rejected
    assert first[1] == second[1]  # idempotent: the same report, the same rows
    assert "6 records loaded, 5 rows rejected" in first[1]
    assert "line 10: Tax ID must be 9 digits" in first[1]
    directory = SqlProviderDirectory(make_engine(database_url(database)))
    assert len(directory.by_tax_id("317654321")) == 3  # the group and two members


def test_the_demo_against_an_imported_database_tells_the_same_story(database: str) -> None:
    """The demo on SQL tells the in-memory story, and refuses a second run on the same database."""
    run("import-roster", str(ROSTER), "--database", database)
    status, on_sql = run("demo", "--fast", "--database", database)
    _, in_memory = run("demo", "--fast", "--memory")
    assert status == 0
    assert steps(on_sql) == steps(in_memory)
    assert "Done." in on_sql
    again = run("demo", "--fast", "--database", database)
    assert again[0] == 1
    assert "run against this database already" in again[1]


def test_the_demo_needs_the_sample_providers(database: str) -> None:
    """The demo on an empty database fails and says to run import-roster first."""
    run("init-db", "--database", database)
    status, output = run("demo", "--fast", "--database", database)
    assert status == 1
    assert "import-roster" in output


def test_the_default_demo_uses_a_fresh_sqlite_file() -> None:
    """With no store named, the demo runs against a fresh SQLite file."""
    status, output = run("demo", "--fast")
    assert status == 0
    assert "against a fresh SQLite file" in output.splitlines()[0]


def test_unlock_ends_the_lock_of_any_spelling(database: str) -> None:
    """unlock, given any spelling of the username, clears its lock and failure count."""
    engine = make_engine(database_url(database))
    run("init-db", "--database", database)
    tracker = LockoutTracker(store=SqlLockoutStore(engine), clock=ManualClock())
    for _ in range(5):
        tracker.record_failure("jdoe")
    assert tracker.check("jdoe").is_locked
    status, output = run("unlock", "JDoe", "--database", database)
    assert (status, output.strip()) == (0, "jdoe is unlocked (its failure count is zero)")
    assert tracker.check("jdoe").failures == 0


def test_send_mail_reports_what_it_could_not_deliver(database: str) -> None:
    """send-mail to an unreachable relay reports the message as to retry and keeps it queued."""
    engine = make_engine(database_url(database))
    run("init-db", "--database", database)
    OutboxMailer(SqlOutboxStore(engine)).send(note())
    status, output = run(
        "send-mail", "--database", database, "--smtp-host", "127.0.0.1", "--smtp-port", "9",
        "--smtp-security", "none",
    )  # fmt: skip
    assert status == 0
    assert output.strip() == "0 sent, 1 to retry later, 0 given up"
    assert SqlOutboxStore(engine).pending() == 1


def test_commands_without_a_database_say_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database command with no database given exits 2 and says --database is required."""
    monkeypatch.delenv("PROVIDER_IDENTITY_DATABASE", raising=False)
    assert run("init-db")[0] == 2
    assert "--database is required" in capsys.readouterr().err


def test_a_missing_roster_file_is_a_clear_error(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing a roster file that does not exist exits 2 and names the file."""
    assert run("import-roster", "no-such.csv", "--database", database)[0] == 2
    assert "cannot read no-such.csv" in capsys.readouterr().err


def steps(output: str) -> list[str]:
    """The story without its first line (which names the store) and volatile values."""
    return [
        line
        for line in output.splitlines()[1:]
        if "token=" not in line and not line.lstrip().startswith("| Date:")
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:hunter2@db.example/portal", "SQLite and PostgreSQL, not mysql"),
        ("nosuch://x", "SQLite and PostgreSQL, not nosuch"),
        ("postgresql+nosuch://h/db", "postgresql+nosuch"),
        ("://nothing", "not a database URL"),
    ],
)
def test_init_db_refuses_an_unsupported_database_in_one_line(
    url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """mysql://, nosuch://, an unknown driver: one line saying what is supported, no password."""
    [line] = refusal(capsys, "init-db", "--database", url)
    assert expected in line
    assert "hunter2" not in line


def test_an_unreachable_postgresql_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A closed loopback port: "did not answer" and the driver's reason, status 2."""
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/portal?connect_timeout=5"
    [line] = refusal(capsys, "init-db", "--database", url)
    assert "127.0.0.1" in line
    assert "refused" in line.lower()
    assert "hunter2" not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["unlock", "jdoe"],
        ["send-mail", "--smtp-host", "127.0.0.1"],
    ],
)
def test_a_database_without_tables_says_to_run_init_db(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """unlock or send-mail on a file with no tables: one line pointing at init-db."""
    empty = tmp_path / "empty.db"
    empty.touch()
    [line] = refusal(capsys, *argv, "--database", str(empty))
    assert "init-db" in line
    assert "provider-identity tables" in line


@pytest.mark.parametrize("size", ["0", "-5"])
def test_import_roster_refuses_a_batch_size_below_one_before_touching_the_database(
    size: str, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--batch-size 0 or -5: one line naming --batch-size, status 2, no database file made."""
    [line] = refusal(capsys, "import-roster", str(ROSTER), "--database", database,
                     "--batch-size", size)  # fmt: skip
    assert "--batch-size" in line
    assert not Path(database).exists()


def test_a_bad_roster_header_prints_the_header_problem(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header naming wrong columns prints what the header must name, not a generic line."""
    roster = tmp_path / "bad.csv"
    roster.write_bytes(b"provider,tax\nP1,311234567\n")
    [line] = refusal(capsys, "import-roster", str(roster), "--database", database)
    assert line.startswith("provider-identity import-roster: header: The header must name")
    assert "missing: provider_id" in line


def test_import_roster_example_loads_the_roster_shipped_in_the_package(database: str) -> None:
    """--example loads the packaged roster: the report of the checkout's examples/roster.csv."""
    from_file = run("import-roster", str(ROSTER), "--database", database)
    packaged = run("import-roster", "--example", "--database", database)
    assert packaged == from_file
    assert "6 records loaded, 5 rows rejected" in packaged[1]


@pytest.mark.parametrize("argv", [(), (str(ROSTER), "--example")])
def test_import_roster_wants_exactly_one_roster(
    database: str, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither a file nor --example, or both, is one clear line and exit status 2."""
    assert run("import-roster", *argv, "--database", database)[0] == 2
    assert capsys.readouterr().err == (
        "provider-identity import-roster: give either a roster file or --example.\n"
    )


def test_import_roster_prints_plain_progress_lines_when_stderr_is_no_terminal(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Off a terminal the import ends with one plain progress line on stderr, totals included."""
    assert run("import-roster", str(ROSTER), "--database", database)[0] == 0
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("11 rows (6 loaded, 5 rejected), ")
    assert ", done in " in last


EXAMPLES = Path(__file__).parents[2] / "examples"


def test_import_roster_reads_a_plans_roster_through_its_mapping(database: str) -> None:
    """--mapping: the plan's columns, its third line, fixed dirt; the bad row named by column."""
    status, output = run(
        "import-roster", str(EXAMPLES / "plan-roster.csv"),
        "--mapping", str(EXAMPLES / "plan-mapping.toml"), "--database", database,
    )  # fmt: skip
    assert status == 0
    assert output.splitlines() == [
        "line 5: Tax ID is required (Tax ID).",
        "3 records loaded, 1 rows rejected",
    ]
    ann = SqlProviderDirectory(make_engine(database_url(database))).by_provider_id("P5000001")
    assert ann is not None
    assert ann.zip_codes == ("02101", "02110")


def test_import_roster_reads_the_nppes_file_enriching_the_plans_roster(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format nppes --enrich: Jane gains her NPPES practice ZIP; other NPIs are skipped."""
    status, output = run(
        "import-roster", str(EXAMPLES / "npidata-sample.csv"), "--format", "nppes",
        "--enrich", str(ROSTER), "--database", database,
    )  # fmt: skip
    assert (status, output) == (0, "1 records loaded, 0 rows rejected, 2 skipped\n")
    jane = SqlProviderDirectory(make_engine(database_url(database))).by_npi("1234567893")
    assert jane is not None
    assert (jane.provider_id, "43215" in jane.zip_codes) == ("P1000001", True)
    assert "--enrich: 5 rows of roster.csv are rejected" in capsys.readouterr().err


def test_import_roster_reads_the_nppes_file_alone(database: str) -> None:
    """Without --enrich, organizations with an EIN load; individuals and deactivated are skipped."""
    status, output = run(
        "import-roster", str(EXAMPLES / "npidata-sample.csv"), "--format", "nppes",
        "--database", database,
    )  # fmt: skip
    assert (status, output) == (0, "1 records loaded, 0 rows rejected, 2 skipped\n")


def test_import_roster_reads_a_plan_net_bundle(database: str) -> None:
    """--format plan-net with the mapping's networks: Joe Smith lands under Marketplace."""
    status, output = run(
        "import-roster", str(EXAMPLES / "plan-net-bundle.json"), "--format", "plan-net",
        "--mapping", str(EXAMPLES / "plan-mapping.toml"), "--database", database,
    )  # fmt: skip
    assert (status, output) == (0, "3 records loaded, 0 rows rejected, 1 skipped\n")
    joe = SqlProviderDirectory(make_engine(database_url(database))).by_npi("1765432103")
    assert joe is not None
    assert [line.value for line in joe.lines_of_business] == ["Marketplace"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--enrich", "x.csv"], "--enrich goes with --format nppes."),
        (["--example", "--format", "nppes"], "--example is a roster in our own layout"),
        (["--format", "nppes", "--snapshot"], "--snapshot takes the plan's whole roster"),
    ],
)
def test_import_roster_refuses_options_that_do_not_go_together(
    database: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Contradictory options are refused with one line and status 2."""
    file = [] if "--example" in argv else [str(ROSTER)]
    assert run("import-roster", *file, *argv, "--database", database)[0] == 2
    assert message in capsys.readouterr().err


def test_import_roster_refuses_a_broken_mapping_file(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mapping that is not TOML is one line naming the file, status 2."""
    mapping = tmp_path / "plan.toml"
    mapping.write_text("[columns\n")
    argv = ["import-roster", str(ROSTER), "--mapping", str(mapping), "--database", database]
    assert run(*argv)[0] == 2
    assert "plan.toml" in capsys.readouterr().err


def _service_on(database: str) -> IdentityService:
    """A service on the file's stores, its clock at ManualClock's start (months ago)."""
    engine = make_engine(database_url(database))
    clock = ManualClock()
    return IdentityService(
        directory=SqlProviderDirectory(engine),
        accounts=SqlAccountRepository(engine),
        lockouts=SqlLockoutStore(engine),
        mailer=RecordingMailer(),
        events=RecordingEventSink(),
        delivery=InlineDelivery(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=cheapest_hasher(),
    )


def test_purge_pending_deletes_the_expired_and_names_them(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pending account registered months ago goes; a second run deletes nothing."""
    run("import-roster", "--example", "--database", database)
    service = _service_on(database)
    service.register(practitioner())
    status, output = run("purge-pending", "--database", database)
    assert (status, output.splitlines()) == (
        0,
        ["1 expired pending accounts deleted", "  deleted jdoe"],
    )
    assert service.accounts.find_by_username("jdoe") is None
    assert run("purge-pending", "--database", database)[1].startswith("0 expired")
    capsys.readouterr()
    [line] = refusal(capsys, "purge-pending", "--database", database, "--pending-days", "0")
    assert "--pending-days must be at least 1." in line


def test_a_snapshot_import_then_reconcile_deactivates_the_provider_that_left(
    database: str, tmp_path: Path
) -> None:
    """The roster without P1000001 ends it; reconcile deactivates jdoe once, then reports none."""
    run("import-roster", "--example", "--database", database)
    service = _service_on(database)
    service.register(practitioner())
    mailer = service.mailer
    assert isinstance(mailer, RecordingMailer)
    service.activate(mailer.last_token())
    snapshot = tmp_path / "snapshot.csv"
    snapshot.write_text(
        "provider_id,tax_id,name,zip_codes\n"
        + "".join(
            f"{r.provider_id},{r.tax_id},{r.name},{' '.join(r.zip_codes)}\n"
            for r in sample_records()
            if r.provider_id != "P1000001"
        ),
        encoding="utf-8",
    )
    status, output = run("import-roster", str(snapshot), "--snapshot", "--database", database)
    assert status == 0
    assert "snapshot: 1 records ended\n  ended P1000001" in output
    status, output = run("reconcile", "--database", database)
    assert (status, output.splitlines()) == (
        0,
        ["1 accounts deactivated", "  deactivated jdoe", "0 accounts reactivated"],
    )
    assert run("reconcile", "--database", database)[1].startswith("0 accounts deactivated")
    account = service.accounts.find_by_username("jdoe")
    assert account is not None
    assert account.status is AccountStatus.DEACTIVATED


def test_import_roster_into_postgresql_writes_its_batches_in_the_background(
    postgres: Target,
) -> None:
    """On PostgreSQL the batches overlap the reading: the same report, every record stored."""
    url = postgres.database.url
    if postgres.database.schema:
        separator = "&" if "?" in url else "?"
        url += f"{separator}options={quote(f'-csearch_path={postgres.database.schema}')}"
    code, out = run("import-roster", str(ROSTER), "--database", url, "--batch-size", "2")
    assert code == 0
    assert "6 records loaded, 5 rows rejected" in out
    directory = SqlProviderDirectory(postgres.engine)
    assert [r.provider_id for r in directory.by_tax_id("311234567")]
