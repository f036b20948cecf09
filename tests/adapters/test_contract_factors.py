"""Every FactorStore: records round-trip, writes are compare-and-set, one code wins one race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from provider_identity import IdentityService, LoginResult, TokenIssuer
from provider_identity.errors import ChallengeInvalid, ConcurrentUpdate, InvalidCode
from provider_identity.mfa import (
    FactorRecord,
    Passkey,
    RecoveryCodes,
    SecondFactorDue,
    SecondFactors,
    SecretBox,
    TotpFactor,
)
from provider_identity.testing import (
    FakeAuthenticator,
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
from tests.helpers import KEY, PASSWORD, practitioner

MOMENT = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


def full_record(account_id: str = "acct-1", revision: int = 1) -> FactorRecord:
    """A record with every kind of factor."""
    return FactorRecord(
        account_id=account_id,
        revision=revision,
        totp=TotpFactor(
            sealed_secret="v1.x.y", created_at=MOMENT, confirmed_at=MOMENT, last_step=7
        ),
        pending_totp=TotpFactor(sealed_secret="v1.x.z", created_at=MOMENT),
        recovery=RecoveryCodes(digests=("a", "b"), issued=10, created_at=MOMENT),
        passkeys=(
            Passkey(
                credential_id="cred",
                public_key="pk",
                sign_count=3,
                name="Laptop",
                created_at=MOMENT,
                last_used_at=MOMENT,
            ),
        ),
    )


def test_missing_record_is_none(factor_store: Any) -> None:
    """An account with no record reads as None."""
    assert factor_store.get("nobody") is None


def test_record_round_trips(factor_store: Any) -> None:
    """A stored record reads back equal, every field and microsecond kept."""
    record = full_record()
    factor_store.put(record, expected_revision=0)
    assert factor_store.get("acct-1") == record


def test_second_first_write_refused(factor_store: Any) -> None:
    """Two first writes for one account: the second is ConcurrentUpdate and changes nothing."""
    factor_store.put(full_record(), expected_revision=0)
    with pytest.raises(ConcurrentUpdate):
        factor_store.put(FactorRecord(account_id="acct-1", revision=1), expected_revision=0)
    assert factor_store.get("acct-1") == full_record()


def test_stale_write_refused(factor_store: Any) -> None:
    """A write from an old revision is refused; one from the stored revision lands."""
    factor_store.put(full_record(), expected_revision=0)
    newer = FactorRecord(account_id="acct-1", revision=2)
    factor_store.put(newer, expected_revision=1)
    with pytest.raises(ConcurrentUpdate):
        factor_store.put(full_record(revision=2), expected_revision=1)
    assert factor_store.get("acct-1") == newer


def test_revision_must_step_by_one(factor_store: Any) -> None:
    """A record whose revision is not expected + 1 is refused before any write."""
    with pytest.raises(ConcurrentUpdate):
        factor_store.put(full_record(revision=5), expected_revision=0)
    assert factor_store.get("acct-1") is None


def test_parallel_writes_one_wins(factor_store: Any) -> None:
    """Eight threads write from one revision: exactly one lands."""
    factor_store.put(full_record(), expected_revision=0)
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def write(index: int) -> None:
        barrier.wait()
        try:
            factor_store.put(
                FactorRecord(account_id="acct-1", revision=2, passkeys=()), expected_revision=1
            )
        except ConcurrentUpdate:
            outcomes.append(False)
        else:
            outcomes.append(True)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 1


def test_parallel_complete_login_with_one_code(factor_store: Any) -> None:
    """Two parallel complete_login with one TOTP code on this store: exactly one succeeds."""
    clock = ManualClock()
    mailer = RecordingMailer()
    service = IdentityService(
        directory=MemoryProviderDirectory(sample_records()),
        accounts=MemoryAccountRepository(),
        lockouts=MemoryLockoutStore(),
        mailer=mailer,
        events=RecordingEventSink(),
        delivery=InlineDelivery(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=cheapest_hasher(),
        second_factors=SecondFactors(
            mode="optional", store=factor_store, secrets=SecretBox(current=b"s" * 32)
        ),
    )
    account = service.register(practitioner()).account
    service.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account.id), clock)
    service.confirm_totp(account.id, app.code())
    clock.advance(30)
    steps = [service.login("jdoe", PASSWORD) for _ in range(2)]
    assert all(isinstance(step, SecondFactorDue) for step in steps)
    code = app.code()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(step: SecondFactorDue) -> None:
        barrier.wait()
        try:
            result = service.complete_login(step.challenge, code)
        except (InvalidCode, ChallengeInvalid) as err:
            outcomes.append(err.code)
        else:
            assert isinstance(result, LoginResult)
            outcomes.append("success")

    threads = [threading.Thread(target=attempt, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2
    assert outcomes.count("success") == 1
