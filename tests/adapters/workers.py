"""What the multi-process tests run in each child: picklable specs and worker functions.

Children are started by a ``forkserver`` that preloads this module, so each
starts in milliseconds and none inherits a parent's connections.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import attrs
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from provider_identity import (
    AccountLocked,
    AlreadyRegistered,
    IdentityError,
    IdentityService,
    InvalidCredentials,
    Limiter,
    LimitKind,
    PasswordHasher,
    ProviderCategory,
    ProviderRecord,
    RateLimit,
    RateLimits,
    TokenIssuer,
    UsernameUnavailable,
    Window,
)
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlLockoutStore,
    SqlProviderDirectory,
    make_engine,
)
from provider_identity.passwords import TEST_ONLY_CHEAPEST
from provider_identity.roster import import_roster
from provider_identity.testing import (
    ManualClock,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    sample_records,
)
from tests.helpers import KEY, practitioner

#: Processes in each race, as the issue asks.
PROCESSES = 8
ATTEMPTS = 50
WRONG_PASSWORD = "Not-The-Password-1"


@attrs.frozen
class Database:
    """How any process reaches a test database: a URL, and a PostgreSQL schema if any."""

    url: str
    schema: str | None = None

    def engine(self) -> Engine:
        """A new engine (with its own pool) for this database."""
        options = {"connect_timeout": 5} if self.url.startswith("postgresql") else {}
        engine = make_engine(self.url, connect_args=options)
        if self.schema is None:
            return engine
        return engine.execution_options(schema_translate_map={None: self.schema})


@attrs.frozen
class LockoutBackend:
    """Where the children count failures: a database, or Redis under a prefix."""

    database: Database | None = None
    redis_url: str | None = None
    redis_prefix: str = ""

    def store(self) -> Any:
        """A new LockoutStore for this backend."""
        if self.database is not None:
            return SqlLockoutStore(self.database.engine())
        assert self.redis_url is not None
        return RedisLockoutStore(redis.Redis.from_url(self.redis_url), prefix=self.redis_prefix)


@attrs.frozen(kw_only=True)
class CountingHasher(PasswordHasher):
    """A cheapest hasher that appends a line to ``log`` per verification of ``counted_hash``.

    Appends of a few bytes to one file are atomic across processes, so the
    file's line count is the number of real verifications by everyone.
    """

    counted_hash: str = ""
    log: str = ""

    def verify(self, password_hash: str, password: str) -> bool:
        if password_hash == self.counted_hash:
            with open(self.log, "a", encoding="ascii") as log:
                log.write("verify\n")
        return super().verify(password_hash, password)


def race_records() -> tuple[ProviderRecord, ...]:
    """Eight practitioners, one per racing process (deterministic in every process)."""
    return tuple(
        ProviderRecord(
            provider_id=f"R900000{n}",
            tax_id=f"41-00000{n:02d}",
            name=f"Racer Number {n}",
            zip_codes=("45402",),
            category=ProviderCategory.PRIMARY_CARE,
        )
        for n in range(PROCESSES)
    )


def service(accounts: Engine, lockouts: Any, hasher: PasswordHasher) -> IdentityService:
    """An IdentityService over the shared stores, at a fixed time, with fakes for the rest."""
    clock = ManualClock()
    return IdentityService(
        directory=MemoryProviderDirectory((*sample_records(), *race_records())),
        accounts=SqlAccountRepository(accounts),
        lockouts=lockouts,
        mailer=RecordingMailer(),
        events=RecordingEventSink(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=hasher,
    )


def wrong_logins(
    accounts: Database,
    lockouts: LockoutBackend,
    hasher: CountingHasher,
    barrier: Barrier,
    results: Queue[dict[str, int]],
) -> None:
    """Wait for the others, then try ATTEMPTS wrong passwords for jdoe; report the outcomes."""
    identity = service(accounts.engine(), lockouts.store(), hasher)
    outcomes: Counter[str] = Counter()
    barrier.wait()
    for _ in range(ATTEMPTS):
        try:
            identity.login("jdoe", WRONG_PASSWORD)
        except InvalidCredentials:
            outcomes["invalid"] += 1
        except AccountLocked:
            outcomes["locked"] += 1
    results.put(dict(outcomes))


#: The limit the racing processes share in the rate-limit races.
RACE_LIMIT = 10


def limited_hits(
    lockouts: LockoutBackend, window: Window, barrier: Barrier, results: Queue[int]
) -> None:
    """Wait for the others, then try ATTEMPTS hits on one limit; report how many were admitted."""
    limits = attrs.evolve(
        RateLimits.off(),
        login=RateLimit(limit=RACE_LIMIT, period=timedelta(hours=1), window=window),
    )
    limiter = Limiter(store=lockouts.store(), limits=limits, clock=ManualClock())
    barrier.wait()
    admitted = sum(limiter.hit(LimitKind.LOGIN, "203.0.113.1").admitted for _ in range(ATTEMPTS))
    results.put(admitted)


def guessed_zip_codes(
    accounts: Database,
    lockouts: LockoutBackend,
    n: int,
    barrier: Barrier,
    results: Queue[dict[str, int]],
) -> None:
    """Process ``n`` guesses Jane Doe's ZIP ATTEMPTS times, from addresses of its own."""
    identity = service(
        accounts.engine(), lockouts.store(), PasswordHasher(parameters=TEST_ONLY_CHEAPEST)
    )
    outcomes: Counter[str] = Counter()
    barrier.wait()
    for attempt in range(ATTEMPTS):
        try:
            identity.register(
                practitioner(zip_code=f"{44000 + attempt:05d}"),
                client_address=f"10.{n}.{attempt}.1",
            )
        except IdentityError as err:
            outcomes[err.code] += 1
    results.put(dict(outcomes))


