"""Provider rosters: CSV files of provider records, read row by row, bad rows reported.

A roster is UTF-8 CSV with a header line naming its columns, in any order:
``provider_id``, ``tax_id``, ``name`` and ``zip_codes`` are required;
``npi``, ``category``, ``payee``, ``lines_of_business`` and ``end_date``
(``YYYY-MM-DD``) are optional.
``zip_codes`` and ``lines_of_business`` hold several values separated by
spaces or semicolons. Each record is one physical line.

A bad row (wrong column count, bytes that are not UTF-8, a field that does not
normalise, a Provider ID seen before with other data) is reported as a
:class:`RejectedRow` with its line number and skipped; the good rows go on.
A repeated row with the same data is skipped silently. When a Provider ID
appears twice with different data, the first row wins and the later one is
rejected. Reasons never contain a Tax ID.

:func:`import_roster` writes the good rows in batches; each batch is one
transaction of the destination (e.g.
:meth:`~provider_identity.adapters.sql.SqlProviderDirectory.upsert`),
which is idempotent, so an import killed midway and run again ends with every
good row present exactly once. In *snapshot* mode (``snapshot=True``: the file
is the whole directory) the records missing from a file are ended, so that
``IdentityService.reconcile`` deactivates their accounts.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import TypeVar

import attrs

from provider_identity._fields import collect
from provider_identity.errors import FieldError, InvalidInput
from provider_identity.plan import SEED_PLAN, Plan
from provider_identity.ports import (
    ImportProgress,
    ImportProgressCallback,
    PreparingDestination,
    RosterDestination,
    SnapshotDestination,
)
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "EXAMPLE_ROSTER",
    "OPTIONAL_COLUMNS",
    "PROGRESS_ROWS",
    "REQUIRED_COLUMNS",
    "ImportProgress",
    "ImportProgressCallback",
    "RejectedRow",
    "Roster",
    "RosterDestination",
    "RosterReport",
    "SkippedRow",
    "SnapshotDestination",
    "import_records",
    "import_roster",
    "iter_roster",
    "read_roster",
]

REQUIRED_COLUMNS = ("provider_id", "tax_id", "name", "zip_codes")
OPTIONAL_COLUMNS = ("npi", "category", "payee", "lines_of_business", "end_date")
#: Rows between two progress calls when no batch is written meanwhile (a
#: source that skips most rows, e.g. NPPES enriching a plan's roster).
PROGRESS_ROWS = 10_000
#: Records per destination transaction in :func:`import_roster`.
DEFAULT_BATCH_SIZE = 20000

#: The example roster that ships inside the package: the records of
#: ``provider_identity.testing.sample_records()`` and one bad row of each kind.
EXAMPLE_ROSTER = Path(__file__).parent / "data" / "example-roster.csv"

# A line with any of these, or longer than the csv module's field limit, goes through it.
_CSV_SPECIAL = re.compile('["\r\n\0]')
_CSV_LIMIT = csv.field_size_limit()
_E = TypeVar("_E", ProviderCategory, Payee, LineOfBusiness)
_HASH_BITS = 64
_HASH_MASK = (1 << _HASH_BITS) - 1


@attrs.frozen(kw_only=True)
class RejectedRow:
    """A roster line that was not loaded, and why.

    Attributes:
        line: 1-based line number in the file (the header is line 1).
        errors: Each problem found, as field errors (``field`` ``"row"`` for
            the whole line: ``wrong_column_count``, ``invalid_encoding``,
            ``malformed``).
    """

    line: int
    errors: tuple[FieldError, ...]

    @property
    def reason(self) -> str:
        """The problems as one sentence per error, for a report."""
        return " ".join(error.message for error in self.errors)


@attrs.frozen(kw_only=True)
class SkippedRow:
    """A source row left out on purpose, not an error (e.g. a deactivated NPI in NPPES).

    :func:`import_records` counts these and keeps none of them.

    Attributes:
        line: 1-based line (or resource) number in the source.
        reason: A short code: ``deactivated``, ``not_in_plan``, ``no_tax_id`` ...
    """

    line: int
    reason: str


@attrs.frozen(kw_only=True)
class Roster:
    """A whole roster read into memory: the good records and the rejected rows."""

    records: tuple[ProviderRecord, ...]
    rejected: tuple[RejectedRow, ...]


@attrs.frozen(kw_only=True)
class RosterReport:
    """What :func:`import_roster` did.

    Attributes:
        loaded: Distinct records written (good rows, repeats not counted).
        rejected: The rows refused, in file order.
        skipped: Rows a source leaves out on purpose (:class:`SkippedRow`), counted.
        ended: In snapshot mode, the Provider IDs missing from the file that were
            ended (none when a row was rejected: the file is then not the whole directory).
    """

    loaded: int
    rejected: tuple[RejectedRow, ...]
    skipped: int = 0
    ended: tuple[str, ...] = ()


def _header_error(code: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field="header", code=code, message=message)])


def _parse_header(line: bytes) -> tuple[str, ...]:
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _header_error("invalid_encoding", "The header line is not UTF-8.") from err
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error:  # a cell over csv.field_size_limit(), a stray quote
        raise _header_error("malformed", "The header line is not valid CSV.") from None
    columns = tuple(cell.strip().lower() for cell in cells)
    unknown = sorted(set(columns) - {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS})
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise _header_error(
            "invalid_columns",
            f"The header must name {', '.join(REQUIRED_COLUMNS)} and may name "
            f"{', '.join(OPTIONAL_COLUMNS)}, each once "
            f"(unknown: {', '.join(unknown) or 'none'}; missing: {', '.join(missing) or 'none'}).",
        )
    return columns


def _wrong_type() -> InvalidInput:
    message = 'A roster is read as bytes: pass a file opened "rb" or its contents.'
    return InvalidInput([FieldError(field="roster", code="wrong_type", message=message)])


def _row_error(code: str, message: str, field: str = "row") -> tuple[FieldError, ...]:
    return (FieldError(field=field, code=code, message=message),)


def _cells(line: bytes, width: int) -> list[str] | tuple[FieldError, ...]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return _row_error("invalid_encoding", "The line is not valid UTF-8.")
    if _CSV_SPECIAL.search(text) or len(text) > _CSV_LIMIT:
        try:
            cells = next(csv.reader([text]))
        except csv.Error:
            return _row_error("malformed", "The line is not valid CSV.")
    else:  # nothing the csv module treats specially: its result, five times faster
        cells = text.split(",")
    if len(cells) != width:
        return _row_error(
            "wrong_column_count", f"The line has {len(cells)} columns; the header has {width}."
        )
    return cells


_PAYEES = {payee.value: payee for payee in Payee}


def _payee(text: str) -> Payee:
    payee = _PAYEES.get(text.strip().casefold())
    if payee is None:
        choices = ", ".join(_PAYEES)
        raise InvalidInput.single("payee", "invalid_choice", f"payee must be one of {choices}.")
    return payee


def _values(text: str) -> list[str]:
    return text.replace(";", " ").split()


@lru_cache(maxsize=256)
def _lines_of_business(text: str, plan: Plan) -> frozenset[LineOfBusiness]:
    """A ``lines_of_business`` cell's lines (a roster repeats a handful of cells)."""
    values = _values(text)
    if not values:
        return frozenset({plan.default_line})
    return frozenset(plan.lines.parse(value) for value in values)


