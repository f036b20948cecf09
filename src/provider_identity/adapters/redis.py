"""A LockoutStore in Redis (extra ``redis``, redis-py): one atomic round trip per failure.

Each key holds one string, ``"failures locked_until expires_at"`` (integer
microseconds since the epoch, ``locked_until`` empty when not locked),
rewritten by a Lua script that is :meth:`LockoutState.after_failure`; Redis
runs a script atomically, so concurrent failures from any number of processes
are counted one by one. A plain string costs the script two commands (``GET``
and ``SET ... PX``), which keeps a failure close to the price of a bare
``INCR`` (see ``docs/performance.md``).

The script gives each key a time to live of ``expires_at - now``, so a state
vanishes by itself when it would be forgotten anyway, and nothing grows
without bound. The TTL is relative on purpose: ``now`` comes from the
service's injected clock, which need not agree with the Redis server's.

Usage::

    client = redis.Redis.from_url("redis://localhost:6379/0")
    lockouts = RedisLockoutStore(client, prefix="portal:lockout:")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import redis

from provider_identity.clock import ensure_utc
from provider_identity.errors import StoreUnavailable
from provider_identity.ports import LockoutState, LockoutStore

__all__ = ["DEFAULT_PREFIX", "RedisLockoutStore"]

#: Prepended to every key, so one Redis database can serve several uses.
DEFAULT_PREFIX = "provider-identity:lockout:"

_T = TypeVar("_T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# KEYS[1]: the state's key. ARGV: now, lock_for (microseconds), max_failures.
# Returns the new value, "failures locked_until expires_at", as text (no float rounding).
# Integers up to 2^53 are exact in Lua numbers: microsecond timestamps are far below that.
_RECORD_FAILURE = """
local now = tonumber(ARGV[1])
local lock_for = tonumber(ARGV[2])
local failures, locked_until = 0, nil
local stored = redis.call('GET', KEYS[1])
if stored then
  local count, locked, ends = string.match(stored, '^(%d+) (%d*) (%d+)$')
  if count and now < tonumber(ends) then
    failures = tonumber(count)
    locked_until = tonumber(locked)
  end
end
failures = failures + 1
if locked_until == nil and failures >= tonumber(ARGV[3]) then
  locked_until = now + lock_for
end
local expires_at = locked_until or (now + lock_for)
local value = string.format('%d %s %d', failures,
  locked_until and string.format('%d', locked_until) or '', expires_at)
redis.call('SET', KEYS[1], value, 'PX', math.ceil((expires_at - now) / 1000))
return value
"""


def _micros(moment: datetime) -> int:
    return (ensure_utc(moment) - _EPOCH) // _MICROSECOND


def _moment(micros: str) -> datetime:
    return _EPOCH + int(micros) * _MICROSECOND


def _state(value: bytes | str | None) -> LockoutState | None:
    if value is None:
        return None
    text = value.decode("ascii") if isinstance(value, bytes) else value
    failures, locked_until, expires_at = text.split(" ")
    return LockoutState(
        int(failures),
        _moment(locked_until) if locked_until else None,
        _moment(expires_at),
    )


def _answered(call: Callable[[], _T]) -> _T:
    """``call()``; a server that is down or too slow raises StoreUnavailable instead."""
    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError):
        StoreUnavailable.raise_unchained()


class RedisLockoutStore:
    """Failure counters in Redis strings that expire on their own.

    Args:
        client: A redis-py client (``decode_responses`` either way).
        prefix: Prepended to every key.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_RECORD_FAILURE)

    def _key(self, key: str) -> str:
        return self._prefix + key

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`).

        Raises:
            StoreUnavailable: Redis refused the connection or did not answer in time
                (and so for :meth:`get` and :meth:`clear`).
        """
        reply = _answered(
            lambda: self._script(
                keys=[self._key(key)],
                args=[_micros(now), lock_for // _MICROSECOND, max_failures],
            )
        )
        state = _state(reply)
        assert state is not None  # noqa: S101  # the script always returns a count
        return state

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (Redis drops expired ones by itself)."""
        value: bytes | str | None = _answered(lambda: self._client.get(self._key(key)))
        return _state(value)

    def clear(self, key: str) -> None:
        """Forget ``key``'s count and lock (unlock)."""
        _answered(lambda: self._client.delete(self._key(key)))


if TYPE_CHECKING:  # mypy checks here that the store satisfies its port

    def _port(client: redis.Redis) -> LockoutStore:
        return RedisLockoutStore(client)
