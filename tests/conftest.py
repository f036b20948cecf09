"""Shared fixtures: the shipped plugin's fakes under short names, and a cheap-hashing service.

The fakes come from ``provider_identity.testing.pytest_plugin`` (registered
through the ``pytest11`` entry point); only the service's signing key is ours.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from provider_identity import (
    IdentityService,
    PasswordHasher,
    SecondFactors,
    SecretBox,
    TokenIssuer,
)
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryFactorStore,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
)
from provider_identity.testing.pytest_plugin import IdentityServiceFactory
from tests.helpers import KEY, practitioner

# scripts/mutation (mutmut sets MUTANT_UNDER_TEST): the same examples on every run,
# no speed checks, since mutmut traces every call on a machine busy with mutants, and
# no shrinking: a failing example kills the mutant, however large it is.
settings.register_profile(
    "mutation",
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
if "MUTANT_UNDER_TEST" in os.environ:
    settings.load_profile("mutation")


@functools.cache
def _mutmut_durations() -> dict[str, float]:
    """Each test's time in mutmut's last stats pass (mutmut runs from mutants/)."""
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text("utf-8"))["duration_by_test"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return durations if isinstance(durations, dict) else {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under a mutant, the quickest tests first: mutmut stops at the first failure.

    mutmut hands a mutant's tests over in no particular order, so a mutant
    that a 5 ms test kills could first wait for a 2 s property test.
    """
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        durations = _mutmut_durations()
        items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


@pytest.fixture(scope="session")
def hasher(identity_hasher: PasswordHasher) -> PasswordHasher:
    return identity_hasher


@pytest.fixture
def clock(identity_clock: ManualClock) -> ManualClock:
    return identity_clock


@pytest.fixture
def mailer(identity_mailer: RecordingMailer) -> RecordingMailer:
    return identity_mailer


@pytest.fixture
def events(identity_events: RecordingEventSink) -> RecordingEventSink:
    return identity_events


@pytest.fixture
def directory(identity_directory: MemoryProviderDirectory) -> MemoryProviderDirectory:
    return identity_directory


@pytest.fixture
def accounts(identity_accounts: MemoryAccountRepository) -> MemoryAccountRepository:
    return identity_accounts


@pytest.fixture
def lockouts(identity_lockouts: MemoryLockoutStore) -> MemoryLockoutStore:
    return identity_lockouts


@pytest.fixture
def make_service(
    identity_service_factory: IdentityServiceFactory, clock: ManualClock
) -> Callable[..., IdentityService]:
    def make(**overrides: Any) -> IdentityService:
        overrides.setdefault(
            "tokens", TokenIssuer(current=KEY, clock=overrides.get("clock", clock))
        )
        return identity_service_factory(**overrides)

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


@pytest.fixture
def factor_service(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> IdentityService:
    """A service with authenticator apps optional, and Jane Doe's account active (no app yet)."""
    factors = SecondFactors(
        mode="optional",  # type: ignore[arg-type]
        store=MemoryFactorStore(),
        secrets=SecretBox(current=b"m" * 32),
    )
    service = make_service(second_factors=factors)
    service.register(practitioner())
    service.activate(mailer.last_token())
    return service
