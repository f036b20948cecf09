"""The provider directory in ``identity_providers``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._bulk import _STAGING
from provider_identity.adapters.sql._schema import _providers
from provider_identity.errors import FieldError, InvalidInput
from provider_identity.providers import (  # the slots' setters, shared with the NPPES reader
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderSearch,
    _new_record,
    _put_category,
    _put_end_date,
    _put_lines_of_business,
    _put_name,
    _put_name_key,
    _put_npi,
    _put_payee,
    _put_provider_id,
    _put_tax_id,
    _put_zip_codes,
)

__all__ = ["UPSERT_CHUNK", "SqlProviderDirectory"]

_T = TypeVar("_T")


#: Records staged and merged at a time in :meth:`SqlProviderDirectory.upsert`.
UPSERT_CHUNK = 20000


def _invalid_record() -> InvalidInput:
    return InvalidInput(
        [FieldError(field="record", code="wrong_type", message="Not a ProviderRecord.")]
    )


def _distinct(records: Iterable[ProviderRecord]) -> dict[str, ProviderRecord]:
    """The records by Provider ID, the last one given winning; every item checked first."""
    batch: dict[str, ProviderRecord] = {}
    for record in records:
        if not isinstance(record, ProviderRecord):
            raise _invalid_record()
        batch[record.provider_id] = record
    return batch


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
        batch = _distinct(records)
        if batch:
            with self._writing() as conn:
                for chunk in _chunks(tuple(batch.values()), UPSERT_CHUNK):
                    self._stage(conn, chunk)
                    self._merge(conn)
        return len(batch)

    def prepare_upsert(self, records: Iterable[ProviderRecord]) -> Callable[[], int]:
        """:meth:`upsert` in two steps: send ``records`` now, merge them when the result is called.

        The first step is the one that costs this process's time: the
        records are checked, and copied into a staging table of their own
        transaction. The second merges them into the directory and commits;
        its time is the database server's, so a roster import runs it in
        another thread while it reads the next batch
        (``import_records(overlap=True)``). Call the result exactly once, from
        any thread; until then the transaction holds one pooled connection.
        On a caller's connection both steps run now.

        Raises:
            InvalidInput: an item is not a ProviderRecord (nothing is sent).
        """
        if self._connection is not None:
            written = self.upsert(records)
            return lambda: written
        batch = _distinct(records)
        if not batch:
            return lambda: 0
        chunks = list(_chunks(tuple(batch.values()), UPSERT_CHUNK))
        with self._unavailable_on_failure():
            conn = self._writer.connect()
            try:
                transaction = conn.begin()
                for chunk in chunks[:-1]:
                    self._stage(conn, chunk)
                    self._merge(conn)
                self._stage(conn, chunks[-1])
            except BaseException:
                conn.close()  # the transaction is rolled back
                raise

        def merge() -> int:
            with self._unavailable_on_failure(), conn:
                self._merge(conn)
                transaction.commit()
            return len(batch)

        return merge

    def _stage(self, conn: Connection, records: Sequence[ProviderRecord]) -> None:
        """Load a chunk into the session's staging table (``COPY`` on PostgreSQL).

        Filling a table with no index is the cheap part: the merge is the
        set-based statement that costs the server its time.
        """
        staging = _STAGING[conn.dialect.name]
        conn.execute(sa.schema.CreateTable(staging.table, if_not_exists=True))
        staging.fill(conn, [_provider_row(record) for record in records])

    def _merge(self, conn: Connection) -> None:
        """Merge the staged chunk into the directory, leaving unchanged rows alone; empty it."""
        staging = _STAGING[conn.dialect.name]
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

    def _select(self, query: _Lookup, value: str | dict[str, object]) -> tuple[ProviderRecord, ...]:
        parameters: Mapping[str, object] = value if isinstance(value, dict) else {"value": value}
        with self._reading() as conn:
            rows = query.rows(conn, parameters)
        return tuple(map(_record_from_row, rows))


@attrs.frozen
class _Rendered:
    """A statement as one dialect's driver takes it."""

    sql: str
    #: The parameter names in placeholder order, for a positional driver (SQLite's ``?``).
    order: tuple[str, ...] | None
    #: Parameters the statement fixes itself (SQLite's ``OFFSET 0`` after a ``LIMIT``).
    fixed: Mapping[str, object]

    def values(self, parameters: Mapping[str, object]) -> Mapping[str, object] | tuple[object, ...]:
        merged = {**self.fixed, **parameters} if self.fixed else parameters
        return merged if self.order is None else tuple(merged[name] for name in self.order)


