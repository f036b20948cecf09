"""The stateful models pass on every adapter we ship and catch planted adapter bugs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest
import redis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy.engine import Engine

from provider_identity import PasswordPolicy
from provider_identity.accounts import Account
from provider_identity.adapters.redis import RedisLockoutStore
from provider_identity.adapters.redis_factors import RedisFactorStore
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlFactorStore,
    SqlLockoutStore,
    create_schema,
    make_engine,
)
from provider_identity.lockout import LockoutState
from provider_identity.mfa import FactorRecord
from provider_identity.ports import AccountRepository, FactorStore, LockoutStore
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryFactorStore,
    MemoryLockoutStore,
)
from provider_identity.testing.state_machines import (
    EMAILS,
    PASSWORDS,
    USERNAMES,
    WRONG_PASSWORD,
    AccountLifecycleMachine,
    LockoutStoreMachine,
    RateLimitMachine,
)
from tests.adapters.conftest import Target, empty_tables


def sqlite_engine() -> Engine:
    """A fresh in-memory SQLite database with the adapters' schema."""
    engine = make_engine("sqlite://")
    create_schema(engine)
    return engine


class SqliteLockoutMachine(LockoutStoreMachine):
    """The lockout machine on SqlLockoutStore, one in-memory database per run."""

    def make_store(self) -> LockoutStore:
        self.engine = sqlite_engine()
        return SqlLockoutStore(self.engine)

    def teardown(self) -> None:
        self.engine.dispose()


class SqliteLifecycleMachine(AccountLifecycleMachine):
    """The lifecycle machine on the SQL repository and lockout store, sharing one database."""

    def __init__(self) -> None:
        self.engine = sqlite_engine()
        super().__init__()

    def make_accounts(self) -> AccountRepository:
        return SqlAccountRepository(self.engine)

    def make_lockouts(self) -> LockoutStore:
        return SqlLockoutStore(self.engine)

    def make_factors(self) -> FactorStore:
        return SqlFactorStore(self.engine)

    def teardown(self) -> None:
        self.engine.dispose()


#: The machines on the shipped adapters that need no service; PostgreSQL and
#: Redis follow below, on the fixtures of tests/adapters/conftest.py.
SHIPPED_LOCKOUT_MACHINES = [
    pytest.param(LockoutStoreMachine.with_store(MemoryLockoutStore), id="memory"),
    pytest.param(SqliteLockoutMachine, id="sqlite"),
]
SHIPPED_LIFECYCLE_MACHINES = [
    pytest.param(
        AccountLifecycleMachine.with_adapters(
            accounts=MemoryAccountRepository,
            lockouts=MemoryLockoutStore,
            factors=MemoryFactorStore,
        ),
        id="memory",
    ),
    pytest.param(SqliteLifecycleMachine, id="sqlite"),
]

PASSING = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Many examples (each planted bug is caught within a few dozen), a fixed seed, and no
#: shrinking: whether the bug is found is what is tested, not how small it gets.
HUNTING = settings(
    PASSING, max_examples=100, derandomize=True, phases=(Phase.explicit, Phase.generate)
)