def _record(cells: dict[str, str], plan: Plan) -> ProviderRecord | tuple[FieldError, ...]:
    """The row's record, or every problem of the row.

    A good row is normalised once, by ``ProviderRecord`` itself; only a bad
    one is checked field by field, so that its report lists every problem.
    """
    try:
        return _build(cells, plan)
    except InvalidInput as err:
        return _problems(cells, plan) or err.errors


def _build(cells: dict[str, str], plan: Plan) -> ProviderRecord:
    return ProviderRecord(
        provider_id=cells["provider_id"],
        tax_id=cells["tax_id"],
        name=cells["name"].strip(),
        zip_codes=_values(cells["zip_codes"]) or [""],
        npi=cells.get("npi", "").strip() or None,
        category=plan.category(cells.get("category") or "other"),
        payee=_payee(cells.get("payee") or "individual"),
        lines_of_business=_lines_of_business(cells.get("lines_of_business", ""), plan),
        end_date=cells.get("end_date", "").strip() or None,
    )


def _problems(cells: dict[str, str], plan: Plan) -> tuple[FieldError, ...]:
    """Every problem of a row, each field checked on its own."""
    errors: list[FieldError] = []
    for column, check in (
        ("provider_id", normalize_provider_id),
        ("tax_id", normalize_tax_id),
        ("name", normalize_name),
    ):
        collect(errors, partial(check, cells[column], field=column))
    zip_codes = _values(cells["zip_codes"]) or [""]
    for zip_code in zip_codes:
        collect(errors, partial(normalize_zip, zip_code, field="zip_codes"))
    npi = cells.get("npi", "").strip() or None
    if npi is not None:
        collect(errors, partial(normalize_npi, npi))
    category = cells.get("category") or "other"
    collect(errors, partial(plan.category, category))
    collect(errors, partial(_payee, cells.get("payee") or "individual"))
    for value in _values(cells.get("lines_of_business", "")):
        collect(errors, partial(plan.lines.parse, value))
    return tuple(errors)


