"""Properties of the second step: guesses, typed variants and malformed codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from provider_identity import IdentityService
from provider_identity.errors import InvalidCode, InvalidInput
from provider_identity.mfa import SecondFactorDue, SecondFactors, SecretBox, normalize_code
from provider_identity.mfa.recovery import RECOVERY_ALPHABET, new_recovery_codes
from provider_identity.testing import (
    FakeAuthenticator,
    ManualClock,
    MemoryFactorStore,
    RecordingMailer,
)
from provider_identity.testing.strategies import malformed_codes, recovery_codes, totp_codes
from tests.helpers import PASSWORD, practitioner

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def world(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> tuple[IdentityService, FakeAuthenticator, MemoryFactorStore, str]:
    store = MemoryFactorStore()
    svc = make_service(
        second_factors=SecondFactors(
            mode="optional", store=store, secrets=SecretBox(current=b"q" * 32)
        )
    )
    account = svc.register(practitioner()).account
    svc.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(svc.begin_totp_enrolment(account.id), clock)
    svc.confirm_totp(account.id, app.code())
    clock.advance(30)
    return svc, app, store, account.id


def challenge(svc: IdentityService) -> str:
    svc.unlock("jdoe")  # each example starts from a clear count
    result = svc.login("jdoe", PASSWORD)
    assert isinstance(result, SecondFactorDue)
    return result.challenge


@SETTINGS
@given(code=totp_codes(typed=True))
def test_guesses_are_refused(world, code: str) -> None:  # type: ignore[no-untyped-def]
    """Any code that is none of the window's is InvalidCode, and the record is unchanged."""
    svc, app, store, account_id = world
    assume(normalize_code(code) not in {app.code(steps=offset) for offset in (-1, 0, 1)})
    before = store.get(account_id)
    with pytest.raises(InvalidCode):
        svc.complete_login(challenge(svc), code)
    assert store.get(account_id) == before


@SETTINGS
@given(code=malformed_codes())
def test_malformed_codes_refused(world, code: object) -> None:  # type: ignore[no-untyped-def]
    """Malformed codes get a typed error (InvalidInput or InvalidCode) and change no store."""
    svc, _, store, account_id = world
    before = store.get(account_id)
    with pytest.raises((InvalidInput, InvalidCode)):
        svc.complete_login(challenge(svc), code)  # type: ignore[arg-type]
    assert store.get(account_id) == before


@given(code=recovery_codes(typed=True))
def test_typed_recovery_codes_normalise(code: str) -> None:
    """However a recovery code is typed, it normalises to its ten letters and digits."""
    canonical = normalize_code(code)
    assert len(canonical) == 10
    assert set(canonical) <= set(RECOVERY_ALPHABET)


@given(count=st.integers(1, 50))
def test_new_codes_are_well_formed(count: int) -> None:
    """A new set has ``count`` codes shaped xxxxx-xxxxx, from the alphabet only."""
    codes = new_recovery_codes(count).codes
    assert len(codes) == count
    for code in codes:
        assert len(code) == 11
        assert code[5] == "-"
        assert set(code.replace("-", "")) <= set(RECOVERY_ALPHABET)
