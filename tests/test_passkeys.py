"""Passkeys: registration and login ceremonies against a software authenticator."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from provider_identity import IdentityService, LoginResult
from provider_identity.errors import (
    ChallengeInvalid,
    InvalidCode,
    SecondFactorsOff,
)
from provider_identity.mfa import RelyingParty, SecondFactorDue, SecondFactors, SecretBox
from provider_identity.testing import MemoryFactorStore, RecordingMailer, message_text
from provider_identity.testing.webauthn import SoftwareAuthenticator
from tests.helpers import PASSWORD, practitioner

ORIGIN = "https://provider-portal.example"
PARTY = RelyingParty(id="provider-portal.example", origins=(ORIGIN,))


@pytest.fixture
def svc(make_service: Callable[..., IdentityService]) -> IdentityService:
    return make_service(
        second_factors=SecondFactors(
            mode="optional",
            store=MemoryFactorStore(),
            secrets=SecretBox(current=b"p" * 32),
            relying_party=PARTY,
        )
    )


@pytest.fixture
def account_id(svc: IdentityService, mailer: RecordingMailer) -> str:
    account = svc.register(practitioner()).account
    svc.activate(mailer.last_token())
    mailer.clear()
    return account.id


def register(svc: IdentityService, account_id: str, key: SoftwareAuthenticator) -> object:
    registration = svc.begin_passkey_registration(account_id)
    return svc.finish_passkey_registration(
        account_id, registration.state, key.create(registration.options), name="Laptop"
    )


def due(svc: IdentityService) -> SecondFactorDue:
    result = svc.login("jdoe", PASSWORD)
    assert isinstance(result, SecondFactorDue)
    return result


def test_register_and_log_in(
    svc: IdentityService, account_id: str, mailer: RecordingMailer
) -> None:
    """A registered passkey turns login into two steps and finishes it; a notice goes out."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    codes = register(svc, account_id, key)
    assert codes is not None  # the first factor brings recovery codes
    assert "passkey was added" in message_text(mailer.messages[-1])
    step = due(svc)
    assert step.methods == {"passkey", "recovery_code"}
    assert step.passkey_options is not None
    result = svc.complete_login_with_passkey(step.challenge, key.get(step.passkey_options))
    assert isinstance(result, LoginResult)
    record = svc.factors(account_id)
    assert record is not None
    assert record.passkeys[0].sign_count == 1


def test_several_passkeys(svc: IdentityService, account_id: str) -> None:
    """An account holds several passkeys; each logs in, the options allow both."""
    laptop, phone = SoftwareAuthenticator(origin=ORIGIN), SoftwareAuthenticator(origin=ORIGIN)
    register(svc, account_id, laptop)
    assert register(svc, account_id, phone) is None  # no new codes for a second factor
    step = due(svc)
    assert step.passkey_options is not None
    allowed = {entry["id"] for entry in json.loads(step.passkey_options)["allowCredentials"]}
    assert allowed == {laptop.credential_id(PARTY.id), phone.credential_id(PARTY.id)}
    svc.complete_login_with_passkey(step.challenge, phone.get(step.passkey_options))
    step = due(svc)
    assert step.passkey_options is not None
    svc.complete_login_with_passkey(step.challenge, laptop.get(step.passkey_options))


def test_cloned_authenticator_refused(svc: IdentityService, account_id: str) -> None:
    """A sign counter that does not move forward (a clone) is refused."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    register(svc, account_id, key)
    twin = key.clone()
    step = due(svc)
    assert step.passkey_options is not None
    svc.complete_login_with_passkey(step.challenge, key.get(step.passkey_options))
    step = due(svc)
    assert step.passkey_options is not None
    with pytest.raises(InvalidCode):
        svc.complete_login_with_passkey(step.challenge, twin.get(step.passkey_options))


def test_wrong_origin_refused(svc: IdentityService, account_id: str) -> None:
    """An answer from another origin (a phishing page) is refused and counts as a failure."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    register(svc, account_id, key)
    key.origin = "https://provider-portal.example.evil"
    step = due(svc)
    assert step.passkey_options is not None
    with pytest.raises(InvalidCode):
        svc.complete_login_with_passkey(step.challenge, key.get(step.passkey_options))
    assert svc.lockout_status("jdoe").failures == 2


def test_answer_to_another_challenge_refused(svc: IdentityService, account_id: str) -> None:
    """An answer signed for one login's challenge does not finish another."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    register(svc, account_id, key)
    first, second = due(svc), due(svc)
    assert first.passkey_options is not None
    with pytest.raises(InvalidCode):
        svc.complete_login_with_passkey(second.challenge, key.get(first.passkey_options))


@pytest.mark.parametrize("garbage", ["", "{", "[]", '{"id": 5}', "x" * 20_000])
def test_garbage_answer(svc: IdentityService, account_id: str, garbage: str) -> None:
    """Malformed answers are refused with a typed error, never a crash."""
    register(svc, account_id, SoftwareAuthenticator(origin=ORIGIN))
    step = due(svc)
    with pytest.raises((InvalidCode, ValueError)):
        svc.complete_login_with_passkey(step.challenge, garbage)


def test_registration_state_is_single_use(svc: IdentityService, account_id: str) -> None:
    """A registration state that added a passkey cannot add another, nor its answer again."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    registration = svc.begin_passkey_registration(account_id)
    answer = key.create(registration.options)
    svc.finish_passkey_registration(account_id, registration.state, answer)
    with pytest.raises(ChallengeInvalid):
        svc.finish_passkey_registration(account_id, registration.state, answer)
    again = svc.begin_passkey_registration(account_id)
    with pytest.raises(InvalidCode):  # signed for the first state's challenge
        svc.finish_passkey_registration(account_id, again.state, answer)
    record = svc.factors(account_id)
    assert record is not None
    assert len(record.passkeys) == 1


def test_no_relying_party_no_passkeys(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Without a relying party, passkey registration is SecondFactorsOff."""
    svc = make_service(
        second_factors=SecondFactors(
            mode="optional", store=MemoryFactorStore(), secrets=SecretBox(current=b"p" * 32)
        )
    )
    account = svc.register(practitioner()).account
    with pytest.raises(SecondFactorsOff):
        svc.begin_passkey_registration(account.id)


def test_remove_passkey_with_recovery_code(
    svc: IdentityService, account_id: str, mailer: RecordingMailer
) -> None:
    """A passkey is removed by its id with the password and a recovery code; login is one step."""
    key = SoftwareAuthenticator(origin=ORIGIN)
    codes = register(svc, account_id, key)
    assert codes is not None
    credential_id = key.credential_id(PARTY.id)
    svc.remove_factor(
        account_id,
        credential_id,
        password=PASSWORD,
        code=codes.codes[0],  # type: ignore[attr-defined]
    )
    assert not svc.has_second_factor(account_id)
    assert svc.factors(account_id).recovery is None  # type: ignore[union-attr]
    assert isinstance(svc.login("jdoe", PASSWORD), LoginResult)