def iter_roster(
    lines: Iterable[bytes], *, plan: Plan = SEED_PLAN
) -> Iterator[ProviderRecord | RejectedRow]:
    """Read a roster line by line (e.g. a file opened ``"rb"``), yielding records and rejections.

    ``plan`` says which lines of business and categories a cell may name
    (the seed's by default); a row without lines of business gets the
    plan's ``default_line``.

    Memory grows only with the number of distinct Provider IDs (a line number
    and a hash of the record each, to tell repeats from conflicts).

    Raises:
        InvalidInput: the header is missing, not UTF-8, or names wrong columns
            (raised before any row is yielded); ``lines`` is not an iterable of
            bytes (code ``wrong_type``, field ``roster``).
    """
    try:
        rows = iter(lines)
    except TypeError:
        raise _wrong_type() from None
    header: tuple[str, ...] | None = None
    # Provider ID -> its first line and its record's hash, packed in one int: a
    # dict of str and int is never tracked by the garbage collector, so its
    # millions of entries cost no collection any time (a tuple value made each
    # full collection walk them all: import slowed down as it went).
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=1):
        if not isinstance(raw, bytes):  # bytes and str themselves yield ints and str
            raise _wrong_type()
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        if header is None:
            header = _parse_header(line)
            continue
        cells = _cells(line, len(header))
        outcome = (
            cells
            if isinstance(cells, tuple)
            else _record(dict(zip(header, cells, strict=True)), plan)
        )
        if isinstance(outcome, tuple):
            yield RejectedRow(line=number, errors=outcome)
            continue
        fingerprint = hash(outcome) & _HASH_MASK
        first = seen.setdefault(outcome.provider_id, number << _HASH_BITS | fingerprint)
        first_line = first >> _HASH_BITS
        if first_line == number:
            yield outcome
        elif first & _HASH_MASK != fingerprint:
            message = f"Provider ID {outcome.provider_id} is on line {first_line} with other data."
            yield RejectedRow(
                line=number, errors=_row_error("conflicting_duplicate", message, "provider_id")
            )
    if header is None:
        raise _header_error("required", "The roster is empty: a header line is required.")


def read_roster(data: bytes, *, plan: Plan = SEED_PLAN) -> Roster:
    """Read a whole roster held in memory.

    Raises:
        InvalidInput: the header is missing, not UTF-8, or names wrong columns;
            ``data`` is not bytes (code ``wrong_type``, field ``roster``).
    """
    if not isinstance(data, bytes):
        raise _wrong_type()
    records: list[ProviderRecord] = []
    rejected: list[RejectedRow] = []
    for item in iter_roster(data.splitlines(), plan=plan):
        if isinstance(item, RejectedRow):
            rejected.append(item)
        else:
            records.append(item)
    return Roster(records=tuple(records), rejected=tuple(rejected))


def import_roster(
    lines: Iterable[bytes],
    destination: RosterDestination,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ImportProgressCallback | None = None,
    plan: Plan = SEED_PLAN,
    snapshot: bool = False,
    today: date | None = None,
) -> RosterReport:
    """Write a roster's good rows to ``destination`` in batches; report the rejected ones.

    Each batch is one call of ``destination.upsert`` (one transaction):
    a crash leaves whole batches only, and running the import again is safe.
    ``progress``, if given, is called after each batch, every
    :data:`PROGRESS_ROWS` rows, and once at the end (``done=True``) with the
    rows read, loaded and rejected so far.
    With ``snapshot=True`` the file is the whole directory: once it is loaded,
    every open record missing from it is ended on ``today`` (UTC by default)
    with ``destination.end_missing``, unless a row was rejected (then the
    file is not whole, and nothing is ended).

    Raises:
        InvalidInput: the header is wrong, ``batch_size`` is not an int of at
            least 1, or ``snapshot`` is asked of a destination that cannot end
            records (nothing is written).
    """
    return import_records(
        iter_roster(lines, plan=plan),
        destination,
        batch_size=batch_size,
        progress=progress,
        snapshot=snapshot,
        today=today,
    )


