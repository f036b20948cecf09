"""The store base: an engine or a caller's connection, and the mapping of driver errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from provider_identity.adapters.sql._engine import _WRITE_OPTION, _check_dialect
from provider_identity.errors import StoreUnavailable


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
        with self._unavailable_on_failure():
            if self._connection is None:
                with self._writer.begin() as connection:
                    yield connection
            else:
                with self._connection.begin_nested():
                    yield self._connection

    @staticmethod
    @contextlib.contextmanager
    def _unavailable_on_failure() -> Iterator[None]:
        """A database that is down, unreachable or timed out is StoreUnavailable, unchained.

        The driver's error text may quote rows.
        """
        try:
            yield
        except OperationalError:
            StoreUnavailable.raise_unchained()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._unavailable_on_failure():
            if self._connection is None:
                with self._reader.connect() as connection:
                    yield connection
            else:
                yield self._connection

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
