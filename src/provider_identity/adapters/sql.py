"""SQL adapters on one SQLAlchemy Engine (Core only): SQLite by default, PostgreSQL in production.

Install with the ``sql`` extra (SQLite) or the ``postgres`` extra (psycopg 3).
Build the engine with :func:`make_engine`, create the tables once with
:func:`create_schema`, then hand the same engine to each store::

    engine = make_engine("sqlite:///identity.db")
    create_schema(engine)
    directory = SqlProviderDirectory(engine)
    accounts = SqlAccountRepository(engine)
    lockouts = SqlLockoutStore(engine)

Uniqueness lives in the database: an account's canonical username and email
are both rows of ``identity_account_keys`` (one primary key, so neither may
equal another account's username or email), inserted in the account's
transaction. Every change that must be atomic is one transaction, and the
lockout counter is one ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``
statement. Datetimes are aware UTC: ``timestamp with time zone`` on
PostgreSQL, integer microseconds since the epoch on SQLite. The schema, as
SQL, is in ``docs/storage.md``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy import log as sa_log
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import Connection, Dialect, Engine, Row
from sqlalchemy.exc import IntegrityError, OperationalError

from provider_identity.accounts import Account, AccountStatus
from provider_identity.clock import ensure_utc
from provider_identity.errors import (
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    ConfigurationError,
    FieldError,
    IdentityError,
    InvalidInput,
    StoreUnavailable,
    UsernameUnavailable,
)
from provider_identity.lockout import LockoutState
from provider_identity.ports import (
    AccountRepository,
    LockoutStore,
    OutboxEntry,
    OutboxStore,
    ProviderDirectory,
)
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
)

__all__ = [
    "SQLITE_MIN_VERSION",
    "SqlAccountRepository",
    "SqlLockoutStore",
    "SqlOutboxStore",
    "SqlProviderDirectory",
    "create_schema",
    "drop_schema",
    "make_engine",
    "metadata",
    "schema_sql",
    "transaction",
]

#: ``INSERT .. ON CONFLICT .. RETURNING`` needs SQLite 3.35 or newer.
SQLITE_MIN_VERSION = (3, 35, 0)
#: How long a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Records staged and merged at a time in :meth:`SqlProviderDirectory.upsert_many`.
UPSERT_CHUNK = 20000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DIALECTS = frozenset({"sqlite", "postgresql"})
_WRITE_OPTION = "provider_identity_write"


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime: ``timestamptz`` on PostgreSQL, integer microseconds on SQLite.

    Both keep every microsecond, so a value round-trips exactly, and both
    compare in SQL as time does. Naive datetimes are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Integer microseconds on SQLite, ``timestamp with time zone`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | int | None:
        """UTC for PostgreSQL, microseconds since the epoch for SQLite."""
        if value is None:
            return None
        moment = ensure_utc(value)
        if dialect.name == "sqlite":
            return (moment - _EPOCH) // _MICROSECOND
        return moment

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        """Back to an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, int):
            return _EPOCH + value * _MICROSECOND
        if isinstance(value, datetime):
            return ensure_utc(value)
        raise TypeError(f"unexpected stored datetime of type {type(value).__name__}")


metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
    }
)
"""Every table of the SQL adapters (a declaration; it holds no connection).

Constraints and indexes have stable names (``uq_identity_accounts_username_key``
and so on), for migrations."""


