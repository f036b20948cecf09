"""A FactorStore in Redis (extra ``redis``): each write one compare-and-set script.

Each account's record is a hash with ``revision`` and ``data`` (the record's
JSON: TOTP secrets sealed, recovery codes as keyed digests). A Lua script
compares the stored revision and writes in one atomic step, so of two
parallel logins with one code exactly one lands.

Usage::

    client = redis.Redis.from_url("redis://localhost:6379/0")
    factors = RedisFactorStore(client, prefix="portal:factors:")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis

from provider_identity.adapters.redis import _answered
from provider_identity.errors import ConcurrentUpdate
from provider_identity.mfa.records import FactorRecord
from provider_identity.ports import FactorStore

__all__ = ["DEFAULT_FACTOR_PREFIX", "RedisFactorStore"]

#: Prepended to every key.
DEFAULT_FACTOR_PREFIX = "provider-identity:factors:"

# KEYS[1]: the record's key. ARGV: expected revision, new revision, data. Returns 1 if written.
_PUT = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if stored ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'revision', ARGV[2], 'data', ARGV[3])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisFactorStore:
    """Second-factor records in Redis hashes (kept until replaced; they do not expire).

    Args:
        client: A redis-py client (``decode_responses`` either way).
        prefix: Prepended to every key.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_FACTOR_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._put = client.register_script(_PUT)

    def get(self, account_id: str) -> FactorRecord | None:
        """The account's record, if any.

        Raises:
            StoreUnavailable: Redis did not answer (and so for :meth:`put`).
        """
        values = _answered(
            lambda: self._client.hmget(self._prefix + account_id, ["revision", "data"])
        )
        revision, data = values
        if revision is None or data is None:
            return None
        return FactorRecord.loads(account_id, int(_text(revision)), _text(data))

    def put(self, record: FactorRecord, *, expected_revision: int) -> None:
        """Store ``record`` if the stored revision is still ``expected_revision`` (0: none).

        Raises:
            ConcurrentUpdate: another write came first.
        """
        if record.revision != expected_revision + 1:
            raise ConcurrentUpdate("A factor record's revision goes up by one per write.")
        written = _answered(
            lambda: self._put(
                keys=[self._prefix + record.account_id],
                args=[expected_revision, record.revision, record.dumps()],
            )
        )
        if int(written) != 1:
            raise ConcurrentUpdate


if TYPE_CHECKING:  # mypy checks here that the store satisfies its port

    def _port(client: redis.Redis) -> FactorStore:
        return RedisFactorStore(client)
