"""LockoutPolicy and LockoutTracker over MemoryLockoutStore: counting, locking, expiry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from provider_identity import ConfigurationError, LockoutPolicy, LockoutStatus, LockoutTracker
from provider_identity.lockout import Throttle
from provider_identity.testing import ManualClock, MemoryLockoutStore

DAY = timedelta(hours=24)


def tracker(
    clock: ManualClock, store: MemoryLockoutStore | None = None, **kwargs: object
) -> LockoutTracker:
    return LockoutTracker(store=store or MemoryLockoutStore(), clock=clock, **kwargs)  # type: ignore[arg-type]


def fail(tracker: LockoutTracker, key: str, times: int) -> list[LockoutStatus]:
    return [tracker.record_failure(key) for _ in range(times)]


def test_policy_defaults_are_five_failures_and_a_day() -> None:
    """The seed: too many incorrect attempts lock for 24 hours."""
    assert LockoutPolicy() == LockoutPolicy(max_failures=5, lock_duration=DAY)


@given(st.integers(min_value=-1000, max_value=1000))
def test_policy_accepts_max_failures_from_one_to_a_hundred(max_failures: int) -> None:
    """NIST caps consecutive failures at 100; fewer than one makes no sense."""
    if 1 <= max_failures <= 100:
        assert LockoutPolicy(max_failures=max_failures).max_failures == max_failures
    else:
        with pytest.raises(ConfigurationError):
            LockoutPolicy(max_failures=max_failures)


@pytest.mark.parametrize(
    "duration", [timedelta(0), timedelta(seconds=-1), timedelta(microseconds=-1)]
)
def test_policy_refuses_non_positive_durations(duration: timedelta) -> None:
    """A lock must last some time."""
    with pytest.raises(ConfigurationError):
        LockoutPolicy(lock_duration=duration)


def test_fifth_failure_locks_for_a_day_and_later_ones_are_not_admitted(
    clock: ManualClock,
) -> None:
    """Failures 1-5 are admitted (5th locks until now + 24 h); the 6th is refused."""
    locks = tracker(clock)
    statuses = fail(locks, "jdoe", 6)
    assert [s.failures for s in statuses] == [1, 2, 3, 4, 5, 6]
    assert [s.admitted for s in statuses] == [True] * 5 + [False]
    assert [s.is_locked for s in statuses] == [False] * 4 + [True, True]
    assert statuses[4].locked_until == clock.now() + DAY
    assert locks.check("jdoe") == LockoutStatus(
        failures=6, locked_until=clock.now() + DAY, admitted=False
    )


def test_lock_ends_exactly_at_locked_until(clock: ManualClock) -> None:
    """Still locked a second before 24 h; unlocked and zeroed at 24 h."""
    locks = tracker(clock)
    until = fail(locks, "jdoe", 5)[-1].locked_until
    clock.advance(DAY - timedelta(seconds=1))
    assert locks.check("jdoe").locked_until == until
    clock.advance(1)
    assert locks.check("jdoe") == LockoutStatus(failures=0, locked_until=None)
    assert locks.record_failure("jdoe").failures == 1


def test_attempts_while_locked_do_not_extend_the_lock(clock: ManualClock) -> None:
    """Hammering a locked account keeps the original end of the lock."""
    locks = tracker(clock)
    until = fail(locks, "jdoe", 5)[-1].locked_until
    for _ in range(10):
        clock.advance(hours=2)
        assert locks.record_failure("jdoe").locked_until == until
    clock.advance(hours=4)
    assert not locks.check("jdoe").is_locked


@pytest.mark.parametrize("clear", [LockoutTracker.record_success, LockoutTracker.unlock])
def test_success_and_unlock_zero_the_count(clock: ManualClock, clear: object) -> None:
    """After a success or an unlock the next failure is the first again."""
    locks = tracker(clock)
    fail(locks, "jdoe", 7)
    clear(locks, "jdoe")  # type: ignore[operator]
    assert locks.check("jdoe") == LockoutStatus(failures=0, locked_until=None)
    assert locks.record_failure("jdoe").failures == 1


def test_failures_are_forgotten_a_lock_duration_after_the_latest(clock: ManualClock) -> None:
    """A run of failures below the limit expires ``lock_duration`` after the last one."""
    locks = tracker(clock)
    fail(locks, "jdoe", 3)
    clock.advance(DAY - timedelta(seconds=1))
    assert locks.record_failure("jdoe").failures == 4
    clock.advance(DAY)
    assert locks.check("jdoe").failures == 0


def test_check_changes_nothing(clock: ManualClock) -> None:
    """Checking is read-only."""
    locks = tracker(clock)
    fail(locks, "jdoe", 2)
    for _ in range(10):
        assert locks.check("jdoe").failures == 2
    assert locks.check("other").failures == 0


def test_keys_and_namespaces_are_independent(clock: ManualClock) -> None:
    """One store serves several uses; neither keys nor namespaces share counters."""
    store = MemoryLockoutStore()
    login, answers = tracker(clock, store), tracker(clock, store, namespace="answers")
    fail(login, "jdoe", 5)
    assert login.check("jdoe").is_locked
    assert answers.check("jdoe") == LockoutStatus(failures=0, locked_until=None)
    assert login.check("mvr-admin").failures == 0
    answers.record_failure("jdoe")
    login.unlock("jdoe")
    assert answers.check("jdoe").failures == 1


def test_parallel_failures_admit_exactly_the_limit(clock: ManualClock) -> None:
    """50 simultaneous wrong attempts: exactly max_failures of them get checked."""
    locks = tracker(clock)
    barrier = threading.Barrier(50)
    results: list[LockoutStatus] = []
    guard = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        status = locks.record_failure("jdoe")
        with guard:
            results.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(status.admitted for status in results) == 5
    assert sorted(status.failures for status in results) == list(range(1, 51))
    assert locks.check("jdoe").failures == 50


@attrs.define
class Model:
    """The rules, written plainly: a run of failures, a lock, and when each is forgotten."""

    policy: LockoutPolicy
    failures: int = 0
    last_failure: datetime | None = None
    locked_until: datetime | None = None

    def end(self) -> datetime | None:
        """When the lock, or else the run of failures, is forgotten."""
        if self.locked_until is not None or self.last_failure is None:
            return self.locked_until
        return self.last_failure + self.policy.lock_duration

    def forget_if_over(self, now: datetime) -> None:
        end = self.end()
        if end is not None and now >= end:
            self.failures, self.last_failure, self.locked_until = 0, None, None

    def fail(self, now: datetime) -> None:
        self.forget_if_over(now)
        self.failures += 1
        self.last_failure = now
        if self.locked_until is None and self.failures == self.policy.max_failures:
            self.locked_until = now + self.policy.lock_duration

    def status(self, now: datetime) -> LockoutStatus:
        self.forget_if_over(now)
        return LockoutStatus(
            failures=self.failures,
            locked_until=self.locked_until,
            admitted=self.failures <= self.policy.max_failures,
        )


KEYS = ("jdoe", "mvr-admin")


class LockoutMachine(RuleBasedStateMachine):
    """LockoutTracker + MemoryLockoutStore behave like Model under any sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.store = MemoryLockoutStore()
        self.models: dict[str, Model] = {}

    @initialize(
        max_failures=st.integers(min_value=1, max_value=6),
        seconds=st.integers(min_value=1, max_value=120),
    )
    def configure(self, max_failures: int, seconds: int) -> None:
        policy = LockoutPolicy(max_failures=max_failures, lock_duration=timedelta(seconds=seconds))
        self.tracker = tracker(self.clock, self.store, policy=policy)
        self.models = {key: Model(policy) for key in KEYS}

    @precondition(lambda self: self.models)
    @rule(key=st.sampled_from(KEYS))
    def fail(self, key: str) -> None:
        self.models[key].fail(self.clock.now())
        assert self.tracker.record_failure(key) == self.models[key].status(self.clock.now())

    @precondition(lambda self: self.models)
    @rule(key=st.sampled_from(KEYS), how=st.sampled_from(["record_success", "unlock"]))
    def clear(self, key: str, how: str) -> None:
        getattr(self.tracker, how)(key)
        self.models[key] = Model(self.models[key].policy)

    @rule(seconds=st.integers(min_value=0, max_value=150))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def purge(self) -> None:
        self.store.purge(self.clock.now())

    @invariant()
    def statuses_agree(self) -> None:
        for key, model in self.models.items():
            assert self.tracker.check(key) == model.status(self.clock.now())


LockoutMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestLockoutMachine = LockoutMachine.TestCase


def test_throttle_allows_max_uses_then_refuses_until_the_pause_ends() -> None:
    """A Throttle admits ``max_failures`` uses per key, refuses the next, and allows again later."""
    clock = ManualClock()
    throttle = Throttle(
        store=MemoryLockoutStore(),
        policy=LockoutPolicy(max_failures=2, lock_duration=timedelta(hours=1)),
        clock=clock,
        namespace="mail",
    )
    assert [throttle.allow("a") for _ in range(3)] == [True, True, False]
    assert throttle.allow("b")  # keys are counted apart
    clock.advance(timedelta(hours=1))
    assert throttle.allow("a")


def test_throttle_reset_forgets_the_uses_of_one_key() -> None:
    """After ``reset`` a key has its full allowance again; other namespaces are untouched."""
    store = MemoryLockoutStore()
    policy = LockoutPolicy(max_failures=1)
    mail = Throttle(store=store, policy=policy, clock=ManualClock(), namespace="mail")
    other = Throttle(store=store, policy=policy, clock=ManualClock(), namespace="other")
    assert mail.allow("a")
    assert other.allow("a")
    assert not mail.allow("a")
    mail.reset("a")
    assert mail.allow("a")
    assert not other.allow("a")
