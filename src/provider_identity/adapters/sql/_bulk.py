"""Bulk loading of provider records: a session-private staging table, then one merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from provider_identity.adapters.sql._schema import _providers


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