def driver_errors(engine: Engine) -> list[str]:
    """The class and SQLSTATE of each driver error ``engine`` meets, filled in as they happen.

    A store reports them all as ``store_unavailable``; a race that fails
    says with this which one it was (a deadlock, too many connections ...).
    """
    seen: list[str] = []

    @sa.event.listens_for(engine, "handle_error")
    def _note(context: sa.engine.ExceptionContext) -> None:
        error = context.original_exception
        seen.append(f"{type(error).__name__} {getattr(error, 'sqlstate', None) or ''}".strip())

    return seen


#: The username and email of half the ``crossed`` racers; the other half swap them.
CROSSED = ("cross.a@example.org", "cross.b@example.org")


def register(
    accounts: Database,
    n: int,
    same: str,
    barrier: Barrier,
    results: Queue[str],
) -> None:
    """Register racer ``n`` with the same username (or provider); report the outcome.

    ``crossed``: half the racers take address A as username and B as email,
    the other half B and A, so any two of them clash on both keys.
    """
    engine = accounts.engine()
    failures = driver_errors(engine)
    identity = service(engine, MemoryLockoutStore(), PasswordHasher(parameters=TEST_ONLY_CHEAPEST))
    record = race_records()[0 if same == "provider" else n]
    username, email = "racer" if same == "username" else f"racer{n}", f"racer{n}@example.org"
    if same == "crossed":
        username, email = CROSSED if n % 2 else CROSSED[::-1]
    request = practitioner(
        name=record.name,
        tax_id=record.tax_id,
        provider_id=record.provider_id,
        username=username,
        email=email,
    )
    barrier.wait()
    try:
        identity.register(request)
    except (UsernameUnavailable, AlreadyRegistered) as err:
        results.put(err.code)
    except IdentityError as err:  # pragma: no cover  # reported to the parent as a failure
        results.put(f"unexpected {err.code} {failures}")
    else:
        results.put("registered")


RACED_EMAIL = "race@example.org"


def confirm_or_register(
    accounts: Database,
    role: str,
    n: int,
    token: str,
    barrier: Barrier,
    results: Queue[str],
) -> None:
    """Confirm the email change to RACED_EMAIL, or register racer ``n`` with that address."""
    engine = accounts.engine()
    failures = driver_errors(engine)
    identity = service(engine, MemoryLockoutStore(), PasswordHasher(parameters=TEST_ONLY_CHEAPEST))
    record = race_records()[n]
    request = practitioner(
        name=record.name,
        tax_id=record.tax_id,
        provider_id=record.provider_id,
        username=f"racer{n}",
        email=RACED_EMAIL,
    )
    barrier.wait()
    try:
        if role == "confirm":
            identity.confirm_email_change(token)
        else:
            identity.register(request)
    except UsernameUnavailable as err:
        results.put(err.code)
    except IdentityError as err:  # pragma: no cover  # reported to the parent as a failure
        results.put(f"unexpected {err.code} {failures}")
    else:
        results.put(f"{role}ed")


def import_and_die(database: Database, roster: bytes, batch_size: int, die_at_batch: int) -> None:
    """Import ``roster``; SIGKILL this process inside batch ``die_at_batch``, before it commits."""
    engine = database.engine()
    written = Counter[str]()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _maybe_die(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO") and "identity_providers (" in statement:
            written["batches"] += 1
            if written["batches"] == die_at_batch:
                os.kill(os.getpid(), signal.SIGKILL)

    import_roster(
        roster.splitlines(keepends=True), SqlProviderDirectory(engine), batch_size=batch_size
    )
