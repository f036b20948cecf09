"""A store whose server does not answer raises StoreUnavailable, with nothing chained.

No server is needed: a closed port, a socket that never answers and a SQLite
file in a missing folder stand in for a database or Redis that is down.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from redis.backoff import NoBackoff
from redis.retry import Retry

from provider_identity import StoreUnavailable
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlLockoutStore,
    SqlOutboxStore,
    SqlProviderDirectory,
)
from tests.adapters.builders import NOW

DAY = timedelta(hours=24)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def unavailable(call: Callable[[], object]) -> StoreUnavailable:
    with pytest.raises(StoreUnavailable) as caught:
        call()
    error = caught.value
    assert (error.__cause__, error.__context__) == (None, None)  # the driver's text may hold rows
    return error


def lockout_calls(store: Any) -> list[Callable[[], object]]:
    return [
        lambda: store.record_failure("login:jdoe", now=NOW, max_failures=5, lock_for=DAY),
        lambda: store.get("login:jdoe"),
        lambda: store.clear("login:jdoe"),
    ]


def test_redis_that_refuses_connections_is_unavailable(closed_port: int) -> None:
    """ConnectionError from redis-py becomes StoreUnavailable for every operation."""
    client = redis.Redis(host="127.0.0.1", port=closed_port, retry=Retry(NoBackoff(), 0))
    store = RedisLockoutStore(client)
    for call in lockout_calls(store):
        unavailable(call)


def test_redis_that_times_out_is_unavailable(silent_port: int) -> None:
    """TimeoutError from redis-py becomes StoreUnavailable too."""
    client = redis.Redis(
        host="127.0.0.1",
        port=silent_port,
        socket_timeout=0.05,
        socket_connect_timeout=0.05,
        retry=Retry(NoBackoff(), 0),
    )
    store = RedisLockoutStore(client)
    for call in lockout_calls(store):
        unavailable(call)


def sql_calls(engine: sa.Engine) -> list[Callable[[], object]]:
    accounts = SqlAccountRepository(engine)
    directory = SqlProviderDirectory(engine)
    outbox = SqlOutboxStore(engine)
    return [
        *lockout_calls(SqlLockoutStore(engine)),
        lambda: accounts.find_by_username("jdoe"),
        lambda: accounts.get("some-id"),
        lambda: accounts.key_taken("jdoe"),
        lambda: directory.by_provider_id("P1000001"),
        lambda: outbox.add(b"message", now=NOW),
        lambda: outbox.claim(now=NOW, limit=1, lease=DAY),
    ]


def test_sqlite_that_cannot_open_its_file_is_unavailable(tmp_path: Path) -> None:
    """OperationalError (here: the database file cannot be opened) becomes StoreUnavailable."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'identity.db'}")
    for call in sql_calls(engine):
        unavailable(call)


def test_postgres_that_refuses_connections_is_unavailable(closed_port: int) -> None:
    """A PostgreSQL server that is down: StoreUnavailable, and no URL or password in the message."""
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://portal:s3cret-pw@127.0.0.1:{closed_port}/identity"
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    for call in sql_calls(engine):
        assert "s3cret-pw" not in str(unavailable(call))
