"""pytest fixtures that hand out the library's fakes, wired into an ``IdentityService``.

Installed with the package through the ``pytest11`` entry point, so a test
module only has to ask::

    def test_activation_mail_is_sent(identity_service, identity_mailer):
        identity_service.register(request)
        assert identity_mailer.last_link(request.email).startswith("https://")

Every fixture is function-scoped (except the immutable hasher) and named
``identity_*``, nothing is autouse, and Hypothesis is not imported here.

Fixtures:
    identity_clock: A :class:`ManualClock` (2026-01-05 09:00 UTC); advance it instead of sleeping.
    identity_mailer: A :class:`RecordingMailer`: ``last(address)``,
        ``last_link(address)``, ``last_token(address)``.
    identity_events: A :class:`RecordingEventSink`.
    identity_delivery: An :class:`InlineDelivery`: the jobs of ``request_password_reset``
        and ``resend_activation`` run at once, so their mail is there when the call returns.
    identity_directory: A :class:`MemoryProviderDirectory` holding :func:`sample_records`.
    identity_accounts: An empty :class:`MemoryAccountRepository`.
    identity_lockouts: An empty :class:`MemoryLockoutStore`.
    identity_hasher: A :class:`PasswordHasher` with the test-only cheapest parameters.
    identity_service_factory: Builds an ``IdentityService`` on the fakes above;
        keyword arguments replace any field (``password_policy=``,
        ``lockout_policy=``, ``branding=``, ``accounts=`` ...).
    identity_service: ``identity_service_factory()``.
"""

from __future__ import annotations

import secrets
from typing import Protocol

import pytest

from provider_identity.clock import Clock
from provider_identity.passwords import PasswordHasher
from provider_identity.service import IdentityService
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
from provider_identity.tokens import TokenIssuer

__all__ = ["IdentityServiceFactory"]


class IdentityServiceFactory(Protocol):
    """Protocol: builds an ``IdentityService`` on the test's fakes.

    Each call returns a new service sharing the test's clock, mailer, events,
    directory and stores, so two services (say, with two password policies)
    see the same accounts. Any keyword replaces that ``IdentityService`` field.
    Without ``tokens``, a ``TokenIssuer`` on the service's clock signs with a
    random key shared by every service of the test.
    """

    def __call__(
        self, *, clock: Clock | None = None, tokens: TokenIssuer | None = None, **overrides: object
    ) -> IdentityService:
        """Build the service; see :class:`~provider_identity.IdentityService` for the fields."""
        ...


@pytest.fixture
def identity_clock() -> ManualClock:
    """A clock that moves only when the test advances it."""
    return ManualClock()


@pytest.fixture
def identity_mailer() -> RecordingMailer:
    """Keeps every message the service sends."""
    return RecordingMailer()


@pytest.fixture
def identity_events() -> RecordingEventSink:
    """Keeps every audit event the service emits."""
    return RecordingEventSink()


@pytest.fixture
def identity_delivery() -> InlineDelivery:
    """Runs each mail job at once, in the test's thread."""
    return InlineDelivery()


@pytest.fixture
def identity_directory() -> MemoryProviderDirectory:
    """The sample practitioners, radiology group, primary-care group and hospital."""
    return MemoryProviderDirectory(sample_records())


@pytest.fixture
def identity_accounts() -> MemoryAccountRepository:
    """No accounts yet."""
    return MemoryAccountRepository()


@pytest.fixture
def identity_lockouts() -> MemoryLockoutStore:
    """No failure counted yet."""
    return MemoryLockoutStore()


@pytest.fixture(scope="session")
def identity_hasher() -> PasswordHasher:
    """argon2id with the cheapest parameters: fast tests, never production."""
    return cheapest_hasher()


@pytest.fixture
def identity_service_factory(
    identity_clock: ManualClock,
    identity_mailer: RecordingMailer,
    identity_events: RecordingEventSink,
    identity_delivery: InlineDelivery,
    identity_directory: MemoryProviderDirectory,
    identity_accounts: MemoryAccountRepository,
    identity_lockouts: MemoryLockoutStore,
    identity_hasher: PasswordHasher,
) -> IdentityServiceFactory:
    """Build services on this test's fakes, replacing any part (policy, lockout, branding...)."""
    key = secrets.token_bytes(32)

    def make(
        *, clock: Clock | None = None, tokens: TokenIssuer | None = None, **overrides: object
    ) -> IdentityService:
        clock = identity_clock if clock is None else clock
        parts: dict[str, object] = {
            "directory": identity_directory,
            "accounts": identity_accounts,
            "lockouts": identity_lockouts,
            "mailer": identity_mailer,
            "events": identity_events,
            "delivery": identity_delivery,
            "hasher": identity_hasher,
            "clock": clock,
            "tokens": TokenIssuer(current=key, clock=clock) if tokens is None else tokens,
        }
        return IdentityService(**(parts | overrides))  # type: ignore[arg-type]  # attrs checks the fields

    return make


@pytest.fixture
def identity_service(identity_service_factory: IdentityServiceFactory) -> IdentityService:
    """An ``IdentityService`` on the fakes, with the seed's rules and the cheapest hashing."""
    return identity_service_factory()
