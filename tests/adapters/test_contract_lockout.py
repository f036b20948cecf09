"""Every LockoutStore adapter performs LockoutState.after_failure atomically, alike."""

from __future__ import annotations

import random
import threading
from datetime import UTC, timedelta, timezone
from typing import Any

from provider_identity import LockoutState
from tests.adapters.builders import NOW

DAY = timedelta(hours=24)


def test_locks_at_the_limit_and_never_extends(lockout_store: Any) -> None:
    """The lock is set when the count reaches the limit and is not moved by later failures."""
    states = [
        lockout_store.record_failure(
            "k", now=NOW + timedelta(minutes=i), max_failures=3, lock_for=DAY
        )
        for i in range(5)
    ]
    assert [s.failures for s in states] == [1, 2, 3, 4, 5]
    assert [s.locked_until for s in states[:2]] == [None, None]
    assert {s.locked_until for s in states[2:]} == {NOW + timedelta(minutes=2) + DAY}
    assert {s.expires_at for s in states[2:]} == {NOW + timedelta(minutes=2) + DAY}
    assert lockout_store.get("k") == states[-1]


def test_forgets_an_ended_lock(lockout_store: Any) -> None:
    """At the lock's end the next failure starts a fresh count."""
    lockout_store.record_failure("k", now=NOW, max_failures=1, lock_for=DAY)
    state = lockout_store.record_failure("k", now=NOW + DAY, max_failures=2, lock_for=DAY)
    assert state == LockoutState(failures=1, locked_until=None, expires_at=NOW + 2 * DAY)


def test_forgets_a_stale_run_of_failures(lockout_store: Any) -> None:
    """Failures older than lock_for without a lock no longer count."""
    lockout_store.record_failure("k", now=NOW, max_failures=2, lock_for=DAY)
    almost = lockout_store.record_failure(
        "k", now=NOW + DAY - timedelta(microseconds=1), max_failures=3, lock_for=DAY
    )
    assert almost.failures == 2
    later = NOW + 3 * DAY
    assert lockout_store.record_failure("k", now=later, max_failures=2, lock_for=DAY).failures == 1


def test_clear_forgets_the_count_and_the_lock(lockout_store: Any) -> None:
    """After clear, get finds nothing and the next failure counts from one."""
    lockout_store.record_failure("k", now=NOW, max_failures=1, lock_for=DAY)
    lockout_store.clear("k")
    lockout_store.clear("never-seen")
    assert lockout_store.get("k") is None
    assert lockout_store.record_failure("k", now=NOW, max_failures=1, lock_for=DAY).failures == 1


def test_keys_are_independent(lockout_store: Any) -> None:
    """Failures of one key never touch another, however similar its name."""
    lockout_store.record_failure("login:a", now=NOW, max_failures=5, lock_for=DAY)
    lockout_store.record_failure("login:a", now=NOW, max_failures=5, lock_for=DAY)
    lockout_store.record_failure("login:A", now=NOW, max_failures=5, lock_for=DAY)
    assert lockout_store.get("login:a").failures == 2
    assert lockout_store.get("login:A").failures == 1
    assert lockout_store.get("login:") is None


def test_times_are_instants_kept_to_the_microsecond(lockout_store: Any) -> None:
    """A time in another zone is the same instant, kept to the microsecond."""
    plus_two = NOW.astimezone(timezone(timedelta(hours=2)))
    state = lockout_store.record_failure("k", now=plus_two, max_failures=1, lock_for=DAY)
    assert state.locked_until == NOW + DAY
    stored = lockout_store.get("k")
    assert stored.locked_until.astimezone(UTC) == NOW + DAY
    assert stored.locked_until.astimezone(UTC).microsecond == NOW.microsecond


def test_matches_the_reference_step_on_a_random_walk(lockout_store: Any) -> None:
    """200 failures at random times and limits give exactly after_failure's states."""
    chooser = random.Random(20260105)
    steps = [timedelta(0), timedelta(seconds=1), timedelta(hours=1), DAY, DAY + timedelta(1)]
    now, expected = NOW, None
    for _ in range(200):
        now += chooser.choice(steps)
        limit = chooser.randint(1, 6)
        lock_for = chooser.choice([timedelta(minutes=30), DAY])
        key = chooser.choice(["k"] * 9 + ["reset"])
        if key == "reset":
            lockout_store.clear("k")
            expected = None
            continue
        expected = (expected or LockoutState(failures=0)).after_failure(
            now, max_failures=limit, lock_for=lock_for
        )
        assert (
            lockout_store.record_failure("k", now=now, max_failures=limit, lock_for=lock_for)
            == expected
        )
        assert lockout_store.get("k") == expected


def test_parallel_failures_are_all_counted(lockout_store: Any) -> None:
    """8 threads x 25 failures: the count is 200 and exactly one step set the lock."""
    barrier = threading.Barrier(8)
    states: list[LockoutState] = []

    def fail() -> None:
        barrier.wait()
        for _ in range(25):
            states.append(lockout_store.record_failure("k", now=NOW, max_failures=5, lock_for=DAY))

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s.failures for s in states) == list(range(1, 201))
    assert sum(s.locked_until is None for s in states) == 4
    assert lockout_store.get("k").failures == 200
