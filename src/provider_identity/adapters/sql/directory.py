"""The provider directory in ``identity_providers``."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._bulk import _STAGING
from provider_identity.adapters.sql._schema import _providers
from provider_identity.errors import FieldError, InvalidInput
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderSearch,
)

__all__ = ["UPSERT_CHUNK", "SqlProviderDirectory"]

_T = TypeVar("_T")


#: Records staged and merged at a time in :meth:`SqlProviderDirectory.upsert`.
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

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        """Insert or replace ``records`` in one transaction; return how many distinct records.

        All or nothing: on any error no record of the batch is written.
        Idempotent: running the same batch again changes nothing. When a
        Provider ID appears twice, the later record wins.

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

    def page_by_tax_id(
        self, tax_id: str, *, after: str | None, limit: int, search: ProviderSearch | None
    ) -> Sequence[ProviderRecord]:
        """Up to ``limit`` matching records under this Tax ID after ``after``, by Provider ID.

        One range of the ``(tax_id, provider_id)`` index, read in order and
        stopped at ``limit``: the first page of a Tax ID with 10,000 records
        reads about ``limit`` rows, and so does every later one.
        """
        parameters: dict[str, object] = {"value": tax_id, "after": after or "", "limit": limit}
        if search is None:
            return self._select(_PAGE, parameters)
        parameters["prefix"] = _like_escaped(search.id_prefix) + "%"
        parameters["part"] = "%" + _like_escaped(search.name_part) + "%"
        return self._select(_SEARCH_PAGE, parameters)

    def _select(
        self, query: sa.Select[Any], value: str | dict[str, object]
    ) -> tuple[ProviderRecord, ...]:
        parameters = value if isinstance(value, dict) else {"value": value}
        with self._reading() as conn:
            rows = conn.execute(query, parameters).all()
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
_PAGE = (
    sa.select(_providers)
    .where(_providers.c.tax_id == sa.bindparam("value"))
    .where(_providers.c.provider_id > sa.bindparam("after"))
    .order_by(_providers.c.provider_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_SEARCH_PAGE = _PAGE.where(
    sa.or_(
        _providers.c.provider_id.like(sa.bindparam("prefix"), escape="/"),
        _providers.c.npi.like(sa.bindparam("prefix"), escape="/"),
        _providers.c.name_key.like(sa.bindparam("part"), escape="/"),
    )
)


def _like_escaped(text: str) -> str:
    """``text`` as a literal part of a ``LIKE`` pattern (escape character ``/``)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


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
        record.name_key,
    )


@functools.lru_cache(maxsize=64)
def _lines_text(lines: frozenset[LineOfBusiness]) -> str:
    """The lines as stored: sorted, comma-separated (a directory repeats a few sets)."""
    return _SEPARATOR.join(sorted(line.value for line in lines))


@functools.lru_cache(maxsize=256)
def _category(text: str) -> ProviderCategory:
    """A stored category (a directory repeats a few; a plan may have its own)."""
    return ProviderCategory(text)


_PAYEES = {member.value: member for member in Payee}


@functools.lru_cache(maxsize=64)
def _lines(text: str) -> frozenset[LineOfBusiness]:
    return frozenset(LineOfBusiness(line) for line in text.split(_SEPARATOR) if line)


def _record_from_row(row: Sequence[Any]) -> ProviderRecord:
    """The record a row holds.

    Rows are written only from ``ProviderRecord`` objects, already
    normalised, so the record is rebuilt field by field without normalising
    again (five times cheaper: a page of a big group costs what the database
    does). A row without ``name_key`` (one an older version wrote and
    ``create_schema`` has not filled in) goes the checked way.
    """
    (provider_id, tax_id, npi, name, category, payee, zip_codes, lines, end_date, name_key) = row
    if name_key is None:
        return ProviderRecord(
            provider_id=provider_id,
            tax_id=tax_id,
            name=name,
            zip_codes=zip_codes.split(_SEPARATOR),
            npi=npi,
            category=ProviderCategory(category),
            payee=Payee(payee),
            lines_of_business=_lines(lines),
            end_date=end_date,
        )
    record = object.__new__(ProviderRecord)
    # attrs' own way round a frozen class's __setattr__, as its __init__ does.
    put = object.__setattr__
    put(record, "provider_id", provider_id)
    put(record, "tax_id", tax_id)
    put(record, "name", name)
    put(record, "zip_codes", tuple(zip_codes.split(_SEPARATOR)))
    put(record, "npi", npi)
    put(record, "category", _category(category))
    put(record, "payee", _PAYEES[payee])
    put(record, "lines_of_business", _lines(lines))
    put(record, "end_date", None if end_date is None else date.fromisoformat(end_date))
    put(record, "name_key", name_key)
    return record
