"""SQL adapters on one SQLAlchemy Engine (Core only): SQLite by default, PostgreSQL in production.

Install with the ``sql`` extra (SQLite) or the ``postgres`` extra (psycopg 3).
Build the engine with :func:`make_engine`, create the tables once with
:func:`create_schema`, then hand the same engine to each store::

    engine = make_engine("sqlite:///identity.db")
    create_schema(engine)
    directory = SqlProviderDirectory(engine)
    accounts = SqlAccountRepository(engine)
    lockouts = SqlLockoutStore(engine)
    events = SqlEventSink(engine)        # the audit trail, queryable

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

from typing import TYPE_CHECKING

from provider_identity.adapters.sql._engine import (
    SQLITE_MIN_VERSION,
    create_schema,
    drop_schema,
    make_engine,
    schema_sql,
    transaction,
)
from provider_identity.adapters.sql._schema import metadata
from provider_identity.adapters.sql.accounts import SqlAccountRepository
from provider_identity.adapters.sql.directory import SqlProviderDirectory
from provider_identity.adapters.sql.events import SqlEventSink
from provider_identity.adapters.sql.factors import SqlFactorStore
from provider_identity.adapters.sql.lockouts import SqlLockoutStore
from provider_identity.adapters.sql.outbox import SqlOutboxStore

__all__ = [
    "SQLITE_MIN_VERSION",
    "SqlAccountRepository",
    "SqlEventSink",
    "SqlFactorStore",
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

if TYPE_CHECKING:  # mypy checks here that each store satisfies its port
    from sqlalchemy.engine import Engine

    from provider_identity.ports import (
        AccountRepository,
        EventLog,
        EventSink,
        FactorStore,
        LockoutStore,
        OutboxStore,
        WritableDirectory,
    )

    def _factor_port(engine: Engine) -> FactorStore:
        return SqlFactorStore(engine)

    def _ports(
        engine: Engine,
    ) -> tuple[
        WritableDirectory,
        AccountRepository,
        LockoutStore,
        OutboxStore,
        EventSink,
        EventLog,
    ]:
        return (
            SqlProviderDirectory(engine),
            SqlAccountRepository(engine),
            SqlLockoutStore(engine),
            SqlOutboxStore(engine),
            SqlEventSink(engine),
            SqlEventSink(engine),
        )
