"""The provider directory in ``identity_providers``."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._bulk import _STAGING
from provider_identity.adapters.sql._schema import _providers
from provider_identity.errors import FieldError, InvalidInput
from provider_identity.providers import LineOfBusiness, Payee, ProviderCategory, ProviderRecord

__all__ = ["UPSERT_CHUNK", "SqlProviderDirectory"]

_T = TypeVar("_T")


#: Records staged and merged at a time in :meth:`SqlProviderDirectory.upsert_many`.
UPSERT_CHUNK = 20000


def _invalid_record() -> InvalidInput:
    return InvalidInput(
        [FieldError(field="record", code="wrong_type", message="Not a ProviderRecord.")]
    )


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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

    def end_missing(self, keep: AbstractSet[str], *, on: date) -> tuple[str, ...]:
        """End (``end_date = on``) every open record whose Provider ID is not in ``keep``.

        For a roster snapshot: the file is the whole directory. Records
        already ended keep their date. Returns the Provider IDs ended, sorted.
        """
        open_ids = sa.select(_providers.c.provider_id).where(_providers.c.end_date.is_(None))
        with self._reading() as conn:
            missing = sorted(set(conn.execute(open_ids).scalars()) - set(keep))
        if missing:
            with self._writing() as conn:
                for chunk in _chunks(missing, 1000):
                    conn.execute(
                        sa.update(_providers)
                        .where(_providers.c.provider_id.in_(chunk), _providers.c.end_date.is_(None))
                        .values(end_date=on.isoformat())
                    )
        return tuple(missing)

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
        None if record.end_date is None else record.end_date.isoformat(),
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
        end_date=row.end_date,
    )
