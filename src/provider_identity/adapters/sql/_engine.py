"""The engine and the schema: make_engine, transaction, create and drop the tables."""

from __future__ import annotations

import contextlib
import logging
import select
import sqlite3
import sys
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import log as sa_log
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import Connection, Dialect, Engine

from provider_identity.adapters.sql._schema import _CATEGORY_LENGTH, _providers, metadata
from provider_identity.errors import ConfigurationError
from provider_identity.providers import normalize_name

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_MIN_VERSION",
    "create_schema",
    "drop_schema",
    "make_engine",
    "schema_sql",
    "transaction",
]


#: ``INSERT .. ON CONFLICT .. RETURNING`` needs SQLite 3.35 or newer.
SQLITE_MIN_VERSION = (3, 35, 0)
#: How long a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000
_DIALECTS = frozenset({"sqlite", "postgresql"})
_WRITE_OPTION = "provider_identity_write"
_OLD_TAX_ID_INDEX = "ix_identity_providers_tax_id"


def make_engine(url: str | sa.URL, **options: Any) -> Engine:
    """Create an Engine for the SQL adapters.

    For SQLite it turns on foreign keys, WAL and a busy timeout, and makes
    write transactions ``BEGIN IMMEDIATE`` so that concurrent writers (other
    processes too) wait for each other instead of failing. For PostgreSQL it
    checks each pooled connection before handing it out, so the first
    request after a database restart gets a fresh connection instead of an
    error: a connection the server has closed has its last words and the end
    of the stream waiting on the socket, and only then is it pinged (one
    round trip) and, if that fails, replaced, with every older pooled
    connection; a healthy idle connection costs no round trip
    (``pool_pre_ping`` would cost one on every checkout). Pass ``pool_pre_ping`` to choose
    SQLAlchemy's own ping instead. ``options`` go to
    :func:`sqlalchemy.create_engine`.

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
    engine = sa.create_engine(url, **options)
    _check_dialect(engine)
    if engine.dialect.name == "postgresql" and "pool_pre_ping" not in options:
        sa.event.listen(engine, "checkout", _ReplaceIfClosed(engine.dialect))
    logger = engine.logger
    (logger.logger if isinstance(logger, sa_log.InstanceLogger) else logger).addFilter(
        _no_result_rows
    )
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


@attrs.frozen
class _ReplaceIfClosed:
    """Have the pool replace a pooled connection the server has closed (a ``checkout`` hook).

    An idle connection has nothing to read unless the server spoke: when it
    ends a session (a restart, ``pg_terminate_backend``, a proxy closing)
    it sends an error and closes the socket. So the socket is polled (no
    round trip), and only a connection with input waiting is pinged. A
    failed ping raises ``InvalidatePoolError``, as ``pool_pre_ping`` does:
    SQLAlchemy then replaces this connection and drops every older one.
    A server that vanished without a word (a host gone) is found by the
    first statement, as a ping would find it: after the TCP timeout.
    """

    dialect: Dialect

    def __call__(self, dbapi_connection: Any, record: object, proxy: object) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise sa.exc.InvalidatePoolError("the connection was closed")
        if not _has_input(dbapi_connection.fileno()):
            return
        try:
            self.dialect.do_ping(dbapi_connection)
        except Exception as err:  # any failure: replace it, as a failed ping does
            raise sa.exc.InvalidatePoolError("the server closed the connection") from err


def _has_input(fd: int) -> bool:
    """Whether the socket has bytes or the end of the stream waiting (answers at once).

    ``poll`` has no limit on descriptor numbers, where ``select`` fails
    above 1023; Windows has only ``select``.
    """
    if sys.platform == "win32":  # pragma: no cover  # the tests run on Linux
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


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
    """Create every table and index that does not exist yet (safe to run again).

    A table made by an older version gains the nullable columns added since
    (``ALTER TABLE .. ADD COLUMN``), so running it again is the upgrade. The
    directory's ``name_key`` is then filled in from each row's name, and its
    ``(tax_id, provider_id)`` index replaces the ``tax_id`` one.
    """
    _check_dialect(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        _add_missing_columns(connection)
        _upgrade_providers(connection)


def _add_missing_columns(connection: Connection) -> None:
    inspector = sa.inspect(connection)
    preparer = connection.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        schema = connection.schema_for_object(table)
        present = {column["name"] for column in inspector.get_columns(table.name, schema=schema)}
        name = preparer.quote(table.name)
        if schema is not None:
            name = f"{preparer.quote_schema(schema)}.{preparer.quote(table.name)}"
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(
                f"ALTER TABLE {name} ADD COLUMN {preparer.quote(column.name)} {kind}"
            )


def _upgrade_providers(conn: Connection) -> None:
    schema = conn.schema_for_object(_providers)
    preparer = conn.dialect.identifier_preparer
    prefix = "" if schema is None else f"{preparer.quote_schema(schema)}."
    inspector = sa.inspect(conn)
    indexes = {index["name"] for index in inspector.get_indexes(_providers.name, schema=schema)}
    for index in _providers.indexes:
        if index.name not in indexes:
            index.create(conn)
    if _OLD_TAX_ID_INDEX in indexes:  # the new index serves its lookups too
        conn.exec_driver_sql(f"DROP INDEX {prefix}{preparer.quote(_OLD_TAX_ID_INDEX)}")
    _widen_category(conn, inspector, f"{prefix}{preparer.quote(_providers.name)}")
    missing = conn.execute(
        sa.select(_providers.c.provider_id, _providers.c.name).where(
            _providers.c.name_key.is_(None)
        )
    ).all()
    if missing:
        conn.execute(
            sa.update(_providers)
            .where(_providers.c.provider_id == sa.bindparam("id"))
            .values(name_key=sa.bindparam("key")),
            [{"id": row.provider_id, "key": normalize_name(row.name)} for row in missing],
        )


def _widen_category(conn: Connection, inspector: sa.Inspector, table: str) -> None:
    """Tables made before plans declared categories held 32 characters; codes take 50.

    SQLite does not enforce a ``VARCHAR`` length; on PostgreSQL widening one
    rewrites nothing.
    """
    if conn.dialect.name != "postgresql":
        return
    schema = conn.schema_for_object(_providers)
    (column,) = (
        column
        for column in inspector.get_columns(_providers.name, schema=schema)
        if column["name"] == "category"
    )
    length = getattr(column["type"], "length", None)
    if length is not None and length < _CATEGORY_LENGTH:
        conn.exec_driver_sql(
            f"ALTER TABLE {table} ALTER COLUMN category TYPE varchar({_CATEGORY_LENGTH})"
        )


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
