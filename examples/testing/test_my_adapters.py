"""Holding your own adapters to the library's rules with the state machines.

``DictLockoutStore`` stands for the LockoutStore you write for your database
or cache. Each machine gets fresh adapters from the factory you pass, drives
them for many random sequences of steps, and shrinks any failure to a short
story you can read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from hypothesis import settings

from provider_identity import LockoutState
from provider_identity.testing.state_machines import AccountLifecycleMachine, LockoutStoreMachine


class DictLockoutStore:
    """Your adapter: a LockoutStore (structurally; no base class needed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, LockoutState] = {}

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        with self._lock:  # one atomic step, as the port requires
            state = self._rows.get(key, LockoutState(failures=0))
            state = state.after_failure(now, max_failures=max_failures, lock_for=lock_for)
            self._rows[key] = state
            return state

    def get(self, key: str) -> LockoutState | None:
        return self._rows.get(key)

    def clear(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)


QUICK = settings(max_examples=20, stateful_step_count=20, deadline=None)

TestDictLockoutStore = LockoutStoreMachine.with_store(DictLockoutStore).TestCase
TestDictLockoutStore.settings = QUICK

TestAccountLifecycle = AccountLifecycleMachine.with_adapters(lockouts=DictLockoutStore).TestCase
TestAccountLifecycle.settings = QUICK