def _code_points(length: int) -> sa.types.TypeEngine[str]:
    """ASCII identifiers compared and ordered by code point, as Python and SQLite do.

    PostgreSQL would otherwise use the database's collation, where ``en_US``
    sorts ``P-2`` after ``P1``; ``"C"`` is also the cheapest to index.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


_providers = sa.Table(
    "identity_providers",
    metadata,
    sa.Column("provider_id", _code_points(30), primary_key=True),
    sa.Column("tax_id", _code_points(9), nullable=False, index=True),
    sa.Column("npi", _code_points(10), nullable=True, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("payee", sa.String(16), nullable=False),
    # A record is read and written whole and never searched by these, so they
    # live in its row: a lookup is one index probe, with no join.
    sa.Column("zip_codes", sa.Text, nullable=False),  # "45000,46000", in the record's order
    sa.Column("lines_of_business", sa.Text, nullable=False),  # "Marketplace,Medicaid"
)

_accounts = sa.Table(
    "identity_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("username_key", sa.Text, nullable=False, unique=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("email_key", sa.Text, nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider_type", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(30), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("password_history", sa.JSON, nullable=False),
    sa.Column("security_question", sa.Text, nullable=False),
    sa.Column("security_answer_hash", sa.Text, nullable=False),
    sa.Column("agreement_version", sa.Text, nullable=False),
    sa.Column("agreement_accepted_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("credential_version", sa.Integer, nullable=False),
)

_account_keys = sa.Table(
    "identity_account_keys",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column(
        "account_id",
        sa.String(64),
        sa.ForeignKey(_accounts.c.id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(8), nullable=False),
)

_lockouts = sa.Table(
    "identity_lockouts",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True, index=True),
)

_outbox = sa.Table(
    "identity_outbox",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("message", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Index("ix_identity_outbox_due", "sent_at", "due_at"),
)


# -- engine and schema ---------------------------------------------------------------------


def make_engine(url: str | sa.URL, **options: Any) -> Engine:
    """Create an Engine for the SQL adapters.

    For SQLite it turns on foreign keys, WAL and a busy timeout, and makes
    write transactions ``BEGIN IMMEDIATE`` so that concurrent writers (other
    processes too) wait for each other instead of failing. For PostgreSQL it
    tests each pooled connection before handing it out (``pool_pre_ping``),
    so the first request after a database restart gets a fresh connection
    instead of an error. ``options`` go to :func:`sqlalchemy.create_engine`.

    Whatever ``echo`` or the logging level says, no SQL parameter and no
    result row reaches the log: they hold password and answer hashes and
    full Tax IDs. Parameters are hidden (``hide_parameters``) and the
    engine's logger drops SQLAlchemy's DEBUG records (the rows); statements
    are still logged at INFO. The filter sits on the ``sqlalchemy.engine.Engine``
    logger, so it applies to every engine logging there.

    Raises:
        ConfigurationError: neither SQLite nor PostgreSQL, or SQLite older than 3.35.
    """
    options.setdefault("hide_parameters", True)  # rows hold password and answer hashes
    if sa.make_url(url).get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **options)
    _check_dialect(engine)
    logger = engine.logger
    (logger.logger if isinstance(logger, sa_log.InstanceLogger) else logger).addFilter(
        _no_result_rows
    )
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _no_result_rows(record: logging.LogRecord) -> bool:
    """Keep INFO and above: at DEBUG SQLAlchemy's engine logs result rows and their columns."""
    return record.levelno >= logging.INFO


def _sqlite_on_connect(connection: sqlite3.Connection, record: object) -> None:
    connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN itself
    for pragma in (
        "PRAGMA foreign_keys = ON",
        f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
    ):
        connection.execute(pragma)


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _check_dialect(engine: Engine) -> None:
    name = engine.dialect.name
    if name not in _DIALECTS:
        raise ConfigurationError(f"The SQL adapters support SQLite and PostgreSQL, not {name}.")
    if name == "postgresql" and engine.dialect.driver != "psycopg":
        raise ConfigurationError(
            "On PostgreSQL the SQL adapters need psycopg 3 (postgresql+psycopg://...), "
            f"not {engine.dialect.driver}."
        )
    if name == "sqlite" and sqlite3.sqlite_version_info < SQLITE_MIN_VERSION:
        raise ConfigurationError(
            f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed."
        )


