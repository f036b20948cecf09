"""Shared fixtures: every test gets fresh fakes and a cheap-hashing service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provider_identity import (
    IdentityService,
    PasswordHasher,
    TokenIssuer,
)
from provider_identity.testing import (
    InlineDelivery,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    cheapest_hasher,
    sample_records,
)
from tests.helpers import KEY, practitioner


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    return cheapest_hasher()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def events() -> RecordingEventSink:
    return RecordingEventSink()


@pytest.fixture
def directory() -> MemoryProviderDirectory:
    return MemoryProviderDirectory(sample_records())


@pytest.fixture
def accounts() -> MemoryAccountRepository:
    return MemoryAccountRepository()


@pytest.fixture
def lockouts() -> MemoryLockoutStore:
    return MemoryLockoutStore()


@pytest.fixture
def make_service(
    clock: ManualClock,
    mailer: RecordingMailer,
    events: RecordingEventSink,
    directory: MemoryProviderDirectory,
    accounts: MemoryAccountRepository,
    lockouts: MemoryLockoutStore,
    hasher: PasswordHasher,
) -> Callable[..., IdentityService]:
    def make(**overrides: Any) -> IdentityService:
        parts: dict[str, Any] = {
            "directory": directory,
            "accounts": accounts,
            "lockouts": lockouts,
            "mailer": mailer,
            "events": events,
            "delivery": InlineDelivery(),
            "clock": clock,
            "tokens": TokenIssuer(current=KEY, clock=overrides.get("clock", clock)),
            "hasher": hasher,
        }
        parts.update(overrides)
        return IdentityService(**parts)

    return make


@pytest.fixture
def service(make_service: Callable[..., IdentityService]) -> IdentityService:
    return make_service()


@pytest.fixture
def active_account(service: IdentityService, mailer: RecordingMailer) -> str:
    """Register and activate Jane Doe; return the account id."""
    result = service.register(practitioner())
    service.activate(mailer.last_token())
    mailer.clear()
    return result.account.id
