"""Speed targets of the storage adapters, each beside its baseline in one run.

    python benchmarks/storage.py                  # SQLite, plus PostgreSQL and Redis if set
    python benchmarks/storage.py --rows 100000    # a smaller run

PostgreSQL and Redis come from PROVIDER_IDENTITY_TEST_POSTGRES_URL and
PROVIDER_IDENTITY_TEST_REDIS_URL (a schema of its own is created and dropped;
Redis keys go under a prefix of their own and are deleted).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from provider_identity import LockoutTracker, ProviderType, RegistrationMatcher, RegistrationRequest
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.sql import SqlProviderDirectory, create_schema, make_engine
from provider_identity.registration import ProviderDetails
from provider_identity.roster import import_roster
from provider_identity.testing import ManualClock

HEADER = b"provider_id,npi,tax_id,name,zip_codes,category,payee,lines_of_business\n"


def roster_lines(rows: int) -> Iterator[bytes]:
    yield HEADER
    for n in range(rows):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    samples = min(rows, 2000)
    with tempfile.TemporaryDirectory(prefix="provider-identity-bench-") as folder:
        roster = write_roster(Path(folder), rows)
        sqlite = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        create_schema(sqlite)
        bench_import("SQLite", sqlite, roster, rows)
        bench_match("SQLite", sqlite, rows, samples)
        sqlite.dispose()
        postgres_url = os.environ.get("PROVIDER_IDENTITY_TEST_POSTGRES_URL")
        if postgres_url:
            engine, schema = postgres_engine(postgres_url)
            try:
                create_schema(engine)
                bench_import("PostgreSQL", engine, roster, rows)
                bench_match("PostgreSQL", engine, rows, samples)
            finally:
                engine.dispose()
                drop_schema(postgres_url, schema)
    redis_url = os.environ.get("PROVIDER_IDENTITY_TEST_REDIS_URL")
    if redis_url:
        bench_redis(redis_url, calls=2000)


if __name__ == "__main__":
    main()
