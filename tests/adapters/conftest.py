"""Store fixtures parametrised over every adapter of a port: memory, SQLite, PostgreSQL, Redis.

PostgreSQL and Redis come from ``PROVIDER_IDENTITY_TEST_POSTGRES_URL`` and
``PROVIDER_IDENTITY_TEST_REDIS_URL``. Without them the tests skip, saying so,
unless ``CI`` is set: then they fail, as they do whenever a URL is set but the
service does not answer. PostgreSQL tables live in a schema made for this run
and dropped after it; every table is emptied after each test, and each
Redis test deletes the keys under its own prefix.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from provider_identity.adapters.outbox import MemoryOutbox
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.redis_factors import RedisFactorStore
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlEventSink,
    SqlFactorStore,
    SqlLockoutStore,
    SqlOutboxStore,
    SqlProviderDirectory,
    create_schema,
    metadata,
)
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryEventLog,
    MemoryFactorStore,
    MemoryLockoutStore,
    MemoryProviderDirectory,
)
from tests.adapters.workers import Database

POSTGRES_URL_ENV = "PROVIDER_IDENTITY_TEST_POSTGRES_URL"
REDIS_URL_ENV = "PROVIDER_IDENTITY_TEST_REDIS_URL"

SQL_KINDS = ["memory", "sqlite", "postgres"]
LOCKOUT_KINDS = [*SQL_KINDS, "redis"]


def service_url(variable: str, service: str) -> str:
    """The URL in ``variable``; skip without it, or fail without it under CI."""
    url = os.environ.get(variable, "")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {variable} is not: the {service} tests must run in CI.")
    pytest.skip(f"{service} tests: set {variable} to run them")


@attrs.frozen
class Target:
    """A test database: how any process reaches it, and this process's engine."""

    database: Database
    engine: Engine


@pytest.fixture(scope="session")
def postgres_target() -> Iterator[Target]:
    url = service_url(POSTGRES_URL_ENV, "PostgreSQL")
    database = Database(url, schema=f"pi_test_{os.getpid()}_{secrets.token_hex(4)}")
    engine = database.engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{database.schema}"')
    except sa.exc.OperationalError as err:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL_ENV} does not answer: {type(err).__name__}")
    create_schema(engine)
    yield Target(database, engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{database.schema}" CASCADE')
    engine.dispose()


def empty_tables(engine: Engine) -> None:
    """Delete every row the SQL adapters wrote."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sa.delete(table))


@pytest.fixture
def postgres(postgres_target: Target) -> Iterator[Target]:
    """The run's PostgreSQL schema, emptied after the test."""
    yield postgres_target
    empty_tables(postgres_target.engine)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Target]:
    """A fresh SQLite database file with the schema, removed after the test."""
    database = Database(f"sqlite:///{tmp_path / 'identity.db'}")
    engine = database.engine()
    create_schema(engine)
    yield Target(database, engine)
    engine.dispose()
    for leftover in tmp_path.glob("identity.db*"):
        leftover.unlink()


@pytest.fixture(params=["sqlite", "postgres"])
def sql(request: pytest.FixtureRequest) -> Target:
    """Each SQL database in turn."""
    target: Target = request.getfixturevalue(request.param)
    return target


@pytest.fixture(scope="session")
def redis_url() -> str:
    return service_url(REDIS_URL_ENV, "Redis")


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as err:
        pytest.fail(f"Redis at {REDIS_URL_ENV} does not answer: {type(err).__name__}")
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted after the test."""
    prefix = f"provider-identity-test:{secrets.token_hex(8)}:"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def _build(
    request: pytest.FixtureRequest,
    memory: Callable[[], Any],
    sql: Callable[[Engine], Any],
) -> Any:
    kind: str = request.param
    if kind == "memory":
        return memory()
    target: Target = request.getfixturevalue(kind)
    return sql(target.engine)


@pytest.fixture(params=SQL_KINDS)
def directory_store(request: pytest.FixtureRequest) -> Any:
    """A WritableDirectory of each kind."""
    return _build(request, MemoryProviderDirectory, SqlProviderDirectory)


@pytest.fixture(params=SQL_KINDS)
def account_repo(request: pytest.FixtureRequest) -> Any:
    """An AccountRepository of each kind."""
    return _build(request, MemoryAccountRepository, SqlAccountRepository)


@pytest.fixture(params=SQL_KINDS)
def outbox_store(request: pytest.FixtureRequest) -> Any:
    """An OutboxStore of each kind."""
    return _build(request, MemoryOutbox, SqlOutboxStore)


@pytest.fixture(params=SQL_KINDS)
def event_log(request: pytest.FixtureRequest) -> Any:
    """A persisted audit trail (EventSink and EventLog) of each kind."""
    return _build(request, MemoryEventLog, SqlEventSink)


@pytest.fixture(params=LOCKOUT_KINDS)
def lockout_store(request: pytest.FixtureRequest) -> Any:
    """A LockoutStore of each kind."""
    if request.param == "redis":
        client: redis.Redis = request.getfixturevalue("redis_client")
        return RedisLockoutStore(client, prefix=request.getfixturevalue("redis_prefix"))
    return _build(request, MemoryLockoutStore, SqlLockoutStore)


@pytest.fixture(params=LOCKOUT_KINDS)
def factor_store(request: pytest.FixtureRequest) -> Any:
    """A FactorStore of each kind (memory, SQLite, PostgreSQL, Redis)."""
    if request.param == "redis":
        client: redis.Redis = request.getfixturevalue("redis_client")
        return RedisFactorStore(client, prefix=request.getfixturevalue("redis_prefix"))
    return _build(request, MemoryFactorStore, SqlFactorStore)