class ForgetfulLockoutStore(MemoryLockoutStore):
    """Answers every failure correctly but keeps only every other one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        self.calls += 1
        if self.calls % 2:
            return super().record_failure(
                key, now=now, max_failures=max_failures, lock_for=lock_for
            )
        state = self.get(key) or LockoutState(failures=0)
        return state.after_failure(now, max_failures=max_failures, lock_for=lock_for)


class ExtendingLockoutStore(MemoryLockoutStore):
    """Extends a lock on every failure while locked (the port forbids it)."""

    def __init__(self) -> None:
        super().__init__()
        self.extended: dict[str, LockoutState] = {}

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        state = super().record_failure(key, now=now, max_failures=max_failures, lock_for=lock_for)
        if state.locked_until is not None and state.failures > max_failures:
            state = LockoutState(state.failures, now + lock_for, now + lock_for)
            self.extended[key] = state
        return state

    def get(self, key: str) -> LockoutState | None:
        return self.extended.get(key) or super().get(key)

    def clear(self, key: str) -> None:
        self.extended.pop(key, None)
        super().clear(key)


class StaleRepository(MemoryAccountRepository):
    """Accepts every replace() but keeps the old account."""

    def replace(self, account: Account, *, expected_version: int) -> None:
        stored = self.get(account.id)
        super().replace(account, expected_version=expected_version)
        assert stored is not None
        super().replace(stored, expected_version=account.credential_version)


class StepForgettingFactorStore(MemoryFactorStore):
    """Writes every record but keeps the TOTP step it had: accepted codes work again."""

    def put(self, record: FactorRecord, *, expected_revision: int) -> None:
        stored = self.get(record.account_id)
        if stored is not None and stored.totp is not None and record.totp is not None:
            record = attrs.evolve(
                record, totp=attrs.evolve(record.totp, last_step=stored.totp.last_step)
            )
        super().put(record, expected_revision=expected_revision)


class CaseSensitiveRepository(MemoryAccountRepository):
    """Treats email keys as taken only when spelled the same way, ignoring the canonical form."""

    def add(self, account: Account) -> None:
        super().add(attrs.evolve(account, email_key=account.email))


@pytest.mark.parametrize("machine", SHIPPED_LOCKOUT_MACHINES)
def test_lockout_machine_passes_on_shipped_stores(machine: type[LockoutStoreMachine]) -> None:
    """Every shipped LockoutStore computes what LockoutState.after_failure does."""
    run_state_machine_as_test(machine, settings=PASSING)
    assert issubclass(machine, LockoutStoreMachine)


class SqliteRateLimitMachine(RateLimitMachine):
    """The rate-limit machine on SqlLockoutStore, one in-memory database per run."""

    def make_store(self) -> LockoutStore:
        self.engine = sqlite_engine()
        return SqlLockoutStore(self.engine)

    def teardown(self) -> None:
        self.engine.dispose()


@pytest.mark.parametrize(
    "machine",
    [
        pytest.param(RateLimitMachine.with_store(MemoryLockoutStore), id="memory"),
        pytest.param(SqliteRateLimitMachine, id="sqlite"),
    ],
)
def test_rate_limit_machine_passes_on_shipped_stores(machine: type[RateLimitMachine]) -> None:
    """The abuse-limit counters on every shipped store admit what a plain count admits."""
    run_state_machine_as_test(machine, settings=PASSING)
    assert issubclass(machine, RateLimitMachine)


def test_rate_limit_machine_catches_a_store_losing_every_other_failure() -> None:
    """A store that keeps only every other count admits too much, and is caught."""
    machine = RateLimitMachine.with_store(ForgetfulLockoutStore)
    with pytest.raises(AssertionError, match=r"hit\(|peek\("):
        run_state_machine_as_test(machine, settings=HUNTING)


@pytest.mark.parametrize("machine", SHIPPED_LIFECYCLE_MACHINES)
def test_lifecycle_machine_passes_on_shipped_adapters(
    machine: type[AccountLifecycleMachine],
) -> None:
    """The account lifecycle on every shipped adapter agrees with the reference."""
    run_state_machine_as_test(machine, settings=PASSING)
    assert issubclass(machine, AccountLifecycleMachine)


def on_service(
    store: Callable[[], LockoutStore],
    accounts: Callable[[], AccountRepository] = MemoryAccountRepository,
    clean: Callable[[], None] = lambda: None,
    factors: Callable[[], FactorStore] = MemoryFactorStore,
) -> tuple[type[LockoutStoreMachine], type[AccountLifecycleMachine]]:
    """Both machines on a service's stores, emptied after each run."""

    class Lockout(LockoutStoreMachine):
        def make_store(self) -> LockoutStore:
            return store()

        def teardown(self) -> None:
            clean()

    class Lifecycle(AccountLifecycleMachine):
        def make_accounts(self) -> AccountRepository:
            return accounts()

        def make_lockouts(self) -> LockoutStore:
            return store()

        def make_factors(self) -> FactorStore:
            return factors()

        def teardown(self) -> None:
            clean()

    return Lockout, Lifecycle


def test_both_machines_pass_on_postgresql(postgres: Target) -> None:
    """The PostgreSQL repository, lockout and factor stores agree with the reference."""
    machines = on_service(
        store=lambda: SqlLockoutStore(postgres.engine),
        accounts=lambda: SqlAccountRepository(postgres.engine),
        clean=lambda: empty_tables(postgres.engine),
        factors=lambda: SqlFactorStore(postgres.engine),
    )
    for machine in machines:
        run_state_machine_as_test(machine, settings=PASSING)

    class CleanLimits(RateLimitMachine):
        def make_store(self) -> LockoutStore:
            return SqlLockoutStore(postgres.engine)

        def teardown(self) -> None:
            empty_tables(postgres.engine)

    run_state_machine_as_test(CleanLimits, settings=PASSING)
    assert SqlAccountRepository(postgres.engine).find_by_username("jdoe") is None  # cleaned


