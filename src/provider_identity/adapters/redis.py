"""A LockoutStore in Redis (extra ``redis``, redis-py): one atomic round trip per failure.

Each key is a hash ``{failures, locked_until, expires_at}`` (integer
microseconds since the epoch), updated by a Lua script that is
:meth:`LockoutState.after_failure`; Redis runs a script atomically, so
concurrent failures from any number of processes are counted one by one.

The script gives each key a time to live of ``expires_at - now``, so a state
vanishes by itself when it would be forgotten anyway, and nothing grows
without bound. The TTL is relative on purpose: ``now`` comes from the
service's injected clock, which need not agree with the Redis server's.

Usage::

    client = redis.Redis.from_url("redis://localhost:6379/0")
    lockouts = RedisLockoutStore(client, prefix="portal:lockout:")
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis

from provider_identity.clock import ensure_utc
from provider_identity.lockout import LockoutState
from provider_identity.ports import LockoutStore

__all__ = ["DEFAULT_PREFIX", "RedisLockoutStore"]

#: Prepended to every key, so one Redis database can serve several uses.
DEFAULT_PREFIX = "provider-identity:lockout:"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FIELDS = ("failures", "locked_until", "expires_at")

# KEYS[1]: the state's key. ARGV: now, lock_for (microseconds), max_failures.
# Returns {failures, locked_until or "", expires_at} as strings (no float rounding).
# Integers up to 2^53 are exact in Lua numbers: microsecond timestamps are far below that.
_RECORD_FAILURE = """
local now = tonumber(ARGV[1])
local lock_for = tonumber(ARGV[2])
local max_failures = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'failures', 'locked_until', 'expires_at')
local failures = tonumber(stored[1]) or 0
local locked_until = tonumber(stored[2])
local ends = tonumber(stored[3]) or locked_until
if ends ~= nil and now >= ends then
  failures = 0
  locked_until = nil
end
failures = failures + 1
if locked_until == nil and failures >= max_failures then
  locked_until = now + lock_for
end
local expires_at = locked_until or (now + lock_for)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'failures', failures, 'expires_at', string.format('%d', expires_at))
local locked_text = ''
if locked_until ~= nil then
  locked_text = string.format('%d', locked_until)
  redis.call('HSET', KEYS[1], 'locked_until', locked_text)
end
redis.call('PEXPIRE', KEYS[1], math.ceil((expires_at - now) / 1000))
return {tostring(failures), locked_text, string.format('%d', expires_at)}
"""


def _micros(moment: datetime) -> int:
    return (ensure_utc(moment) - _EPOCH) // _MICROSECOND


def _moment(value: bytes | str | None) -> datetime | None:
    if value is None or value in ("", b""):
        return None
    return _EPOCH + int(value) * _MICROSECOND


def _state(values: Sequence[bytes | str | None]) -> LockoutState | None:
    failures, locked_until, expires_at = values
    if failures is None:
        return None
    return LockoutState(int(failures), _moment(locked_until), _moment(expires_at))


class RedisLockoutStore:
    """Failure counters in Redis hashes that expire on their own.

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
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`)."""
        reply = self._script(
            keys=[self._key(key)],
            args=[_micros(now), lock_for // _MICROSECOND, max_failures],
        )
        state = _state(reply)
        assert state is not None  # noqa: S101  # the script always returns a count
        return state

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (Redis drops expired ones by itself)."""
        values: list[bytes | str | None] = self._client.hmget(self._key(key), _FIELDS)
        return _state(values)

    def clear(self, key: str) -> None:
        """Forget ``key``'s count and lock (unlock)."""
        self._client.delete(self._key(key))


if TYPE_CHECKING:  # mypy checks here that the store satisfies its port

    def _port(client: redis.Redis) -> LockoutStore:
        return RedisLockoutStore(client)
