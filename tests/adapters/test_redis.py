"""What only the Redis LockoutStore promises: keys under its prefix that expire by themselves."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis

from provider_identity.adapters.redis import RedisLockoutStore
from tests.adapters.builders import NOW

DAY = timedelta(hours=24)


@pytest.fixture
def store(redis_client: redis.Redis, redis_prefix: str) -> RedisLockoutStore:
    return RedisLockoutStore(redis_client, prefix=redis_prefix)


def test_keys_live_under_the_prefix(
    store: RedisLockoutStore, redis_client: redis.Redis, redis_prefix: str
) -> None:
    """The only key written is the prefix plus the lockout key."""
    store.record_failure("login:jdoe", now=NOW, max_failures=5, lock_for=DAY)
    assert list(redis_client.scan_iter(match=f"{redis_prefix}*")) == [
        f"{redis_prefix}login:jdoe".encode()
    ]


def test_a_running_count_expires_lock_for_after_the_latest_failure(
    store: RedisLockoutStore, redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Without a lock, the key lives lock_for from the latest failure, then vanishes."""
    store.record_failure("k", now=NOW, max_failures=5, lock_for=timedelta(minutes=30))
    store.record_failure("k", now=NOW, max_failures=5, lock_for=DAY)
    ttl = redis_client.pttl(f"{redis_prefix}k")
    assert DAY - timedelta(seconds=5) < timedelta(milliseconds=ttl) <= DAY


def test_a_lock_expires_when_it_ends_and_is_not_extended(
    store: RedisLockoutStore, redis_client: redis.Redis, redis_prefix: str
) -> None:
    """A locked key lives until the lock's end; later failures do not push it further."""
    store.record_failure("k", now=NOW, max_failures=1, lock_for=DAY)
    store.record_failure("k", now=NOW + timedelta(hours=23), max_failures=1, lock_for=DAY)
    ttl = redis_client.pttl(f"{redis_prefix}k")
    assert timedelta(minutes=55) < timedelta(milliseconds=ttl) <= timedelta(hours=1)


def test_an_expired_state_vanishes_by_itself(store: RedisLockoutStore) -> None:
    """Once its time to live has passed, Redis has forgotten the state (no purge needed)."""
    store.record_failure("k", now=NOW, max_failures=5, lock_for=timedelta(milliseconds=2))
    deadline = time.monotonic() + 2
    while store.get("k") is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert store.get("k") is None


def test_decoded_responses_work_too(redis_url: str, redis_prefix: str) -> None:
    """A client made with decode_responses=True gives the same states."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisLockoutStore(client, prefix=redis_prefix)
        state = store.record_failure("k", now=NOW, max_failures=1, lock_for=DAY)
        assert store.get("k") == state
        assert state.locked_until == NOW + DAY
    finally:
        client.close()