class _Lookup:
    """A directory query, rendered to the driver's SQL once per dialect and schema.

    Run through SQLAlchemy, even from its compiled cache, each execution
    builds the statement's cache key and rewrites its schema names, which
    costs more than PostgreSQL takes to run a page. Rendered once, it goes
    out with ``exec_driver_sql``: the same SQL, events, error mapping and
    disconnect handling, none of that work. Its parameters are plain
    ``str`` and ``int``, which no type of these columns converts.
    """

    def __init__(self, statement: sa.Select[Any]) -> None:
        self._statement = statement
        self._rendered: dict[tuple[str, str, str | None], _Rendered] = {}

    def rows(self, conn: Connection, parameters: Mapping[str, object]) -> Sequence[Sequence[Any]]:
        """The rows for ``parameters`` (by name), in the statement's column order."""
        dialect = conn.dialect
        key = (dialect.name, dialect.paramstyle, conn.schema_for_object(_providers))
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = self._render(dialect, key[2])
        result = conn.exec_driver_sql(rendered.sql, rendered.values(parameters))
        # The driver's own tuples: these text and int columns need none of the
        # result's processing, and a Row for each would cost a group of 10,000
        # a tenth of its time.
        try:
            rows: Sequence[Sequence[Any]] = result.cursor.fetchall()
        finally:
            result.close()
        return rows

    def _render(self, dialect: Dialect, schema: str | None) -> _Rendered:
        translate = {None: schema} if schema is not None else None
        compiled = self._statement.compile(
            dialect=dialect,
            schema_translate_map=translate,
            render_schema_translate=translate is not None,
        )
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        return _Rendered(compiled.string, order, fixed)


def _lookup(column: sa.Column[Any]) -> _Lookup:
    """Records by one indexed column."""
    return _Lookup(
        sa.select(_providers)
        .where(column == sa.bindparam("value"))
        .order_by(_providers.c.provider_id)
    )


_BY_PROVIDER_ID = _lookup(_providers.c.provider_id)
_BY_NPI = _lookup(_providers.c.npi)
_BY_TAX_ID = _lookup(_providers.c.tax_id)
_SEPARATOR = ","
_PAGE_STATEMENT = (
    sa.select(_providers)
    .where(_providers.c.tax_id == sa.bindparam("value"))
    .where(_providers.c.provider_id > sa.bindparam("after"))
    .order_by(_providers.c.provider_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_PAGE = _Lookup(_PAGE_STATEMENT)
_SEARCH_PAGE = _Lookup(
    _PAGE_STATEMENT.where(
        sa.or_(
            _providers.c.provider_id.like(sa.bindparam("prefix"), escape="/"),
            _providers.c.npi.like(sa.bindparam("prefix"), escape="/"),
            _providers.c.name_key.like(sa.bindparam("part"), escape="/"),
        )
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


@functools.lru_cache(maxsize=4096)
def _zip_codes(text: str) -> tuple[str, ...]:
    """Stored ZIP codes as a record holds them: a group's providers share a few, so a few tuples.

    Fewer new objects also means fewer of the garbage collector's passes, a
    third of the time of turning a big group into records.
    """
    return tuple(text.split(_SEPARATOR))


@functools.lru_cache(maxsize=64)
def _lines(text: str) -> frozenset[LineOfBusiness]:
    return frozenset(LineOfBusiness(line) for line in text.split(_SEPARATOR) if line)


def _record_from_row(row: Sequence[Any]) -> ProviderRecord:
    """The record a row holds.

    Rows are written only from ``ProviderRecord`` objects, already
    normalised, so the record is rebuilt field by field without normalising
    again (a tenth of the checked constructor's cost: a big group costs
    about what the driver takes to fetch it). A row without ``name_key``
    (one an older version wrote and ``create_schema`` has not filled in)
    goes the checked way.
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
    record: ProviderRecord = _new_record(ProviderRecord)
    _put_provider_id(record, provider_id)
    _put_tax_id(record, tax_id)
    _put_npi(record, npi)
    _put_name(record, name)
    _put_category(record, _category(category))
    _put_payee(record, _PAYEES[payee])
    _put_zip_codes(record, _zip_codes(zip_codes))
    _put_lines_of_business(record, _lines(lines))
    _put_end_date(record, None if end_date is None else date.fromisoformat(end_date))
    _put_name_key(record, name_key)
    return record
