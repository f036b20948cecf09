"""A store that stops answering at any step: the flow fails before it commits, or finishes.

"Finishes" means the notice is sent and the lock is lifted; "fails" means
``StoreUnavailable`` and nothing committed, so the same request can be retried.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from provider_identity import IdentityError, IdentityService, StoreUnavailable
from provider_identity.accounts import AccountStatus
from provider_identity.passwords import OWASP_MINIMUM, PasswordHasher
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryLockoutStore,
    RecordingEventSink,
    RecordingMailer,
)
from tests.helpers import PASSWORD, practitioner

NEW = "Green-Kestrel-2032"
WRONG = "Wrong-Password-9"
CHANGED = "Your Provider Portal Password Was Changed"
VERIFIED = "Email Verification"
ACTIVATE = "Activate Your Provider Portal Account"

#: More steps than any flow takes: the last ones never fail, and prove the flow still works.
STEPS = range(1, 13)


class Outage:
    """Counts the calls to both stores; the call numbered ``at`` does not answer."""

    def __init__(self) -> None:
        self.calls = 0
        self.at = 0

    def step(self) -> None:
        self.calls += 1
        if self.calls == self.at:
            raise StoreUnavailable


class FlakyAccounts(MemoryAccountRepository):
    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().add(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().get(*args, **kwargs)

    def find_by_username(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().find_by_username(*args, **kwargs)

    def find_by_provider_id(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().find_by_provider_id(*args, **kwargs)

    def key_taken(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().key_taken(*args, **kwargs)

    def replace(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().replace(*args, **kwargs)


class FlakyLockouts(MemoryLockoutStore):
    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def record_failure(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().record_failure(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().get(*args, **kwargs)

    def clear(self, *args: Any, **kwargs: Any) -> Any:
        self.outage.step()
        return super().clear(*args, **kwargs)


@pytest.fixture
def outage() -> Outage:
    return Outage()


@pytest.fixture
def flaky(make_service: Callable[..., IdentityService], outage: Outage) -> IdentityService:
    return make_service(accounts=FlakyAccounts(outage), lockouts=FlakyLockouts(outage))


def fails_at(outage: Outage, at: int, call: Callable[[], object]) -> bool:
    """Run ``call`` with the ``at``-th store call failing; True if it raised StoreUnavailable."""
    outage.calls, outage.at = 0, at
    try:
        call()
    except StoreUnavailable:
        return True
    finally:
        outage.at = 0
    return False


def locked_out(service: IdentityService) -> None:
    for _ in range(service.lockout_policy.max_failures):
        with contextlib.suppress(IdentityError):
            service.login("jdoe", WRONG)
    assert service.lockout_status("jdoe").is_locked


@pytest.mark.parametrize("at", STEPS)
def test_register_either_stores_nothing_or_sends_the_activation(
    flaky: IdentityService, outage: Outage, mailer: RecordingMailer, at: int
) -> None:
    """A failed registration leaves no account behind, so the retry registers and mails."""
    if fails_at(outage, at, lambda: flaky.register(practitioner())):
        assert flaky.accounts.find_by_provider_id("P1000001") is None
        assert mailer.messages == []
        flaky.register(practitioner())  # the retry is not "already registered"
    assert [str(m["Subject"]) for m in mailer.messages] == [ACTIVATE]


@pytest.mark.parametrize("at", STEPS)
def test_activate_either_changes_nothing_or_sends_the_verification(
    flaky: IdentityService, outage: Outage, mailer: RecordingMailer, at: int
) -> None:
    """A failed activation leaves the account pending and the link usable."""
    flaky.register(practitioner())
    token = mailer.last_token()
    mailer.clear()
    if fails_at(outage, at, lambda: flaky.activate(token)):
        assert flaky.accounts.find_by_username("jdoe").status is AccountStatus.PENDING
        assert mailer.messages == []
        flaky.activate(token)  # the link is not spent
    assert [str(m["Subject"]) for m in mailer.messages] == [VERIFIED]
    assert flaky.accounts.find_by_username("jdoe").status is AccountStatus.ACTIVE


@pytest.mark.parametrize("at", STEPS)
def test_reset_password_either_changes_nothing_or_unlocks_and_notifies(
    flaky: IdentityService, outage: Outage, mailer: RecordingMailer, at: int
) -> None:
    """A failed reset keeps the old password and the link; a finished one unlocks and notifies."""
    flaky.register(practitioner())
    flaky.activate(mailer.last_token())
    locked_out(flaky)
    flaky.request_password_reset("jdoe")
    token = mailer.last_token()
    mailer.clear()
    if fails_at(outage, at, lambda: flaky.reset_password(token, NEW)):
        stored = flaky.accounts.find_by_username("jdoe")
        assert flaky.hasher.verify(stored.password_hash, PASSWORD)
        assert mailer.messages == []
        flaky.reset_password(token, NEW)  # the link is not spent
    assert [str(m["Subject"]) for m in mailer.messages] == [CHANGED]
    assert not flaky.lockout_status("jdoe").is_locked
    assert flaky.login("jdoe", NEW).account.username == "jdoe"


@pytest.mark.parametrize("at", STEPS)
def test_change_password_either_changes_nothing_or_notifies(
    flaky: IdentityService, outage: Outage, mailer: RecordingMailer, at: int
) -> None:
    """A failed change keeps the old password; a finished one sends the notice."""
    account_id = flaky.register(practitioner()).account.id
    flaky.activate(mailer.last_token())
    mailer.clear()
    if fails_at(outage, at, lambda: flaky.change_password(account_id, PASSWORD, NEW)):
        stored = flaky.accounts.get(account_id)
        assert flaky.hasher.verify(stored.password_hash, PASSWORD)
        assert mailer.messages == []
        flaky.change_password(account_id, PASSWORD, NEW)
    assert [str(m["Subject"]) for m in mailer.messages] == [CHANGED]


def test_a_store_outage_is_audited_with_its_code(
    flaky: IdentityService, outage: Outage, events: RecordingEventSink
) -> None:
    """The audit event says store_unavailable, not internal_error."""
    assert fails_at(outage, 1, lambda: flaky.login("jdoe", PASSWORD))
    assert events.outcomes()[-1] == ("login", "store_unavailable")


def test_store_unavailable_is_an_identity_error_with_a_stable_code() -> None:
    """Callers match on the code; the message says to try again and names no store."""
    error = StoreUnavailable()
    assert error.code == "store_unavailable"
    assert "try again" in error.message


def test_a_rehash_the_store_cannot_take_does_not_fail_the_login(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """The login is decided before the opportunistic rehash; a down store only skips it."""

    class NoWrites(MemoryAccountRepository):
        down = False

        def replace(self, *args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable
            return super().replace(*args, **kwargs)

    accounts = NoWrites()
    old = make_service(accounts=accounts)
    old.register(practitioner())
    old.activate(mailer.last_token())
    accounts.down = True
    upgraded = make_service(accounts=accounts, hasher=PasswordHasher(parameters=OWASP_MINIMUM))
    assert upgraded.login("jdoe", PASSWORD).rehashed is False
    accounts.down = False
    assert upgraded.login("jdoe", PASSWORD).rehashed is True  # the next login upgrades it
