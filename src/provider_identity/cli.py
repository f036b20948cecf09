"""The ``provider-identity`` command.

    demo            walk through every seed flow (SQLite by default)
    check-password  list every rule a password breaks
    init-db         create the tables
    import-roster   load provider records: a CSV roster (ours or mapped), NPPES, Plan-Net
    unlock          end a user's login lock
    purge-pending   delete pending accounts never activated within their lifetime
    reconcile       deactivate accounts whose provider left the directory (and back)
    send-mail       drain the outbox through an SMTP relay (--watch: keep draining)
    purge-events    delete audit events older than a number of days
    export-events   write the audit trail as JSON lines

Commands that take ``--database`` accept an SQLAlchemy URL
(``postgresql+psycopg://...``, ``sqlite:///file.db``) or a plain file path,
which means SQLite. They need the ``sql`` extra (``postgres`` for PostgreSQL).
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import importlib.util
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from provider_identity._demo import DemoStores, memory_stores, run_demo
from provider_identity.accounts import canonical_username
from provider_identity.adapters.outbox import DispatchReport, FileOutboxMailer
from provider_identity.adapters.smtp import SmtpMailer, SmtpSecurity
from provider_identity.errors import IdentityError, InvalidInput, MailDeliveryError
from provider_identity.events import Action, AuditEvent, LoggingEventSink, write_json_lines
from provider_identity.passwords import NIST_POLICY, SEED_POLICY, PasswordHasher
from provider_identity.ports import Mailer
from provider_identity.progress import RichProgress, progress_display
from provider_identity.providers import ProviderRecord
from provider_identity.roster import DEFAULT_BATCH_SIZE, EXAMPLE_ROSTER, RejectedRow, SkippedRow
from provider_identity.service import IdentityService
from provider_identity.sources.mapping import RosterMapping, load_mapping
from provider_identity.testing import cheapest_hasher, sample_records
from provider_identity.tokens import TokenIssuer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["main"]

#: Where ``--database`` is read from when the option is not given.
DATABASE_VARIABLE = "PROVIDER_IDENTITY_DATABASE"
#: Where ``send-mail`` reads the relay's password from (never a command-line option).
SMTP_PASSWORD_VARIABLE = "PROVIDER_IDENTITY_SMTP_PASSWORD"
#: What installs the SQL adapters.
SQL_EXTRA = "pip install 'provider-identity[sql]'"


class CommandError(Exception):
    """A command cannot run; the message says why and what to do."""


# -- databases ---------------------------------------------------------------------------


def database_url(value: str) -> str:
    """An SQLAlchemy URL; a plain path means an SQLite file."""
    return value if "://" in value else f"sqlite:///{Path(value).expanduser()}"


def _require_sql() -> None:
    """Refuse, saying which ``pip install`` fixes it, if the ``sql`` extra is missing."""
    try:
        importlib.import_module("provider_identity.adapters.sql")
    except ImportError:
        raise CommandError(
            f"this command needs SQLAlchemy: {SQL_EXTRA} "
            "(or 'provider-identity[postgres]' for PostgreSQL)."
        ) from None


def _engine(value: str | None) -> Engine:
    value = value or os.environ.get(DATABASE_VARIABLE)
    if not value:
        raise CommandError(f"--database is required (or set {DATABASE_VARIABLE}).")
    _require_sql()
    import sqlalchemy as sa

    from provider_identity.adapters.sql import make_engine

    # Never echo ``value``: a URL may hold a password.
    try:
        url = sa.make_url(database_url(value))
    except sa.exc.ArgumentError:
        raise CommandError(
            "--database is not a database URL (postgresql+psycopg://... or sqlite:///...) "
            "nor a file path."
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise CommandError(f"the SQL adapters support SQLite and PostgreSQL, not {backend}.")
    try:
        return make_engine(url)
    except sa.exc.NoSuchModuleError:
        raise CommandError(
            f"there is no database driver {url.drivername}; use postgresql+psycopg:// "
            "or sqlite:///."
        ) from None
    except ImportError:
        raise CommandError(
            f"the driver of {url.drivername} is not installed; PostgreSQL needs "
            "postgresql+psycopg:// and pip install 'provider-identity[postgres]'."
        ) from None


def _require_schema(engine: Engine) -> None:
    """Refuse a database that lacks the tables, pointing at ``init-db``."""
    import sqlalchemy as sa

    from provider_identity.adapters.sql import metadata

    missing = sorted(set(metadata.tables) - set(sa.inspect(engine).get_table_names()))
    if missing:
        tables = "tables" if len(missing) == len(metadata.tables) else "table " + ", ".join(missing)
        raise CommandError(
            f"the database has no provider-identity {tables}: run "
            "provider-identity init-db --database ... first."
        )


def _database_error(err: Exception) -> str | None:
    """One line for an SQLAlchemy error (the driver's first line), or None for any other error."""
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is None or not isinstance(err, exc.SQLAlchemyError):
        return None
    orig = getattr(err, "orig", None)  # the driver's error, without the SQL or parameters
    reason = str(orig if orig is not None else err).strip().splitlines()
    return "the database refused or did not answer: " + (
        reason[0] if reason else type(err).__name__
    )


def _sql_stores(engine: Engine, description: str) -> DemoStores:
    from provider_identity.adapters.sql import (
        SqlAccountRepository,
        SqlFactorStore,
        SqlLockoutStore,
        SqlProviderDirectory,
        create_schema,
    )

    create_schema(engine)
    return DemoStores(
        directory=SqlProviderDirectory(engine),
        accounts=SqlAccountRepository(engine),
        lockouts=SqlLockoutStore(engine),
        description=description,
        factors=SqlFactorStore(engine),
    )


# -- commands ----------------------------------------------------------------------------


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    hasher = cheapest_hasher() if args.fast else PasswordHasher()
    mailer = _demo_mailer(args)
    if args.memory:
        return run_demo(out, hasher=hasher, stores=memory_stores(), mailer=mailer)
    if args.database:
        engine = _engine(args.database)
        stores = _sql_stores(engine, f"the database {engine.url.render_as_string()}")
        return run_demo(out, hasher=hasher, stores=stores, mailer=mailer)
    if importlib.util.find_spec("sqlalchemy") is None:
        print("(SQLAlchemy is not installed: the demo uses the in-memory adapters;", file=out)
        print(f" {SQL_EXTRA} to run it on SQLite.)", file=out)
        return run_demo(out, hasher=hasher, stores=memory_stores(), mailer=mailer)
    with tempfile.TemporaryDirectory(prefix="provider-identity-demo-") as folder:
        engine = _engine(str(Path(folder) / "demo.sqlite3"))
        try:
            stores = _sql_stores(engine, "a fresh SQLite file (deleted afterwards)")
            stores.directory.upsert(sample_records())
            return run_demo(out, hasher=hasher, stores=stores, mailer=mailer)
        finally:
            engine.dispose()


def _demo_mailer(args: argparse.Namespace) -> Mailer | None:
    if args.outbox:
        return FileOutboxMailer(args.outbox)
    if args.smtp:
        host, _, port = args.smtp.rpartition(":")
        if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise CommandError(
                "--smtp must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:1025."
            )
        return SmtpMailer(
            host=host.strip("[]") or "127.0.0.1",
            port=int(port),
            security=SmtpSecurity.NONE,
            retries=0,
        )
    return None


def _check_password(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    policy = NIST_POLICY if args.preset == "nist" else SEED_POLICY
    if stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    violations = policy.check(password, username=args.username, email=args.email)
    if not violations:
        print("ok: the password meets every requirement", file=out)
        return 0
    for violation in violations:
        print(f"{violation.code}: {violation.message}", file=out)
    return 1


def _init_db(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args.database)
    from provider_identity.adapters.sql import create_schema

    create_schema(engine)
    print(f"tables ready in {engine.url.render_as_string()}", file=out)
    return 0


def _import_roster(args: argparse.Namespace, out: TextIO) -> int:
    if (args.file is None) == (not args.example):
        raise CommandError("give either a roster file or --example.")
    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1.")
    if args.enrich and args.format != "nppes":
        raise CommandError("--enrich goes with --format nppes.")
    if args.snapshot and args.format != "csv":
        raise CommandError(
            "--snapshot takes the plan's whole roster (csv): NPPES and Plan-Net are not "
            "the plan's directory."
        )
    if args.example and (args.format != "csv" or args.mapping):
        raise CommandError("--example is a roster in our own layout: no --format or --mapping.")
    mapping = _mapping(args.mapping)
    enrich = _enrichment(Path(args.enrich), mapping) if args.enrich else None
    engine = _engine(args.database)
    try:
        from provider_identity.adapters.sql import SqlProviderDirectory, create_schema
        from provider_identity.roster import import_records

        create_schema(engine)
        path = EXAMPLE_ROSTER if args.example else Path(args.file)
        try:
            roster = path.open("rb")
        except OSError as err:
            raise CommandError(f"cannot read {path}: {err.strerror}") from err
        with roster:
            display = progress_display(sys.stderr, path.stat().st_size)
            directory = SqlProviderDirectory(engine)
            try:
                items = _items(args.format, display.count(roster), mapping, enrich)
                report = import_records(
                    items,
                    directory,
                    batch_size=args.batch_size,
                    progress=display,
                    snapshot=args.snapshot,
                    # PostgreSQL merges a batch in its own process while the next is read.
                    overlap=engine.dialect.name == "postgresql",
                )
            finally:
                if isinstance(display, RichProgress):
                    display.close()
        directory.refresh_statistics()
        for row in report.rejected:
            print(f"line {row.line}: {row.reason}", file=out)
        skipped = f", {report.skipped} skipped" if report.skipped else ""
        rejected = len(report.rejected)
        print(f"{report.loaded} records loaded, {rejected} rows rejected{skipped}", file=out)
        if args.snapshot:
            if report.rejected:
                print("snapshot: a row was rejected, so no record was ended", file=out)
            else:
                print(f"snapshot: {len(report.ended)} records ended", file=out)
                for provider_id in report.ended:
                    print(f"  ended {provider_id}", file=out)
        return 1 if args.strict and report.rejected else 0
    finally:
        engine.dispose()  # the pool's connections, the background writer's too


def _mapping(value: str | None) -> RosterMapping | None:
    if value is None:
        return None
    try:
        return load_mapping(value)
    except OSError as err:
        raise CommandError(f"cannot read {value}: {err.strerror}") from err


def _items(
    source: str,
    lines: Iterator[bytes],
    mapping: RosterMapping | None,
    enrich: Mapping[str, ProviderRecord] | None,
) -> Iterator[ProviderRecord | RejectedRow | SkippedRow]:
    from provider_identity.plan import SEED_PLAN
    from provider_identity.roster import iter_roster
    from provider_identity.sources import iter_mapped_roster, iter_nppes, iter_plan_net

    plan = SEED_PLAN if mapping is None else mapping.plan
    if source == "nppes":
        return iter_nppes(lines, plan=plan, roster=enrich)
    if source == "plan-net":
        return iter_plan_net(b"".join(lines), mapping)
    if mapping is not None and mapping.columns:
        return iter_mapped_roster(lines, mapping)
    return iter_roster(lines, plan=plan)


def _enrichment(path: Path, mapping: RosterMapping | None) -> dict[str, ProviderRecord]:
    """The good records of the plan's roster at ``path``, by NPI."""
    from provider_identity.sources import enrich_by_npi

    try:
        data = path.read_bytes()
    except OSError as err:
        raise CommandError(f"cannot read {path}: {err.strerror}") from err
    items = list(_items("csv", iter(data.splitlines(keepends=True)), mapping, None))
    bad = sum(isinstance(item, RejectedRow) for item in items)
    if bad:
        print(
            f"provider-identity import-roster: --enrich: {bad} rows of {path.name} are rejected "
            "and enrich nothing (import that roster to see why).",
            file=sys.stderr,
        )
    return enrich_by_npi(item for item in items if isinstance(item, ProviderRecord))


def _unlock(args: argparse.Namespace, out: TextIO) -> int:
    key = canonical_username(args.username)
    engine = _engine(args.database)
    _require_schema(engine)
    from provider_identity.adapters.sql import SqlLockoutStore
    from provider_identity.lockout import LockoutTracker

    LockoutTracker(store=SqlLockoutStore(engine)).unlock(key)
    LoggingEventSink().emit(
        AuditEvent(
            action=Action.UNLOCK,
            outcome="success",
            at=datetime.now(UTC),
            username=key,
            detail={"by": "cli"},
        )
    )
    print(f"{key} is unlocked (its failure count is zero)", file=out)
    return 0


class _NoMail:
    """The maintenance commands send no mail; a message handed over is a bug, refused."""

    def send(self, message: EmailMessage) -> None:
        raise MailDeliveryError


def _maintenance_service(engine: Engine, pending_days: int = 7) -> IdentityService:
    """An IdentityService over the database's stores, for the commands that sweep accounts."""
    from provider_identity.adapters.sql import (
        SqlAccountRepository,
        SqlLockoutStore,
        SqlProviderDirectory,
    )

    if pending_days < 1:
        raise CommandError("--pending-days must be at least 1.")
    return IdentityService(
        directory=SqlProviderDirectory(engine),
        accounts=SqlAccountRepository(engine),
        lockouts=SqlLockoutStore(engine),
        mailer=_NoMail(),
        events=LoggingEventSink(),
        tokens=TokenIssuer(current=secrets.token_bytes(32)),  # signs nothing
        pending_lifetime=timedelta(days=pending_days),
    )


def _purge_pending(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args.database)
    _require_schema(engine)
    purged = _maintenance_service(engine, args.pending_days).purge_pending(client_address="cli")
    print(f"{len(purged)} expired pending accounts deleted", file=out)
    for username in purged:
        print(f"  deleted {username}", file=out)
    return 0


def _reconcile(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args.database)
    _require_schema(engine)
    report = _maintenance_service(engine).reconcile(client_address="cli")
    print(f"{len(report.deactivated)} accounts deactivated", file=out)
    for username in report.deactivated:
        print(f"  deactivated {username}", file=out)
    print(f"{len(report.reactivated)} accounts reactivated", file=out)
    for username in report.reactivated:
        print(f"  reactivated {username}", file=out)
    return 0


def _send_mail(args: argparse.Namespace, out: TextIO) -> int:
    relay = SmtpMailer(
        host=args.smtp_host,
        port=args.smtp_port,
        security=SmtpSecurity(args.smtp_security),
        username=args.smtp_user,
        password=os.environ.get(SMTP_PASSWORD_VARIABLE),
    )
    engine = _engine(args.database)
    _require_schema(engine)
    from provider_identity.adapters.outbox import Dispatcher
    from provider_identity.adapters.sql import SqlOutboxStore

    dispatcher = Dispatcher(outbox=SqlOutboxStore(engine), mailer=relay)
    if not args.watch:
        report = dispatcher.drain()
    else:
        if args.interval <= 0:
            raise CommandError("--interval must be a positive number of seconds.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(f"watching the outbox every {args.interval:g} s (SIGTERM stops)", file=out)
        out.flush()
        report = dispatcher.watch(
            interval=timedelta(seconds=args.interval),
            stop=stop,
            on_round=lambda round_: _print_report(round_, out),
        )
        print("stopped", file=out)
    _print_report(report, out)
    return 1 if report.given_up else 0


def _print_report(report: DispatchReport, out: TextIO) -> None:
    print(
        f"{report.sent} sent, {report.retried} to retry later, {report.given_up} given up",
        file=out,
        flush=True,
    )


def _purge_events(args: argparse.Namespace, out: TextIO) -> int:
    if args.older_than < 1:
        raise CommandError("--older-than must be a whole number of days, at least 1.")
    engine = _engine(args.database)
    _require_schema(engine)
    from provider_identity.adapters.sql import SqlEventSink

    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    removed = SqlEventSink(engine).purge(before=cutoff)
    print(f"{removed} audit events older than {cutoff.isoformat()} deleted", file=out)
    return 0


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time from the command line; a naive one is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{option} must be an ISO 8601 date or time, e.g. 2026-03-01 or 2026-03-01T12:00Z."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _export_events(args: argparse.Namespace, out: TextIO) -> int:
    since, until = _moment(args.since, "--since"), _moment(args.until, "--until")
    engine = _engine(args.database)
    _require_schema(engine)
    from provider_identity.adapters.sql import SqlEventSink

    events = SqlEventSink(engine).query(
        account_id=args.account,
        username=None if args.username is None else canonical_username(args.username),
        since=since,
        until=until,
    )
    write_json_lines(events, out)
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("provider-identity")
    except PackageNotFoundError:  # pragma: no cover  # run from a source tree never installed
        return "unknown"


# -- the parser --------------------------------------------------------------------------


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help=f"SQLAlchemy URL or SQLite file path (default: ${DATABASE_VARIABLE})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provider-identity", description="A Provider Portal's identity rules."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="show the version"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="walk through every seed flow")
    where = demo.add_mutually_exclusive_group()
    where.add_argument(
        "--database",
        metavar="URL",
        help="run against this database (after init-db and import-roster); "
        "default: a fresh SQLite file, deleted afterwards",
    )
    where.add_argument("--memory", action="store_true", help="use the in-memory adapters")
    demo.add_argument(
        "--fast", action="store_true", help="hash with the test-only cheapest argon2 parameters"
    )
    sink = demo.add_mutually_exclusive_group()
    sink.add_argument("--outbox", metavar="DIR", help="also write every message to DIR as .eml")
    sink.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="also send every message to this SMTP server (no TLS: a local debugging server)",
    )

    check = commands.add_parser(
        "check-password", help="read a password from stdin and list every rule it breaks"
    )
    check.add_argument(
        "--preset",
        choices=("seed", "nist"),
        default="seed",
        help="the seed's rules (default) or NIST SP 800-63B rev 4",
    )
    check.add_argument("--username", help="the account's username, for the identifier rule")
    check.add_argument("--email", help="the account's email, for the identifier rule")

    _database_option(commands.add_parser("init-db", help="create the tables (safe to repeat)"))

    roster = commands.add_parser(
        "import-roster",
        help="load provider records from a roster, the NPPES file or a FHIR Plan-Net export",
    )
    roster.add_argument(
        "file", metavar="FILE", nargs="?", help="the roster, NPPES file or Plan-Net bundle to load"
    )
    roster.add_argument(
        "--format",
        choices=("csv", "nppes", "plan-net"),
        default="csv",
        help="csv: a roster (ours, or the plan's through --mapping; the default); "
        "nppes: the NPPES NPI dissemination file; plan-net: a FHIR Plan-Net Bundle or NDJSON",
    )
    roster.add_argument(
        "--mapping",
        metavar="FILE",
        help="a TOML or JSON file: the plan's columns, lines of business, fixes, networks",
    )
    roster.add_argument(
        "--enrich",
        metavar="ROSTER",
        help="with --format nppes: the plan's roster (CSV, read through --mapping if given); "
        "NPPES rows add ZIP codes to its records by NPI, other NPIs are skipped",
    )
    roster.add_argument(
        "--example",
        action="store_true",
        help="load the example roster that ships with the package (the sample records)",
    )
    _database_option(roster)
    roster.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="records per transaction"
    )
    roster.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any row was rejected"
    )
    roster.add_argument(
        "--snapshot",
        action="store_true",
        help="the file is the whole directory: end every record missing from it",
    )

    purge = commands.add_parser(
        "purge-pending", help="delete pending accounts older than their lifetime"
    )
    purge.add_argument(
        "--pending-days", type=int, default=7, help="a pending account's lifetime (default 7)"
    )
    _database_option(purge)

    _database_option(
        commands.add_parser(
            "reconcile", help="deactivate accounts whose provider left the directory"
        )
    )

    unlock = commands.add_parser("unlock", help="end a user's login lock and zero the count")
    unlock.add_argument("username", help="the user name whose lock to end")
    _database_option(unlock)

    send = commands.add_parser(
        "send-mail", help="send what the outbox holds, then stop (or keep watching)"
    )
    _database_option(send)
    send.add_argument(
        "--watch",
        action="store_true",
        help="keep draining the outbox until SIGTERM (several workers may run at once)",
    )
    send.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --watch: the wait between rounds that found nothing (default 5)",
    )
    send.add_argument("--smtp-host", required=True, help="the relay's host name")
    send.add_argument("--smtp-port", type=int, default=587, help="the relay's port (default 587)")
    send.add_argument(
        "--smtp-security",
        choices=[s.value for s in SmtpSecurity],
        default="starttls",
        help="how the connection is protected (default starttls)",
    )
    send.add_argument(
        "--smtp-user", help=f"login name; the password is read from ${SMTP_PASSWORD_VARIABLE}"
    )

    purge = commands.add_parser(
        "purge-events", help="delete audit events older than DAYS days (retention)"
    )
    purge.add_argument(
        "--older-than", metavar="DAYS", type=int, required=True, help="age in days (at least 1)"
    )
    _database_option(purge)

    export = commands.add_parser(
        "export-events", help="write the audit trail to stdout as JSON lines, oldest first"
    )
    _database_option(export)
    export.add_argument("--account", metavar="ID", help="only events about this account id")
    export.add_argument("--username", help="only events naming this user name")
    export.add_argument("--since", metavar="WHEN", help="only events at or after (ISO 8601, UTC)")
    export.add_argument("--until", metavar="WHEN", help="only events before (ISO 8601, UTC)")
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, out: TextIO | None = None
) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    commands = {
        "demo": lambda: _demo(args, out),
        "check-password": lambda: _check_password(args, stdin or sys.stdin, out),
        "init-db": lambda: _init_db(args, out),
        "import-roster": lambda: _import_roster(args, out),
        "unlock": lambda: _unlock(args, out),
        "purge-pending": lambda: _purge_pending(args, out),
        "reconcile": lambda: _reconcile(args, out),
        "send-mail": lambda: _send_mail(args, out),
        "purge-events": lambda: _purge_events(args, out),
        "export-events": lambda: _export_events(args, out),
    }
    try:
        return commands[args.command]()
    except Exception as err:  # each known kind becomes one line below
        lines = _refusal(err)
        if lines is None:
            raise
        for line in lines:
            print(f"provider-identity {args.command}: {line}", file=sys.stderr)
        return 2


def _refusal(err: Exception) -> list[str] | None:
    """What to print for an error a user can fix (one line per problem), or None."""
    if isinstance(err, InvalidInput) and err.errors:
        return [f"{error.field}: {error.message}" for error in err.errors]
    if isinstance(err, CommandError | IdentityError):
        return [str(err)]
    database = _database_error(err)
    return None if database is None else [database]
