"""Login lockout: too many incorrect attempts lock the account for a while.

"If you are locked out of your account due to too many incorrect login
attempts ... use the Forgot password? link to reset your password, or you can
wait 24 hours and attempt to log in again."

The same mechanism (a failure counter with a lock) also limits wrong security
answers and throttles activation and reset mail; each use has its own key
namespace.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from provider_identity import _checks
from provider_identity.clock import Clock, SystemClock
from provider_identity.ports import LockoutState, LockoutStore

__all__ = [
    "MAX_FAILURES_CEILING",
    "LockoutPolicy",
    "LockoutState",
    "LockoutStatus",
    "LockoutTracker",
    "Throttle",
]

#: NIST SP 800-63B: no more than 100 consecutive failed attempts.
MAX_FAILURES_CEILING = 100


@attrs.frozen(kw_only=True)
class LockoutPolicy:
    """How many consecutive failures lock, and for how long.

    Attributes:
        max_failures: Failures that lock (default 5, at most 100).
        lock_duration: How long a lock lasts (default 24 hours).
    """

    max_failures: int = attrs.field(
        default=5, validator=_checks.integer(minimum=1, maximum=MAX_FAILURES_CEILING)
    )
    lock_duration: timedelta = attrs.field(
        default=timedelta(hours=24), validator=_checks.duration()
    )


@attrs.frozen(kw_only=True)
class LockoutStatus:
    """A key's lockout status at one moment.

    Attributes:
        failures: Consecutive failures counted (attempts refused while locked included).
        locked_until: When the current lock ends; ``None`` if not locked now.
        admitted: For :meth:`LockoutTracker.record_failure`: whether the attempt
            just counted was within the limit (so it may be checked at all).
    """

    failures: int
    locked_until: datetime | None
    admitted: bool = True

    @property
    def is_locked(self) -> bool:
        """True while a lock is in force."""
        return self.locked_until is not None


_CLEAR = LockoutStatus(failures=0, locked_until=None)


@attrs.frozen(kw_only=True)
class LockoutTracker:
    """Counts failures per key in a LockoutStore and applies a LockoutPolicy.

    Keys are whatever identifies the account (the canonical username for
    logins); ``namespace`` keeps different uses apart in one store.
    """

    store: LockoutStore
    policy: LockoutPolicy = LockoutPolicy()
    clock: Clock = SystemClock()
    namespace: str = "login"

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def _status(self, state: LockoutState | None, now: datetime) -> LockoutStatus:
        if state is None or state.is_expired(now):
            return _CLEAR
        return LockoutStatus(
            failures=state.failures,
            locked_until=state.locked_until,
            admitted=state.failures <= self.policy.max_failures,
        )

    def check(self, key: str) -> LockoutStatus:
        """The status of ``key`` now; changes nothing."""
        return self._status(self.store.get(self._key(key)), self.clock.now())

    def record_failure(self, key: str) -> LockoutStatus:
        """Count a failure atomically; the returned status says if it was admitted.

        Services call this *before* checking a password, so that concurrent
        attempts can never check more than ``max_failures`` passwords; a
        success then calls :meth:`record_success`.
        """
        now = self.clock.now()
        state = self.store.record_failure(
            self._key(key),
            now=now,
            max_failures=self.policy.max_failures,
            lock_for=self.policy.lock_duration,
        )
        return self._status(state, now)

    def record_success(self, key: str) -> None:
        """A success ends the run of failures."""
        self.store.clear(self._key(key))

    def unlock(self, key: str) -> None:
        """End a lock and zero the count (after a password reset, or by an administrator)."""
        self.store.clear(self._key(key))


@attrs.frozen(kw_only=True)
class Throttle:
    """Allows ``policy.max_failures`` uses per key, then none until ``policy.lock_duration`` ends.

    A rate limit (activation and reset mail), kept in a LockoutStore under
    ``namespace``: each :meth:`allow` counts one use, allowed or not.
    """

    store: LockoutStore
    policy: LockoutPolicy
    clock: Clock = SystemClock()
    namespace: str

    def allow(self, key: str) -> bool:
        """Count one use of ``key`` atomically; True if it is within the limit."""
        state = self.store.record_failure(
            f"{self.namespace}:{key}",
            now=self.clock.now(),
            max_failures=self.policy.max_failures,
            lock_for=self.policy.lock_duration,
        )
        return state.failures <= self.policy.max_failures

    def reset(self, key: str) -> None:
        """Forget the uses of ``key`` (the mail did its job)."""
        self.store.clear(f"{self.namespace}:{key}")