def test_both_machines_pass_on_redis(redis_client: redis.Redis, redis_prefix: str) -> None:
    """The Redis lockout and factor stores agree with the reference."""

    def clean() -> None:
        for key in redis_client.scan_iter(match=f"{redis_prefix}*"):
            redis_client.delete(key)

    machines = on_service(
        store=lambda: RedisLockoutStore(redis_client, prefix=redis_prefix),
        clean=clean,
        factors=lambda: RedisFactorStore(redis_client, prefix=redis_prefix + "factors:"),
    )
    for machine in machines:
        run_state_machine_as_test(machine, settings=PASSING)

    class CleanLimits(RateLimitMachine):
        def make_store(self) -> LockoutStore:
            return RedisLockoutStore(redis_client, prefix=redis_prefix)

        def teardown(self) -> None:
            clean()

    run_state_machine_as_test(CleanLimits, settings=PASSING)
    assert list(redis_client.scan_iter(match=f"{redis_prefix}*")) == []


def test_lockout_machine_catches_a_store_losing_every_other_failure() -> None:
    """A store that keeps only every other failure fails the lockout machine."""
    machine = LockoutStoreMachine.with_store(ForgetfulLockoutStore)
    with pytest.raises(AssertionError, match=r"get\(|record_failure\("):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_lockout_machine_catches_a_store_extending_locks() -> None:
    """A store that pushes the lock's end on each attempt while locked is caught."""
    machine = LockoutStoreMachine.with_store(ExtendingLockoutStore)
    with pytest.raises(AssertionError, match="record_failure"):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_lifecycle_machine_catches_a_store_losing_every_other_failure() -> None:
    """The lifecycle machine also catches the forgetful store, through the service."""
    machine = AccountLifecycleMachine.with_adapters(lockouts=ForgetfulLockoutStore)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_lifecycle_machine_catches_a_repository_dropping_updates() -> None:
    """A repository whose replace() keeps the old account (activation lost) is caught."""
    machine = AccountLifecycleMachine.with_adapters(accounts=StaleRepository)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_lifecycle_machine_catches_a_repository_ignoring_canonical_emails() -> None:
    """A repository that lets ``Alice@Example.org`` in beside ``alice@example.org`` is caught."""
    machine = AccountLifecycleMachine.with_adapters(accounts=CaseSensitiveRepository)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_lifecycle_machine_catches_a_factor_store_forgetting_steps() -> None:
    """A factor store that loses the last accepted TOTP step (replays pass) is caught."""
    machine = AccountLifecycleMachine.with_adapters(factors=StepForgettingFactorStore)
    with pytest.raises(AssertionError, match=r"factors of|outcome"):
        run_state_machine_as_test(machine, settings=HUNTING)


def test_with_adapters_builds_fresh_adapters_per_run() -> None:
    """Each machine instance asks the factories for new adapters."""
    made: list[object] = []

    def make() -> MemoryLockoutStore:
        made.append(store := MemoryLockoutStore())
        return store

    machine = AccountLifecycleMachine.with_adapters(lockouts=make)
    first, second = machine(), machine()
    assert len(made) == 2
    assert first.subject.service.lockouts is made[0]
    assert second.subject.service.lockouts is made[1]


def test_machines_can_be_subclassed_with_their_own_factory() -> None:
    """Overriding make_store is the other way to plug an adapter in."""

    class Mine(LockoutStoreMachine):
        def make_store(self) -> LockoutStore:
            return ForgetfulLockoutStore()

    assert isinstance(Mine().store, ForgetfulLockoutStore)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(Mine, settings=HUNTING)


def test_machine_passwords_are_valid_for_every_pool_identifier() -> None:
    """The pools only exercise adapters: the seed policy accepts every password for every name."""
    policy = PasswordPolicy()
    for password in (*PASSWORDS, WRONG_PASSWORD):
        for username in USERNAMES:
            for email in EMAILS:
                assert policy.check(password, username=username, email=email) == ()
