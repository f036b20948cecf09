"""Speed targets of the storage adapters, each beside its baseline in one run.

    python benchmarks/storage.py                  # SQLite, plus PostgreSQL and Redis if set
    python benchmarks/storage.py --rows 100000    # a smaller run
    python benchmarks/storage.py --only nppes --nppes-rows 2000000   # issue 16's NPPES figure

PostgreSQL and Redis come from PROVIDER_IDENTITY_TEST_POSTGRES_URL and
PROVIDER_IDENTITY_TEST_REDIS_URL (a schema of its own is created and dropped;
Redis keys go under a prefix of their own and are deleted).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import io
import math
import os
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from provider_identity import (
    LockoutTracker,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    RegistrationMatcher,
    RegistrationRequest,
)
from provider_identity.adapters.memory import MemoryLockoutStore
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.sql import SqlProviderDirectory, create_schema, make_engine
from provider_identity.adapters.sql import directory as sql_directory
from provider_identity.adapters.sql._schema import _providers
from provider_identity.ports import LockoutState
from provider_identity.progress import progress_display
from provider_identity.registration import ProviderDetails
from provider_identity.roster import DEFAULT_BATCH_SIZE, import_records, import_roster, iter_roster
from provider_identity.sources import NPPES_COLUMNS, iter_nppes
from provider_identity.testing import ManualClock

HEADER = b"provider_id,npi,tax_id,name,zip_codes,category,payee,lines_of_business\n"


def roster_lines(rows: int, *, first: int = 0) -> Iterator[bytes]:
    yield HEADER
    for n in range(first, first + rows):
        yield (
            f"P{n:08d},,{n % 1_000_000_000:09d},Provider Number {n},"
            f"{45000 + n % 1000:05d} {46000 + n % 1000:05d},radiology,group,Medicaid\n"
        ).encode()


def write_roster(folder: Path, rows: int) -> Path:
    path = folder / "roster.csv"
    with path.open("wb") as file:
        file.writelines(roster_lines(rows))
    return path


def report(name: str, figure: str, target: str, ok: bool) -> None:
    print(f"{name:<46} {figure:>34}   target {target:<12} {'ok' if ok else 'MISSED'}")


def bench_import(label: str, engine: Engine, roster: Path, rows: int) -> None:
    directory = SqlProviderDirectory(engine)
    start = time.perf_counter()
    with roster.open("rb") as lines:
        loaded = import_roster(lines, directory).loaded
    directory.refresh_statistics()  # as the CLI's import-roster does
    rate = loaded / (time.perf_counter() - start)
    report(f"roster import, {rows:,} rows, {label}", f"{rate:,.0f} rows/s", ">= 50,000/s",
           rate >= 50_000)  # fmt: skip


def bench_match(label: str, engine: Engine, rows: int, samples: int) -> None:
    matcher = RegistrationMatcher(directory=SqlProviderDirectory(engine))
    timings = []
    for n in range(0, rows, max(rows // samples, 1)):
        request = RegistrationRequest(
            provider_type=ProviderType.PRACTITIONER, name=f"provider number {n}",
            tax_id=f"{n:09d}", zip_code=f"{46000 + n % 1000:05d}", provider_id=f"p{n:08d}",
            username="u", password="", email="", security_question="", security_answer="",
        )  # fmt: skip
        start = time.perf_counter()
        details = ProviderDetails.parse(request)
        matcher.match(details)
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)
    report(f"registration match, {rows:,} records, {label}", f"median {median * 1e3:.3f} ms",
           "<= 0.5 ms", median <= 0.5e-3)  # fmt: skip


def bench_import_linear(folder: Path, sizes: tuple[int, ...]) -> None:
    """Roster import rows/s into SQLite at growing sizes: linear means the rates agree.

    Rates by wall time and by the process's CPU time: SQLite runs in the
    process, so the CPU rate is the import's own work, which a busy shared
    machine slows less than the wall clock (the verdict uses it). The
    imports run minutes apart, so a neighbour's load can still move one of
    them; :func:`bench_batch_growth` then writes the same batches into the
    directories the imports left, in turn, which no drift can favour.
    """
    rates: list[tuple[float, float]] = []
    directories: list[SqlProviderDirectory] = []
    for rows in sizes:
        roster = folder / f"roster-{rows}.csv"
        with roster.open("wb") as file:
            file.writelines(roster_lines(rows))
        engine = make_engine(f"sqlite:///{folder / f'linear-{rows}.db'}")
        create_schema(engine)
        directory = SqlProviderDirectory(engine)
        start, cpu = time.perf_counter(), time.process_time()
        with roster.open("rb") as lines:
            loaded = import_roster(lines, directory).loaded
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        rates.append((loaded / wall, loaded / cpu))
        directories.append(directory)
        roster.unlink()
        figure = f"{rates[-1][0]:,.0f} rows/s (CPU: {rates[-1][1]:,.0f})"
        print(f"{f'  roster import, {rows:,} rows, SQLite':<46} {figure:>34}", flush=True)
    wall_ratio = rates[-1][0] / rates[0][0]
    ratio = rates[-1][1] / rates[0][1]
    figure = f"{rates[-1][1]:,.0f} / {rates[0][1]:,.0f} = {ratio:.2f}"
    label = f"import {sizes[-1]:,} / {sizes[0]:,} (CPU rows/s), SQLite"
    report(label, figure, "0.90..1.10", 0.9 <= ratio <= 1.1)
    print(f"{'  (the same by wall time)':<46} {wall_ratio:>34.2f}")
    bench_batch_growth(directories[0], directories[-1], start=sum(sizes), rounds=12)
    for directory, rows in zip(directories, sizes, strict=True):
        directory._engine.dispose()
        (folder / f"linear-{rows}.db").unlink()


def bench_batch_growth(
    small: SqlProviderDirectory, big: SqlProviderDirectory, *, start: int, rounds: int
) -> None:
    """The CPU time of one import batch written into the smaller and the bigger directory.

    Each round reads 20,000 new rows of the roster layout (``iter_roster``)
    and writes them with ``upsert``, into one directory and then the other
    (which goes first alternates); medians over the rounds. If anything grew
    with the table (index depth, the page cache, a lookup per row) the
    bigger directory's batches would cost more.
    """
    costs: dict[int, list[float]] = {id(small): [], id(big): []}
    for n in range(rounds):
        for k, directory in enumerate((small, big) if n % 2 == 0 else (big, small)):
            rows = roster_lines(DEFAULT_BATCH_SIZE, first=start + (2 * n + k) * DEFAULT_BATCH_SIZE)
            cpu = time.process_time()
            directory.upsert(item for item in iter_roster(rows) if isinstance(item, ProviderRecord))
            costs[id(directory)].append(time.process_time() - cpu)
    few, many = statistics.median(costs[id(small)]), statistics.median(costs[id(big)])
    figure = f"{many * 1e3:.0f} ms / {few * 1e3:.0f} ms = {many / few:.2f}"
    print(f"{'  (a batch into the bigger / the smaller, CPU)':<46} {figure:>34}")


# The NPPES file: every cell quoted, 330 columns, most of them empty (as published).
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def nppes_npi(serial: int) -> str:
    """The NPI of 9 digits ``serial`` and its check digit (Luhn over the 80840 prefix)."""
    first = f"{serial:09d}"
    total = 24 + sum(
        _LUHN_DOUBLED[int(digit)] if place % 2 == 0 else int(digit)
        for place, digit in enumerate(reversed(first))
    )
    return first + str(-total % 10)


def nppes_row_template(entity: str) -> str:
    """One row of the generated file, with ``{npi}``-style fields to fill in per row."""
    cells = dict.fromkeys(NPPES_COLUMNS, "")
    mine = {
        "NPI": "{npi}", "Entity Type Code": entity,
        "Employer Identification Number (EIN)": "{ein}",
        "Provider Enumeration Date": "05/23/2005", "Last Update Date": "07/08/2021",
        "Healthcare Provider Taxonomy Code_1": "2085R0202X" if entity == "2" else "207Q00000X",
        "Provider License Number_1": "{serial}", "Provider License Number State Code_1": "OH",
        "Healthcare Provider Primary Taxonomy Switch_1": "Y",
        "Other Provider Identifier_1": "{serial}", "Other Provider Identifier Type Code_1": "05",
        "Provider Business Mailing Address Postal Code": "{mailing}",
        "Provider Business Practice Location Address Postal Code": "{practice}",
    }  # fmt: skip
    if entity == "2":
        mine |= {
            "Provider Organization Name (Legal Business Name)": "PROVIDER {serial} IMAGING LLC",
            "Authorized Official Last Name": "SMITH", "Authorized Official First Name": "ANN",
            "Authorized Official Title or Position": "MANAGER",
            "Authorized Official Telephone Number": "6145550100", "Is Organization Subpart": "N",
        }  # fmt: skip
    else:
        mine |= {
            "Provider Last Name (Legal Name)": "PROVIDER{serial}", "Provider First Name": "JANE",
            "Provider Middle Name": "Q", "Provider Credential Text": "M.D.",
            "Provider Gender Code": "F", "Is Sole Proprietor": "N",
        }  # fmt: skip
    for place in ("Business Mailing", "Business Practice Location"):
        mine |= {
            f"Provider First Line {place} Address": "{serial} MAIN ST",
            f"Provider {place} Address City Name": "COLUMBUS",
            f"Provider {place} Address State Name": "OH",
            f"Provider {place} Address Country Code (If outside U.S.)": "US",
            f"Provider {place} Address Telephone Number": "6145550123",
        }
    assert mine.keys() <= cells.keys()
    cells |= mine
    return '"' + '","'.join(cells.values()) + '"\n'


def write_nppes(folder: Path, rows: int) -> Path:
    """A file in the NPPES layout: a third organizations, the rest practitioners.

    Every row becomes a record (the write path's worst case): each has an
    EIN, which NPPES itself publishes for no practitioner, so that none is
    skipped; ZIP codes are ZIP+4 without hyphen as NPPES prints them.
    """
    path = folder / "npidata_pfile.csv"
    templates = [nppes_row_template("2"), nppes_row_template("1"), nppes_row_template("1")]
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write('"' + '","'.join(NPPES_COLUMNS) + '"\n')
        for n in range(rows):
            file.write(
                templates[n % 3].format(
                    npi=nppes_npi(100_000_000 + n),
                    ein=f"{n % 1_000_000_000:09d}",
                    serial=n,
                    mailing=f"{43000 + n % 1000:05d}1234",
                    practice=f"{43000 + n % 997:05d}",
                )
            )
    return path


def peak_rss_reset() -> None:
    """Start measuring the peak resident set afresh (Linux; elsewhere the process's peak)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_nppes(engine: Engine, path: Path, rows: int, rounds: int) -> None:
    """The NPPES-layout import into PostgreSQL, beside the same file read by the bare csv module.

    In turn, each round: ``csv.reader`` over the file (every cell of every
    row); ``iter_nppes`` alone (no database); and the import as
    ``import-roster --format nppes`` runs it (progress display, batches of
    20,000 into an emptied directory, ``refresh_statistics()``), with its
    peak resident memory. Medians over the rounds; CPU time is this process's.
    """
    directory = SqlProviderDirectory(engine)

    def bare_csv() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with path.open(encoding="utf-8", newline="") as file:
            read = sum(1 for _ in csv.reader(file)) - 1
        assert read == rows
        return rows / (time.perf_counter() - start), rows / (time.process_time() - cpu)

    def reader() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as lines:
            read = sum(isinstance(item, ProviderRecord) for item in iter_nppes(lines))
        assert read == rows
        return rows / (time.perf_counter() - start), rows / (time.process_time() - cpu)

    def imported() -> tuple[float, float, float]:
        with engine.begin() as conn:
            conn.execute(sa.delete(_providers))
        gc.collect()
        peak_rss_reset()
        start, cpu = time.perf_counter(), time.process_time()
        display = progress_display(io.StringIO(), path.stat().st_size)
        with path.open("rb") as lines:
            report = import_records(iter_nppes(display.count(lines)), directory, progress=display)
        directory.refresh_statistics()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert report.loaded == rows
        return rows / wall, rows / cpu, peak_rss_mib()

    results: list[tuple[float, ...]] = []
    for _ in range(rounds):
        results.append((*bare_csv(), *reader(), *imported()))
    csv_rate, csv_cpu, read_rate, read_cpu, rate, cpu_rate, _ = (
        statistics.median(column) for column in zip(*results, strict=True)
    )
    peak = max(result[-1] for result in results)
    label = f"NPPES import, {rows:,} rows x 330, PostgreSQL"
    figure = f"{rate:,.0f} rows/s (csv: {csv_rate:,.0f})"
    report(label, figure, ">= 50,000/s", rate >= 50_000)
    print(f"{'  (by CPU time: import / bare csv)':<46} {f'{cpu_rate:,.0f} / {csv_cpu:,.0f}':>34}")
    figure = f"{read_rate:,.0f} rows/s (CPU: {read_cpu:,.0f})"
    print(f"{'  (the NPPES reader alone)':<46} {figure:>34}")
    print(f"{'  (peak resident memory of the import)':<46} {f'{peak:,.0f} MiB':>34}")


GROUP_TAX_ID = "987654321"


def group_roster(size: int) -> list[ProviderRecord]:
    return [
        ProviderRecord(
            provider_id=f"G{n:07d}",
            tax_id=GROUP_TAX_ID,
            name=f"Group Member {n}",
            zip_codes=("45440",),
            npi=None,
            category=ProviderCategory.RADIOLOGY,
        )
        for n in range(size)
    ]


@attrs.frozen
class _Sides:
    """One read three ways: through the directory, as bare driver SQL, and inside the database."""

    ours: Callable[[], Sequence[object]]
    bare: Callable[[], Sequence[object]]
    executed: Callable[[], float] | None  # EXPLAIN ANALYZE's execution time (PostgreSQL)


def _timed(call: Callable[[], Sequence[object]], expected: int) -> float:
    start = time.perf_counter()
    found = call()
    elapsed = time.perf_counter() - start
    assert len(found) == expected
    return elapsed


def _ratio(top: float, bottom: float) -> str:
    return f"{top * 1e3:.3f} ms / {bottom * 1e3:.3f} ms = {top / bottom:.2f}"


def _group_sides(
    engine: Engine, driver: Any, ours: Callable[[], Sequence[object]], lookup: Any,
    parameters: dict[str, object],
) -> _Sides:  # fmt: skip
    """Our call beside the SQL it sends (rendered as the directory does) by the bare driver."""
    with engine.connect() as conn:
        rendered = lookup._render(conn.dialect, conn.schema_for_object(_providers))
    values = rendered.values(parameters)

    def bare() -> Sequence[object]:
        rows: Sequence[object] = driver.execute(rendered.sql, values).fetchall()
        return rows

    def executed() -> float:
        plan = driver.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {rendered.sql}", values)
        return float(plan.fetchone()[0][0]["Execution Time"]) / 1e3

    return _Sides(ours, bare, executed if engine.dialect.name == "postgresql" else None)


def bench_group_reads(label: str, engine: Engine, size: int, rounds: int) -> None:
    """A Tax ID's providers among ``size``: its first page of 50, and all of them.

    Each is timed three ways, taken in turn round after round (medians):
    what ``accessible_providers_page`` and ``accessible_providers`` call
    (``page_by_tax_id`` and ``by_tax_id``, records built); the same SQL
    through the bare driver connection (psycopg or sqlite3: the round trip
    and the driver's rows, no records); and, on PostgreSQL, the query's
    execution time inside the server (``EXPLAIN (ANALYZE)``, which neither
    converts the rows to text nor sends them).
    """
    directory = SqlProviderDirectory(engine)
    directory.upsert(group_roster(size))
    directory.refresh_statistics()
    raw = engine.raw_connection()
    driver: Any = raw.driver_connection
    if engine.dialect.name == "postgresql":
        driver.autocommit = True  # as the directory reads: no BEGIN, no ROLLBACK

    def page() -> Sequence[object]:
        return directory.page_by_tax_id(GROUP_TAX_ID, after=None, limit=51, search=None)

    def everyone() -> Sequence[object]:
        return directory.by_tax_id(GROUP_TAX_ID)

    first_page = {"value": GROUP_TAX_ID, "after": "", "limit": 51}
    reads = {
        "page": (51, _group_sides(engine, driver, page, sql_directory._PAGE, first_page)),
        "all": (size, _group_sides(engine, driver, everyone, sql_directory._BY_TAX_ID,
                                   {"value": GROUP_TAX_ID})),
    }  # fmt: skip
    timings: dict[str, list[tuple[float, float, float]]] = {"page": [], "all": []}
    try:
        for n in range(rounds):
            for name in ("page", "all") if n % 10 == 0 else ("page",):
                expected, side = reads[name]
                executed = side.executed() if side.executed is not None else math.nan
                timings[name].append(
                    (_timed(side.ours, expected), _timed(side.bare, expected), executed)
                )
    finally:
        raw.close()
    bare_name = "psycopg" if engine.dialect.name == "postgresql" else "sqlite3"
    for name, title in (("page", f"first page of 50 among {size:,}"), ("all", f"all {size:,}")):
        ours, bare, executed = (
            statistics.median(column) for column in zip(*timings[name], strict=True)
        )
        heading = f"Tax ID {title}, {label} / bare {bare_name}"
        if name == "page" and engine.dialect.name == "postgresql":
            report(heading, _ratio(ours, bare), "<= 2 ms", ours <= 2e-3)
        else:
            print(f"{heading:<46} {_ratio(ours, bare):>34}")
        if not math.isnan(executed):
            for who, figure in (("the same", ours), ("bare driver", bare)):
                line = f"  ({who} / EXPLAIN ANALYZE execution)"
                print(f"{line:<46} {_ratio(figure, executed):>34}")


def bench_lockout_pauses(keys: int) -> None:
    """The longest single ``record_failure`` over ``keys`` keys, two passes (the second purges).

    Beside it, the same passes over a plain dictionary of ``LockoutState``
    objects (what the store kept before): the collector walks those.
    """

    class Plain:
        def __init__(self) -> None:
            self.states: dict[str, LockoutState] = {}

        def record_failure(
            self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
        ) -> LockoutState:
            state = self.states.get(key, LockoutState(0))
            state = self.states[key] = state.after_failure(
                now, max_failures=max_failures, lock_for=lock_for
            )
            return state

    def longest(store: MemoryLockoutStore | Plain) -> tuple[float, float]:
        """The longest call in CPU time (the store's own) and in wall time (the machine's too)."""
        worst_cpu = worst_wall = 0.0
        now = datetime(2026, 1, 5, tzinfo=UTC)
        lock_for = timedelta(minutes=10)
        for second_pass in (False, True):
            for n in range(keys):
                if n % 1000 == 0:
                    now += timedelta(seconds=1 if second_pass else 0.0006)
                wall, cpu = time.perf_counter(), time.thread_time()
                store.record_failure(
                    f"user{n}@{second_pass}", now=now, max_failures=5, lock_for=lock_for
                )
                worst_cpu = max(worst_cpu, time.thread_time() - cpu)
                worst_wall = max(worst_wall, time.perf_counter() - wall)
        return worst_cpu, worst_wall

    gc.collect()
    ours, ours_wall = longest(MemoryLockoutStore())
    gc.collect()
    plain, plain_wall = longest(Plain())
    gc.collect()
    figure = f"{ours * 1e3:.1f} ms (dict of states: {plain * 1e3:.1f} ms)"
    report(f"lockout longest pause (CPU), {keys:,} keys", figure, "<= 20 ms", ours <= 20e-3)
    figure = f"{ours_wall * 1e3:.1f} ms (dict of states: {plain_wall * 1e3:.1f} ms)"
    print(f"{'  (longest pause, wall clock)':<46} {figure:>34}")


def bench_redis(url: str, calls: int) -> None:
    """A failed login's lockout work: ``record_failure``, whose returned status is the check.

    The service counts an attempt before it checks the password, and the
    count's reply says whether the attempt is admitted, so one call (one
    round trip) is the whole of it. A separate ``check`` afterwards (a
    second round trip, which a login does not make) is shown for comparison.
    """
    client = redis.Redis.from_url(url)
    prefix = f"provider-identity-bench:{secrets.token_hex(4)}:"
    tracker = LockoutTracker(store=RedisLockoutStore(client, prefix=prefix), clock=ManualClock())

    def block(step: Callable[[str], object], calls: int) -> float:
        start = time.perf_counter()
        for n in range(calls):
            step(f"user{n % 100}")
        return (time.perf_counter() - start) / calls

    def fail_then_check(key: str) -> None:
        tracker.record_failure(key)
        tracker.check(key)

    def incr(key: str) -> None:
        client.incr(f"{prefix}bare:{key}")

    # Short blocks taken in turn, so that a noisy neighbour slows all three alike;
    # the figures are the medians over the rounds.
    rounds: list[tuple[float, float, float]] = []
    try:
        for _ in range(max(calls // 100, 5)):
            rounds.append(
                (block(incr, 100), block(tracker.record_failure, 100), block(fail_then_check, 100))
            )
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
    bare, ours, separate = (statistics.median(column) for column in zip(*rounds, strict=True))
    ratio = ours / bare
    figure = f"{ours * 1e6:.0f} µs / {bare * 1e6:.0f} µs = {ratio:.2f}"
    report("lockout record_failure (+check) via Redis / INCR", figure, "<= 1.5", ratio <= 1.5)
    figure = f"{separate * 1e6:.0f} µs / {bare * 1e6:.0f} µs = {separate / bare:.2f}"
    print(f"{'  (then a separate check: two round trips)':<46} {figure:>34}")


def postgres_engine(url: str) -> tuple[Engine, str]:
    schema = f"pi_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    engine = make_engine(url).execution_options(schema_translate_map={None: schema})
    return engine, schema


def drop_schema(url: str, schema: str) -> None:
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


SECTIONS = ("import", "linear", "nppes", "page", "lockout", "redis")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--linear", type=int, nargs="+", default=[1_000_000, 4_000_000],
                        help="roster sizes whose SQLite import rates are compared")  # fmt: skip
    parser.add_argument(
        "--group", type=int, default=10_000, help="providers under the paged Tax ID"
    )
    parser.add_argument("--keys", type=int, default=1_000_000, help="lockout keys")
    parser.add_argument(
        "--nppes-rows",
        type=int,
        default=200_000,
        help="rows of the generated NPPES-layout file (2000000 for the target)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the NPPES import")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    rows, only = args.rows, set(args.only)
    samples = min(rows, 2000)
    postgres_url = os.environ.get("PROVIDER_IDENTITY_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="provider-identity-bench-") as folder:
        if "import" in only:
            roster = write_roster(Path(folder), rows)
            sqlite = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            create_schema(sqlite)
            bench_import("SQLite", sqlite, roster, rows)
            bench_match("SQLite", sqlite, rows, samples)
            sqlite.dispose()
        if "linear" in only:
            bench_import_linear(Path(folder), tuple(args.linear))
        if "page" in only:
            sqlite = make_engine(f"sqlite:///{Path(folder) / 'group.db'}")
            create_schema(sqlite)
            bench_group_reads("SQLite", sqlite, args.group, rounds=300)
            sqlite.dispose()
        if postgres_url and only & {"import", "nppes", "page"}:
            engine, schema = postgres_engine(postgres_url)
            try:
                create_schema(engine)
                if "import" in only:
                    bench_import("PostgreSQL", engine, roster, rows)
                    bench_match("PostgreSQL", engine, rows, samples)
                if "nppes" in only:
                    nppes = write_nppes(Path(folder), args.nppes_rows)
                    bench_nppes(engine, nppes, args.nppes_rows, args.rounds)
                    nppes.unlink()
                if "page" in only:
                    bench_group_reads("PostgreSQL", engine, args.group, rounds=300)
            finally:
                engine.dispose()
                drop_schema(postgres_url, schema)
    if "lockout" in only:
        bench_lockout_pauses(args.keys)
    redis_url = os.environ.get("PROVIDER_IDENTITY_TEST_REDIS_URL")
    if redis_url and "redis" in only:
        bench_redis(redis_url, calls=2000)


if __name__ == "__main__":
    main()
