"""Races between processes: every failure is counted once, and one username makes one account.

Eight processes start together (a barrier) through a forkserver that has
imported everything already, so the race is real and each test is quick.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from provider_identity import LockoutPolicy, PasswordHasher, Window
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.sql import SqlLockoutStore, metadata
from provider_identity.passwords import TEST_ONLY_CHEAPEST
from provider_identity.testing import MemoryLockoutStore, RecordingMailer
from tests.adapters.conftest import Target
from tests.adapters.workers import (
    ATTEMPTS,
    PROCESSES,
    RACE_LIMIT,
    RACED_EMAIL,
    CountingHasher,
    LockoutBackend,
    confirm_or_register,
    guessed_zip_codes,
    limited_hits,
    register,
    service,
    wrong_logins,
)
from tests.helpers import PASSWORD, practitioner

TIMEOUT = 60


@pytest.fixture(scope="module")
def context() -> multiprocessing.context.ForkServerContext:
    """A forkserver context whose server has imported the workers already."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.adapters.workers"])
    return ctx


def race(context: Any, target: Callable[..., None], arguments: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in one process per ``args``; their results."""
    barrier = context.Barrier(len(arguments))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for args in arguments
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=TIMEOUT)
    assert [process.exitcode for process in processes] == [0] * len(processes)
    return [results.get(timeout=1) for _ in processes]


@pytest.fixture(params=["postgres", "redis", "sqlite"])
def lockout_backend(request: pytest.FixtureRequest) -> tuple[LockoutBackend, Any]:
    """Where the racing processes count failures, and this process's view of it."""
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        backend = LockoutBackend(
            redis_url=request.getfixturevalue("redis_url"), redis_prefix=prefix
        )
        return backend, RedisLockoutStore(request.getfixturevalue("redis_client"), prefix=prefix)
    target: Target = request.getfixturevalue(request.param)
    return LockoutBackend(database=target.database), SqlLockoutStore(target.engine)


def test_parallel_wrong_passwords_verify_the_real_hash_at_most_max_failures_times(
    context: Any, postgres: Target, lockout_backend: tuple[LockoutBackend, Any], tmp_path: Path
) -> None:
    """8 processes x 50 wrong passwords: 5 real verifications, then locked; all 400 counted."""
    policy = LockoutPolicy()
    backend, lockouts = lockout_backend
    setup = service(
        postgres.engine, MemoryLockoutStore(), CountingHasher(parameters=TEST_ONLY_CHEAPEST)
    )
    registered = setup.register(practitioner())
    stored = setup.accounts.get(registered.account.id)
    assert stored is not None
    log = tmp_path / "verifications.log"
    log.touch()
    hasher = CountingHasher(
        parameters=TEST_ONLY_CHEAPEST, counted_hash=stored.password_hash, log=str(log)
    )

    outcomes = race(
        context,
        wrong_logins,
        [(postgres.database, backend, hasher)] * PROCESSES,
    )

    total: Counter[str] = Counter()
    for outcome in outcomes:
        total.update(outcome)
    attempts = PROCESSES * ATTEMPTS
    assert total == {
        "invalid": policy.max_failures - 1,
        "locked": attempts - policy.max_failures + 1,
    }
    assert len(log.read_text().splitlines()) == policy.max_failures
    state = lockouts.get("login:jdoe")
    assert state.failures == attempts
    assert state.locked_until == setup.clock.now() + policy.lock_duration


@pytest.mark.parametrize("same", ["username", "provider", "crossed"])
@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_parallel_registrations_store_exactly_one_account(
    context: Any, request: pytest.FixtureRequest, database: str, same: str
) -> None:
    """8 processes registering one username (or provider, or crossed keys) at once: one account."""
    target: Target = request.getfixturevalue(database)

    outcomes = race(context, register, [(target.database, n, same) for n in range(PROCESSES)])

    refusal = "already_registered" if same == "provider" else "username_unavailable"
    assert Counter(outcomes) == {"registered": 1, refusal: PROCESSES - 1}
    count = sa.select(sa.func.count()).select_from(metadata.tables["identity_accounts"])
    with target.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == 1


@pytest.mark.parametrize("window", list(Window))
def test_parallel_hits_on_one_rate_limit_admit_exactly_the_limit(
    context: Any, lockout_backend: tuple[LockoutBackend, Any], window: Window
) -> None:
    """8 processes x 50 attempts on one limit of 10: exactly 10 admitted, all processes together."""
    backend, _ = lockout_backend

    admitted = race(context, limited_hits, [(backend, window)] * PROCESSES)

    assert sum(admitted) == RACE_LIMIT


def test_parallel_zip_guesses_for_one_provider_reach_the_matcher_at_most_the_limit(
    context: Any, postgres: Target, lockout_backend: tuple[LockoutBackend, Any]
) -> None:
    """8 processes x 50 guesses from 400 addresses: 10 mismatches in all, the rest refused."""
    backend, _ = lockout_backend

    outcomes = race(
        context,
        guessed_zip_codes,
        [(postgres.database, backend, n) for n in range(PROCESSES)],
    )

    total: Counter[str] = Counter()
    for outcome in outcomes:
        total.update(outcome)
    assert total == {
        "details_mismatch": 10,
        "too_many_attempts": PROCESSES * ATTEMPTS - 10,
    }


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_an_email_change_racing_registrations_of_the_address_has_exactly_one_winner(
    context: Any, request: pytest.FixtureRequest, database: str
) -> None:
    """1 confirmation and 7 registrations of one address at once: one owner, one key row."""
    target: Target = request.getfixturevalue(database)
    setup = service(
        target.engine, MemoryLockoutStore(), PasswordHasher(parameters=TEST_ONLY_CHEAPEST)
    )
    account_id = setup.register(practitioner()).account.id
    mailer = setup.mailer
    assert isinstance(mailer, RecordingMailer)
    setup.activate(mailer.last_token())
    setup.request_email_change(account_id, PASSWORD, RACED_EMAIL)
    token = mailer.last_token(RACED_EMAIL)
    roles = [("confirm", 0)] + [("register", n) for n in range(1, PROCESSES)]

    outcomes = race(
        context,
        confirm_or_register,
        [(target.database, role, n, token) for role, n in roles],
    )

    winners = [outcome for outcome in outcomes if outcome in {"confirmed", "registered"}]
    assert len(winners) == 1, outcomes
    assert Counter(outcomes) == {winners[0]: 1, "username_unavailable": PROCESSES - 1}
    keys = metadata.tables["identity_account_keys"]
    owners = sa.select(keys.c.account_id).where(keys.c.key == RACED_EMAIL)
    with target.engine.connect() as conn:
        (owner,) = conn.execute(owners).scalars().all()
    jane = setup.accounts.get(account_id)
    assert jane is not None
    assert (owner == account_id) == (winners == ["confirmed"])
    assert (jane.email_key == RACED_EMAIL) == (winners == ["confirmed"])
    assert setup.accounts.key_taken("jane.doe@example.org") == (winners != ["confirmed"])