def create_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet (safe to run again)."""
    _check_dialect(engine)
    metadata.create_all(engine)


def schema_sql(dialect: str = "postgresql") -> str:
    """The ``CREATE`` statements of every table and index, as SQL text for ``dialect``.

    For a DBA who applies schema changes by hand; ``docs/storage.md`` lists
    the PostgreSQL version.

    Raises:
        ConfigurationError: ``dialect`` is neither ``"postgresql"`` nor ``"sqlite"``.
    """
    if dialect not in _DIALECTS:
        raise ConfigurationError(f"The SQL adapters support SQLite and PostgreSQL, not {dialect}.")
    compiler: Dialect = SQLiteDialect()
    if dialect == "postgresql":
        compiler = PGDialect()  # type: ignore[no-untyped-call]  # not annotated in SQLAlchemy
    statements: list[str] = []
    for table in metadata.sorted_tables:
        statements.append(_ddl(sa.schema.CreateTable(table), compiler))
        statements.extend(
            _ddl(sa.schema.CreateIndex(index), compiler)
            for index in sorted(table.indexes, key=lambda index: str(index.name))
        )
    return "\n\n".join(statements) + "\n"


def _ddl(element: sa.schema.ExecutableDDLElement, compiler: Dialect) -> str:
    text = str(element.compile(dialect=compiler)).strip()
    return "\n".join(line.rstrip().replace("\t", "    ") for line in text.splitlines()) + ";"


def drop_schema(engine: Engine) -> None:
    """Drop every table of the SQL adapters, with their data."""
    metadata.drop_all(engine)


def transaction(engine: Engine) -> contextlib.AbstractContextManager[Connection]:
    """Begin a write transaction for stores bound to its connection (a unit of work).

    Stores built on the connection (``SqlAccountRepository(connection)``,
    ``SqlOutboxStore(connection)`` ...) write inside this transaction, so an
    account change and the mail it queues commit together, or not at all::

        with transaction(engine) as connection:
            service = build_service(
                accounts=SqlAccountRepository(connection),
                mailer=OutboxMailer(SqlOutboxStore(connection)),
            )
            service.register(request)
    """
    return engine.execution_options(**{_WRITE_OPTION: True}).begin()


class _Store:
    """What every SQL store shares: an engine, or a caller's connection in a transaction.

    On an engine each operation is its own transaction. On a connection each
    write is a savepoint inside the caller's transaction, so a refused write
    (a taken username) leaves the caller's transaction usable.
    """

    def __init__(self, bind: Engine | Connection) -> None:
        engine = bind if isinstance(bind, Engine) else bind.engine
        _check_dialect(engine)
        self._engine = engine
        self._connection = bind if isinstance(bind, Connection) else None
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})
        # Every read is one statement, consistent by itself: on PostgreSQL it runs
        # without BEGIN and ROLLBACK around it, one round trip instead of three.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        try:
            if self._connection is None:
                with self._writer.begin() as connection:
                    yield connection
            else:
                with self._connection.begin_nested():
                    yield self._connection
        except OperationalError:  # down, unreachable, timed out; its text may quote rows
            StoreUnavailable.raise_unchained()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            if self._connection is None:
                with self._reader.connect() as connection:
                    yield connection
            else:
                yield self._connection
        except OperationalError:
            StoreUnavailable.raise_unchained()

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


def _invalid_record() -> InvalidInput:
    return InvalidInput(
        [FieldError(field="record", code="wrong_type", message="Not a ProviderRecord.")]
    )


def _chunks(items: Sequence[ProviderRecord], size: int) -> Iterator[Sequence[ProviderRecord]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- provider directory -------------------------------------------------------------------


class SqlProviderDirectory(_Store):
    """Provider records in ``identity_providers``, one row each (ZIP codes and lines included).

    Every lookup is one indexed ``SELECT`` (by primary key, ``tax_id`` or
    ``npi``), so it sees one consistent snapshot of a record.
    """

    def add(self, record: ProviderRecord) -> None:
        """Insert or replace the record with ``record.provider_id``."""
        self.upsert_many([record])

    def add_all(self, records: Iterable[ProviderRecord]) -> None:
        """Insert or replace many records (one transaction)."""
        self.upsert_many(records)

    def upsert_many(self, records: Iterable[ProviderRecord]) -> int:
        """Insert or replace ``records`` in one transaction; return how many distinct records.

        All or nothing: on any error no record of the batch is written.
        Idempotent: running the same batch again changes nothing. When a
        Provider ID appears twice, the later record wins (as with repeated
        :meth:`add`).

        Raises:
            InvalidInput: an item is not a ProviderRecord (checked before writing).
        """
        batch: dict[str, ProviderRecord] = {}
        for record in records:
            if not isinstance(record, ProviderRecord):
                raise _invalid_record()
            batch[record.provider_id] = record
        if batch:
            with self._writing() as conn:
                for chunk in _chunks(tuple(batch.values()), UPSERT_CHUNK):
                    self._write_chunk(conn, chunk)
        return len(batch)

    def _write_chunk(self, conn: Connection, records: Sequence[ProviderRecord]) -> None:
        """Load the chunk into the session's staging table, then merge it in one statement.

        Filling a table with no index is the cheap part (``COPY`` on
        PostgreSQL, one ``executemany`` on SQLite); the merge is set-based,
        and it leaves a row that would not change untouched.
        """
        staging = _STAGING[conn.dialect.name]
        conn.execute(sa.schema.CreateTable(staging.table, if_not_exists=True))
        staging.fill(conn, [_provider_row(record) for record in records])
        conn.execute(staging.merge)
        conn.execute(sa.delete(staging.table))

    def refresh_statistics(self) -> None:
        """Bring the database's statistics of the directory up to date (``ANALYZE``).

        Call it after a bulk load (``provider-identity import-roster`` does).
        Until PostgreSQL's autovacuum gets round to it, the planner judges a
        freshly loaded table by its old size and may scan it whole instead of
        using an index: milliseconds per lookup instead of a fraction of one.
        """
        with self._writing() as conn:
            preparer = conn.dialect.identifier_preparer
            table = preparer.quote(_providers.name)
            schema = conn.schema_for_object(_providers)
            if schema is not None:
                table = f"{preparer.quote_schema(schema)}.{table}"
            conn.exec_driver_sql(f"ANALYZE {table}")

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        """The record with this Provider ID, if any."""
        return _first(self._select(_BY_PROVIDER_ID, provider_id))

    def by_npi(self, npi: str) -> ProviderRecord | None:
        """The record with this NPI, if any (the lowest Provider ID if several share it)."""
        return _first(self._select(_BY_NPI, npi))

    def by_tax_id(self, tax_id: str) -> Sequence[ProviderRecord]:
        """Every record under this Tax ID, ordered by Provider ID."""
        return self._select(_BY_TAX_ID, tax_id)

    def _select(self, query: sa.Select[Any], value: str) -> tuple[ProviderRecord, ...]:
        with self._reading() as conn:
            rows = conn.execute(query, {"value": value}).all()
        return tuple(_record_from_row(row) for row in rows)


def _lookup(column: sa.Column[Any]) -> sa.Select[Any]:
    """Records by one indexed column, built once (building costs more than running)."""
    return (
        sa.select(_providers)
        .where(column == sa.bindparam("value"))
        .order_by(_providers.c.provider_id)
    )


_BY_PROVIDER_ID = _lookup(_providers.c.provider_id)
_BY_NPI = _lookup(_providers.c.npi)
_BY_TAX_ID = _lookup(_providers.c.tax_id)
_SEPARATOR = ","


def _first(records: Sequence[ProviderRecord]) -> ProviderRecord | None:
    return records[0] if records else None


def _provider_row(record: ProviderRecord) -> tuple[str | None, ...]:
    """The record as a row of ``identity_providers``, in column order."""
    return (
        record.provider_id,
        record.tax_id,
        record.npi,
        record.name,
        record.category.value,
        record.payee.value,
        _SEPARATOR.join(record.zip_codes),
        _lines_text(record.lines_of_business),
    )


@functools.lru_cache(maxsize=64)
def _lines_text(lines: frozenset[LineOfBusiness]) -> str:
    """The lines as stored: sorted, comma-separated (a directory repeats a few sets)."""
    return _SEPARATOR.join(sorted(line.value for line in lines))


def _record_from_row(row: Row[Any]) -> ProviderRecord:
    return ProviderRecord(
        provider_id=row.provider_id,
        tax_id=row.tax_id,
        name=row.name,
        zip_codes=row.zip_codes.split(_SEPARATOR),
        npi=row.npi,
        category=ProviderCategory(row.category),
        payee=Payee(row.payee),
        lines_of_business=frozenset(
            LineOfBusiness(line) for line in row.lines_of_business.split(_SEPARATOR) if line
        ),
    )


# -- bulk loading ----------------------------------------------------------------------------


@attrs.frozen
class _Staging:
    """A session-private table a chunk of records is loaded into, and the merge out of it."""

    table: sa.Table
    fill: Callable[[Connection, list[tuple[str | None, ...]]], None]
    merge: sa.Insert


def _merge(insert: postgresql.Insert | sqlite.Insert, staging: sa.Table) -> sa.Insert:
    """Every staged row into the directory; a row that would not change is left alone.

    Built once per dialect: building the statement costs more than running it.
    """
    upsert = insert.from_select(
        [column.name for column in staging.columns],
        # SQLite needs the WHERE to tell the upsert's ON from a join's.
        sa.select(staging).where(sa.true()),
    )
    data = [column for column in _providers.columns if not column.primary_key]
    return upsert.on_conflict_do_update(
        index_elements=[_providers.c.provider_id],
        set_={column.name: upsert.excluded[column.name] for column in data},
        where=sa.or_(*(column.is_distinct_from(upsert.excluded[column.name]) for column in data)),
    )


def _staging_table(schema: str, **options: Any) -> sa.Table:
    return sa.Table(
        "identity_staged_providers",
        sa.MetaData(),
        *(sa.Column(column.name, column.type) for column in _providers.columns),
        schema=schema,
        prefixes=["TEMPORARY"],
        **options,
    )


def _postgres_staging() -> _Staging:
    # pg_temp is the session's own schema; a schema_translate_map leaves it alone.
    table = _staging_table("pg_temp", postgresql_on_commit="DELETE ROWS")
    names = ", ".join(column.name for column in table.columns)
    copy_sql = f"COPY pg_temp.{table.name} ({names}) FROM STDIN"

    def fill(conn: Connection, rows: list[tuple[str | None, ...]]) -> None:
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)

    return _Staging(table, fill, _merge(postgresql.insert(_providers), table))


def _sqlite_staging() -> _Staging:
    table = _staging_table("temp")
    marks = ", ".join("?" for _ in table.columns)
    insert_sql = f"INSERT INTO temp.{table.name} VALUES ({marks})"  # noqa: S608  # names are ours

    def fill(conn: Connection, rows: list[tuple[str | None, ...]]) -> None:
        conn.exec_driver_sql(insert_sql, rows)

    return _Staging(table, fill, _merge(sqlite.insert(_providers), table))


_STAGING = {"postgresql": _postgres_staging(), "sqlite": _sqlite_staging()}


# -- accounts -------------------------------------------------------------------------------


class SqlAccountRepository(_Store):
    """Accounts in ``identity_accounts``; usernames and emails share ``identity_account_keys``.

    ``add`` inserts the account and both its keys in one transaction, so the
    database's unique constraints decide every race; ``replace`` is one
    ``UPDATE .. WHERE credential_version = :expected``.
    """

    def add(self, account: Account) -> None:
        """Store a new account, refusing any clash atomically.

        Raises:
            AlreadyRegistered: an account exists for ``account.provider_id``.
            UsernameUnavailable: the username or email key is taken (``field`` says which).
        """
        keys = [
            {"key": account.username_key, "account_id": account.id, "kind": "username"},
            {"key": account.email_key, "account_id": account.id, "kind": "email"},
        ]
        try:
            with self._writing() as conn:
                conn.execute(sa.insert(_accounts).values(_account_row(account)))
                conn.execute(sa.insert(_account_keys), keys)
        except IntegrityError:
            pass
        else:
            return
        # Raised outside the except block: the IntegrityError's message and
        # ``.params`` hold the row, hashes included, and would stay on as
        # ``__context__`` even with ``from None``.
        raise self._clash(account)

    def _clash(self, account: Account) -> IdentityError:
        """Which taken key refused ``account``, checked in the in-memory adapter's order.

        Rows are never deleted, so the row that made the insert fail is committed and visible.
        """
        if self.find_by_provider_id(account.provider_id) is not None:
            return AlreadyRegistered()
        for field, key in (("username", account.username_key), ("email", account.email_key)):
            if self.key_taken(key):
                return UsernameUnavailable(field)
        return UsernameUnavailable("username")

    def get(self, account_id: str) -> Account | None:
        """The account with this id, if any."""
        return self._one(_accounts.c.id == account_id)

    def find_by_username(self, username_key: str) -> Account | None:
        """The account whose canonical username is ``username_key``, if any."""
        return self._one(_accounts.c.username_key == username_key)

    def find_by_provider_id(self, provider_id: str) -> Account | None:
        """The account registered for this provider, if any."""
        return self._one(_accounts.c.provider_id == provider_id)

    def key_taken(self, key: str) -> bool:
        """True if ``key`` is some account's canonical username or email."""
        query = sa.select(_account_keys.c.key).where(_account_keys.c.key == key)
        with self._reading() as conn:
            return conn.execute(query).first() is not None

    def replace(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account if its credential version is still ``expected_version``.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored version differs, or an identifier would change.
        """
        row = _account_row(account)
        fixed = ("id", "username_key", "email_key", "provider_id")
        statement = (
            sa.update(_accounts)
            .where(
                _accounts.c.credential_version == expected_version,
                *(_accounts.c[name] == row[name] for name in fixed),
            )
            .values({name: value for name, value in row.items() if name not in fixed})
        )
        with self._writing() as conn:
            if conn.execute(statement).rowcount == 1:
                return
        stored = self.get(account.id)
        if stored is None:
            raise AccountNotFound
        if stored.credential_version != expected_version:
            raise ConcurrentUpdate
        raise ConcurrentUpdate.identifiers_changed()

    def _one(self, condition: sa.ColumnElement[bool]) -> Account | None:
        with self._reading() as conn:
            row = conn.execute(sa.select(_accounts).where(condition)).first()
        return None if row is None else _account_from_row(row)


def _account_row(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "username": account.username,
        "username_key": account.username_key,
        "email": account.email,
        "email_key": account.email_key,
        "status": account.status.value,
        "provider_type": account.provider_type.value,
        "provider_id": account.provider_id,
        "password_hash": account.password_hash,
        "password_history": list(account.password_history),
        "security_question": account.security_question,
        "security_answer_hash": account.security_answer_hash,
        "agreement_version": account.agreement_version,
        "agreement_accepted_at": ensure_utc(account.agreement_accepted_at),
        "created_at": ensure_utc(account.created_at),
        "activated_at": None if account.activated_at is None else ensure_utc(account.activated_at),
        "credential_version": account.credential_version,
    }


def _account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        username_key=row.username_key,
        email=row.email,
        email_key=row.email_key,
        status=AccountStatus(row.status),
        provider_type=ProviderType(row.provider_type),
        provider_id=row.provider_id,
        password_hash=row.password_hash,
        password_history=tuple(row.password_history),
        security_question=row.security_question,
        security_answer_hash=row.security_answer_hash,
        agreement_version=row.agreement_version,
        agreement_accepted_at=row.agreement_accepted_at,
        created_at=row.created_at,
        activated_at=row.activated_at,
        credential_version=row.credential_version,
    )


# -- lockouts -------------------------------------------------------------------------------


class SqlLockoutStore(_Store):
    """Failure counters in ``identity_lockouts``, one row per key.

    :meth:`record_failure` is a single ``INSERT .. ON CONFLICT DO UPDATE ..
    RETURNING`` whose ``CASE`` expressions are :meth:`LockoutState.after_failure`,
    so concurrent failures are counted one by one and never lost.
    """

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`).

        Raises:
            ValueError: ``now`` is naive.
        """
        now = ensure_utc(now)
        fresh = LockoutState(failures=0).after_failure(
            now, max_failures=max_failures, lock_for=lock_for
        )
        upsert = self._insert(_lockouts).values(
            key=key,
            failures=fresh.failures,
            locked_until=fresh.locked_until,
            expires_at=fresh.expires_at,
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[_lockouts.c.key],
            set_=_after_failure(
                now=now, until=now + lock_for, max_failures=max_failures, fresh=fresh
            ),
        ).returning(_lockouts.c.failures, _lockouts.c.locked_until, _lockouts.c.expires_at)
        with self._writing() as conn:
            row = conn.execute(statement).one()
        return LockoutState(row.failures, row.locked_until, row.expires_at)

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (expired ones included until purged)."""
        query = sa.select(
            _lockouts.c.failures, _lockouts.c.locked_until, _lockouts.c.expires_at
        ).where(_lockouts.c.key == key)
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else LockoutState(row.failures, row.locked_until, row.expires_at)

    def clear(self, key: str) -> None:
        """Forget ``key``'s count and lock (unlock)."""
        with self._writing() as conn:
            conn.execute(sa.delete(_lockouts).where(_lockouts.c.key == key))

    def purge(self, now: datetime) -> int:
        """Forget every expired state and return how many (run it now and then)."""
        ends = sa.func.coalesce(_lockouts.c.expires_at, _lockouts.c.locked_until)
        moment = sa.literal(now, UtcDateTime())
        with self._writing() as conn:
            return conn.execute(sa.delete(_lockouts).where(ends <= moment)).rowcount


def _after_failure(
    *, now: datetime, until: datetime, max_failures: int, fresh: LockoutState
) -> dict[str, sa.ColumnElement[Any]]:
    """The SET clause: :meth:`LockoutState.after_failure` over the stored row, in SQL.

    An expired row takes ``fresh`` (the state after one failure from
    nothing); any other counts one more and keeps its lock, or locks at
    ``until`` (``now + lock_for``) on reaching ``max_failures``. Every
    expression reads the row as it was before the update, as SQL does.
    """
    row = _lockouts.c
    ends = sa.func.coalesce(row.expires_at, row.locked_until)
    expired = sa.and_(ends.is_not(None), ends <= sa.literal(now, UtcDateTime()))
    until_ = sa.literal(until, UtcDateTime())
    counted = row.failures + 1
    locked = sa.case(
        (expired, sa.literal(fresh.locked_until, UtcDateTime())),
        else_=sa.func.coalesce(
            row.locked_until,
            sa.case((counted >= sa.literal(max_failures, sa.Integer()), until_)),
        ),
    )
    return {
        "failures": sa.case((expired, fresh.failures), else_=counted),
        "locked_until": locked,
        "expires_at": sa.func.coalesce(locked, until_),
    }


# -- outbox ---------------------------------------------------------------------------------


def _new_entry_id() -> str:
    return secrets.token_hex(16)


class SqlOutboxStore(_Store):
    """A durable outbox in ``identity_outbox`` (an :class:`~provider_identity.ports.OutboxStore`).

    ``claim`` is one ``UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP
    LOCKED) RETURNING`` on PostgreSQL (an immediate write transaction on
    SQLite), so two dispatchers never claim the same entry within a lease.
    """

    def __init__(
        self, bind: Engine | Connection, *, new_id: Callable[[], str] = _new_entry_id
    ) -> None:
        super().__init__(bind)
        self._new_id = new_id

    def add(self, message: bytes, *, now: datetime) -> str:
        """Store a message, due at once; return its id."""
        now = ensure_utc(now)
        entry_id = self._new_id()
        row = {"id": entry_id, "message": message, "created_at": now, "attempts": 0, "due_at": now}
        with self._writing() as conn:
            conn.execute(sa.insert(_outbox).values(row))
        return entry_id

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxEntry]:
        """Lease up to ``limit`` due entries, oldest first, and count the attempt."""
        now_ = sa.literal(ensure_utc(now), UtcDateTime())
        due = (
            sa.select(_outbox.c.id)
            .where(_outbox.c.sent_at.is_(None), _outbox.c.due_at <= now_)
            .order_by(_outbox.c.created_at, _outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(_outbox)
            .where(_outbox.c.id.in_(due.scalar_subquery()))
            .values(attempts=_outbox.c.attempts + 1, due_at=sa.literal(now + lease, UtcDateTime()))
            .returning(_outbox.c.id, _outbox.c.message, _outbox.c.created_at, _outbox.c.attempts)
        )
        with self._writing() as conn:
            rows = conn.execute(statement).all()
        entries = [
            OutboxEntry(
                id=row.id, message=row.message, created_at=row.created_at, attempts=row.attempts
            )
            for row in rows
        ]
        return sorted(entries, key=lambda entry: (entry.created_at, entry.id))

    def mark_sent(self, entry_id: str, *, now: datetime) -> None:
        """The relay accepted the entry: never send it again."""
        self._update(entry_id, sent_at=ensure_utc(now))

    def mark_failed(self, entry_id: str, *, retry_at: datetime | None, error: str) -> None:
        """Sending failed: due again at ``retry_at``, or never (``None``)."""
        self._update(
            entry_id, due_at=None if retry_at is None else ensure_utc(retry_at), error=error
        )

    def pending(self) -> int:
        """How many entries are not sent yet (given up ones included)."""
        query = sa.select(sa.func.count()).select_from(_outbox).where(_outbox.c.sent_at.is_(None))
        with self._reading() as conn:
            return int(conn.execute(query).scalar_one())

    def _update(self, entry_id: str, **values: object) -> None:
        with self._writing() as conn:
            conn.execute(sa.update(_outbox).where(_outbox.c.id == entry_id).values(values))


if TYPE_CHECKING:  # mypy checks here that each store satisfies its port
    from provider_identity.roster import RosterDestination

    def _ports(
        engine: Engine,
    ) -> tuple[ProviderDirectory, RosterDestination, AccountRepository, LockoutStore, OutboxStore]:
        return (
            SqlProviderDirectory(engine),
            SqlProviderDirectory(engine),
            SqlAccountRepository(engine),
            SqlLockoutStore(engine),
            SqlOutboxStore(engine),
        )