class _BatchWriter:
    """``upsert`` each batch here, or (``overlap``) in one background thread, one at a time.

    With ``overlap``, a destination that writes in two steps
    (:class:`~provider_identity.ports.PreparingDestination`) sends each batch
    from this thread, and only the step that waits on the server runs in the
    background: that thread then needs Python's lock a few times a batch, not
    for every row it would otherwise send.
    """

    def __init__(self, destination: RosterDestination, *, overlap: bool) -> None:
        self._destination = destination
        self._pool = ThreadPoolExecutor(1, "import-roster") if overlap else None
        self._pending: Future[int] | None = None
        #: Records the finished writes stored.
        self.loaded = 0

    def write(self, batch: Sequence[ProviderRecord]) -> None:
        if self._pool is None:
            self.loaded += self._destination.upsert(batch)
            return
        self._settle()  # the last batch's failure surfaces before the next is sent
        if isinstance(self._destination, PreparingDestination):
            job = self._destination.prepare_upsert(batch)
        else:
            job = partial(self._destination.upsert, batch)
        self._pending = self._pool.submit(job)

    def finish(self) -> int:
        """Wait for the batch in flight; how many records every write stored."""
        self._settle()
        return self.loaded

    def _settle(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self.loaded += pending.result()

    def __enter__(self) -> _BatchWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # On the reader's failure too: no write goes on after import_records returns.
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def import_records(
    items: Iterable[ProviderRecord | RejectedRow | SkippedRow],
    destination: RosterDestination,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ImportProgressCallback | None = None,
    snapshot: bool = False,
    today: date | None = None,
    overlap: bool = False,
) -> RosterReport:
    """Write what any reader yields (this module's, or ``provider_identity.sources``') in batches.

    Records go to ``destination.upsert`` ``batch_size`` at a time;
    rejected rows are reported; skipped rows are counted only (memory does
    not grow with them). ``progress`` and ``snapshot`` work as in
    :func:`import_roster`.

    With ``overlap``, each batch is written by one background thread while
    the next one is read, so a database server merges a batch while Python
    parses the next (``import-roster`` turns it on for PostgreSQL). One
    batch is in flight at most, so memory stays at two batches; the first
    failed write stops the reading and is raised here, after which no
    further batch is written. The destination must take calls from another
    thread (not an in-memory SQLite engine, whose every thread has a
    database of its own).

    Raises:
        InvalidInput: ``batch_size`` is not an int of at least 1, ``snapshot``
            is asked of a destination that cannot end records (nothing is
            written), or the reader refuses its input before the first row.
    """
    if snapshot and not callable(getattr(destination, "end_missing", None)):
        raise InvalidInput.single(
            "snapshot", "unsupported", "This destination cannot end records (no end_missing)."
        )
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        code = "out_of_range" if isinstance(batch_size, int) else "wrong_type"
        raise InvalidInput.single(
            "batch_size", code, "batch_size must be a whole number of at least 1."
        )
    rows = skipped = 0
    rejected: list[RejectedRow] = []
    batch: list[ProviderRecord] = []
    # A dict of str and None, not a set: the garbage collector never walks it.
    seen: dict[str, None] = {}
    with _BatchWriter(destination, overlap=overlap) as writer:
        for item in items:
            rows += 1
            wrote = False
            if isinstance(item, RejectedRow):
                rejected.append(item)
            elif isinstance(item, SkippedRow):
                skipped += 1
            else:
                if snapshot:
                    seen[item.provider_id] = None
                batch.append(item)
                if len(batch) == batch_size:
                    writer.write(batch)
                    batch = []
                    wrote = True
            if progress is not None and (wrote or rows % PROGRESS_ROWS == 0):
                progress(ImportProgress(rows=rows, loaded=writer.loaded, rejected=len(rejected)))
        if batch:
            writer.write(batch)
        loaded = writer.finish()
    if progress is not None:
        progress(ImportProgress(rows=rows, loaded=loaded, rejected=len(rejected), done=True))
    ended: tuple[str, ...] = ()
    if snapshot and not rejected:
        assert isinstance(destination, SnapshotDestination)  # noqa: S101  # checked above
        ended = destination.end_missing(seen.keys(), on=today or datetime.now(UTC).date())
    return RosterReport(loaded=loaded, rejected=tuple(rejected), skipped=skipped, ended=ended)
