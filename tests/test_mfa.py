"""Second factors: two-step login, TOTP, recovery codes, policy, removal and reset."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from provider_identity import IdentityService, LoginResult
from provider_identity.errors import (
    AccountLocked,
    ChallengeExpired,
    ChallengeInvalid,
    CodeAlreadyUsed,
    ConfigurationError,
    FactorAlreadyEnrolled,
    FactorNotEnrolled,
    FactorRequired,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    SecondFactorsOff,
)
from provider_identity.events import Action
from provider_identity.mfa import SecondFactorDue, SecondFactors, SecretBox
from provider_identity.passwords import NIST_POLICY
from provider_identity.testing import (
    FakeAuthenticator,
    ManualClock,
    MemoryFactorStore,
    RecordingEventSink,
    RecordingMailer,
    message_text,
)
from tests.helpers import PASSWORD, practitioner

BOX_KEY = b"m" * 32


@pytest.fixture
def factors() -> MemoryFactorStore:
    return MemoryFactorStore()


@pytest.fixture
def mfa_service(
    make_service: Callable[..., IdentityService], factors: MemoryFactorStore
) -> Callable[..., IdentityService]:
    def make(mode: str = "optional", **overrides: Any) -> IdentityService:
        settings = SecondFactors(mode=mode, store=factors, secrets=SecretBox(current=BOX_KEY))  # type: ignore[arg-type]
        return make_service(second_factors=settings, **overrides)

    return make


@pytest.fixture
def svc(mfa_service: Callable[..., IdentityService]) -> IdentityService:
    return mfa_service()


@pytest.fixture
def account_id(svc: IdentityService, mailer: RecordingMailer) -> str:
    result = svc.register(practitioner())
    svc.activate(mailer.last_token())
    mailer.clear()
    return result.account.id


@attrs.frozen
class Enrolled:
    app: FakeAuthenticator
    recovery: tuple[str, ...]


@pytest.fixture
def enrolled(
    svc: IdentityService, account_id: str, clock: ManualClock, mailer: RecordingMailer
) -> Enrolled:
    enrolment = svc.begin_totp_enrolment(account_id)
    app = FakeAuthenticator.from_enrolment(enrolment, clock)
    confirmed = svc.confirm_totp(account_id, app.code())
    assert confirmed.recovery_codes is not None
    clock.advance(30)
    mailer.clear()
    return Enrolled(app, confirmed.recovery_codes.codes)


def due(svc: IdentityService, password: str = PASSWORD) -> SecondFactorDue:
    result = svc.login("jdoe", password)
    assert isinstance(result, SecondFactorDue)
    return result


def test_login_without_factor_logs_in(svc: IdentityService, account_id: str) -> None:
    """An account with no factor logs in with its password alone (mode optional)."""
    result = svc.login("jdoe", PASSWORD)
    assert isinstance(result, LoginResult)
    assert result.account.id == account_id
    assert not result.enrolment_due


def test_pending_enrolment_does_not_change_login(svc: IdentityService, account_id: str) -> None:
    """A TOTP enrolment not yet confirmed asks for no second step."""
    svc.begin_totp_enrolment(account_id)
    assert isinstance(svc.login("jdoe", PASSWORD), LoginResult)


def test_enrolment_shows_uri_and_qr(svc: IdentityService, account_id: str) -> None:
    """Enrolment gives an otpauth URI naming the user and an SVG QR code; repr shows neither."""
    enrolment = svc.begin_totp_enrolment(account_id)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert "jdoe" in enrolment.uri
    assert enrolment.secret in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg")
    assert enrolment.secret not in repr(enrolment)


def test_confirm_needs_the_apps_code(svc: IdentityService, account_id: str) -> None:
    """A wrong first code leaves the enrolment pending."""
    svc.begin_totp_enrolment(account_id)
    with pytest.raises(InvalidCode):
        svc.confirm_totp(account_id, "000000")
    assert not svc.has_second_factor(account_id)


def test_confirm_without_enrolment_refused(svc: IdentityService, account_id: str) -> None:
    """Confirming with nothing pending is FactorNotEnrolled."""
    with pytest.raises(FactorNotEnrolled):
        svc.confirm_totp(account_id, "123456")


def test_second_enrolment_refused(
    svc: IdentityService, account_id: str, enrolled: Enrolled
) -> None:
    """An active app must be removed before another is enrolled."""
    with pytest.raises(FactorAlreadyEnrolled):
        svc.begin_totp_enrolment(account_id)


def test_recovery_codes_ten_distinct(enrolled: Enrolled) -> None:
    """The first factor comes with ten distinct recovery codes."""
    assert len(enrolled.recovery) == 10
    assert len(set(enrolled.recovery)) == 10


def test_secrets_not_stored_in_clear(
    enrolled: Enrolled, factors: MemoryFactorStore, account_id: str
) -> None:
    """The stored record holds neither the TOTP secret nor any recovery code."""
    record = factors.get(account_id)
    assert record is not None
    stored = record.dumps()
    secret = enrolled.app.uri.split("secret=")[1].split("&")[0]
    assert secret not in stored
    for code in enrolled.recovery:
        assert code not in stored
        assert code.replace("-", "") not in stored
    assert secret not in repr(record)


def test_two_step_login(svc: IdentityService, enrolled: Enrolled, account_id: str) -> None:
    """A right password gives SecondFactorDue; the app's code finishes the login."""
    step = due(svc)
    assert step.methods == {"totp", "recovery_code"}
    result = svc.complete_login(step.challenge, enrolled.app.code())
    assert result.account.id == account_id


def test_code_window(svc: IdentityService, enrolled: Enrolled, clock: ManualClock) -> None:
    """The previous and next step's codes work; two steps away does not."""
    clock.advance(60)
    with pytest.raises(InvalidCode):
        svc.complete_login(due(svc).challenge, enrolled.app.code(steps=-2))
    svc.complete_login(due(svc).challenge, enrolled.app.code(steps=-1))
    clock.advance(120)
    with pytest.raises(InvalidCode):
        svc.complete_login(due(svc).challenge, enrolled.app.code(steps=2))
    svc.complete_login(due(svc).challenge, enrolled.app.code(steps=1))


def test_replayed_code_refused(svc: IdentityService, enrolled: Enrolled) -> None:
    """A code accepted once is refused in a later login (its step is stored)."""
    code = enrolled.app.code()
    svc.complete_login(due(svc).challenge, code)
    with pytest.raises(CodeAlreadyUsed):
        svc.complete_login(due(svc).challenge, code)


def test_earlier_step_after_later_refused(svc: IdentityService, enrolled: Enrolled) -> None:
    """Once a step is accepted, an earlier step's (still in-window) code is a replay."""
    svc.complete_login(due(svc).challenge, enrolled.app.code())
    with pytest.raises(CodeAlreadyUsed):
        svc.complete_login(due(svc).challenge, enrolled.app.code(steps=-1))


def test_challenge_single_use(svc: IdentityService, enrolled: Enrolled, clock: ManualClock) -> None:
    """A challenge that finished a login cannot finish another, even with a fresh code."""
    step = due(svc)
    svc.complete_login(step.challenge, enrolled.app.code())
    clock.advance(30)
    with pytest.raises(ChallengeInvalid):
        svc.complete_login(step.challenge, enrolled.app.code())


def test_challenge_expires(svc: IdentityService, enrolled: Enrolled, clock: ManualClock) -> None:
    """The challenge works for its lifetime (5 minutes) and not a second longer."""
    step = due(svc)
    clock.advance(301)
    with pytest.raises(ChallengeExpired):
        svc.complete_login(step.challenge, enrolled.app.code())


def test_challenge_dies_with_password_change(
    svc: IdentityService, enrolled: Enrolled, account_id: str
) -> None:
    """A password change (credential version) kills an outstanding challenge."""
    step = due(svc)
    svc.change_password(account_id, PASSWORD, "Green-Kestrel-2032")
    with pytest.raises(ChallengeInvalid):
        svc.complete_login(step.challenge, enrolled.app.code())


@pytest.mark.parametrize("forged", ["", "x" * 600, "abc.def.ghi", "é", 7])
def test_forged_challenge(svc: IdentityService, enrolled: Enrolled, forged: Any) -> None:
    """Garbled, oversized or non-text challenges are ChallengeInvalid."""
    with pytest.raises(ChallengeInvalid):
        svc.complete_login(forged, enrolled.app.code())


def test_wrong_codes_lock(svc: IdentityService, enrolled: Enrolled) -> None:
    """Wrong codes count toward the login lockout: the limit locks, the right code then fails."""
    step = due(svc)  # the password attempt counts until the code is accepted: 1
    for _ in range(3):
        with pytest.raises(InvalidCode):
            svc.complete_login(step.challenge, "000000")
    with pytest.raises(AccountLocked):
        svc.complete_login(step.challenge, "000001")
    with pytest.raises(AccountLocked):
        svc.complete_login(step.challenge, enrolled.app.code())
    assert svc.lockout_status("jdoe").is_locked


def test_abandoned_second_steps_count(svc: IdentityService, enrolled: Enrolled) -> None:
    """A right password without its code stays counted: logging in again does not zero it."""
    for _ in range(4):
        due(svc)
    assert svc.lockout_status("jdoe").failures == 4


def test_right_code_zeroes_count(svc: IdentityService, enrolled: Enrolled) -> None:
    """An accepted code ends the run of failures."""
    step = due(svc)
    with pytest.raises(InvalidCode):
        svc.complete_login(step.challenge, "000000")
    svc.complete_login(step.challenge, enrolled.app.code())
    assert svc.lockout_status("jdoe").failures == 0


def test_reset_unlocks_but_keeps_factor(
    svc: IdentityService, enrolled: Enrolled, mailer: RecordingMailer
) -> None:
    """A password reset lifts the lock and never removes the second factor."""
    step = due(svc)
    for _ in range(4):
        with pytest.raises((InvalidCode, AccountLocked)):
            svc.complete_login(step.challenge, "000000")
    svc.request_password_reset("jdoe")
    svc.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    result = svc.login("jdoe", "Green-Kestrel-2032")
    assert isinstance(result, SecondFactorDue)


def test_recovery_code_logs_in_once(
    svc: IdentityService, enrolled: Enrolled, mailer: RecordingMailer, events: RecordingEventSink
) -> None:
    """A recovery code works once, typed in any case, hyphen or not; a notice follows."""
    code = enrolled.recovery[3]
    svc.complete_login(due(svc).challenge, code.upper().replace("-", " "))
    notice = message_text(mailer.messages[-1])
    assert "recovery code was used" in notice
    assert "Recovery codes left: 9." in notice
    assert mailer.messages[-1]["To"] == "jane.doe@example.org"
    event = events.events[-1]
    assert event.action is Action.COMPLETE_LOGIN
    assert dict(event.detail) == {"factor": "recovery_code", "recovery_codes_left": "9"}
    with pytest.raises(InvalidCode):
        svc.complete_login(due(svc).challenge, code)


def test_regenerate_kills_old_set(
    svc: IdentityService, enrolled: Enrolled, account_id: str, mailer: RecordingMailer
) -> None:
    """Regenerating needs the password; the old codes die, the new ones work; a notice goes out."""
    with pytest.raises(InvalidCredentials):
        svc.regenerate_recovery_codes(account_id, "Wrong-Password-1")
    fresh = svc.regenerate_recovery_codes(account_id, PASSWORD)
    assert "New recovery codes" in message_text(mailer.messages[-1])
    assert not set(fresh.codes) & set(enrolled.recovery)
    with pytest.raises(InvalidCode):
        svc.complete_login(due(svc).challenge, enrolled.recovery[0])
    svc.complete_login(due(svc).challenge, fresh.codes[0])


def test_events_hold_no_secret(
    svc: IdentityService, enrolled: Enrolled, events: RecordingEventSink
) -> None:
    """No event holds a code, the challenge or the secret."""
    step = due(svc)
    code = enrolled.app.code()
    svc.complete_login(step.challenge, code)
    text = repr(events.events)
    assert code not in text
    assert step.challenge not in text
    assert enrolled.app.uri.split("secret=")[1][:16] not in text
    assert step.challenge not in repr(step)
    assert [e.outcome for e in events.events[-2:]] == ["second_factor_due", "success"]


def test_complete_login_bad_code_input(svc: IdentityService, enrolled: Enrolled) -> None:
    """A code that is not text, or is too long, is InvalidInput and counts nothing."""
    step = due(svc)
    before = svc.lockout_status("jdoe").failures
    for bad in (None, "1" * 65):
        with pytest.raises(InvalidInput):
            svc.complete_login(step.challenge, bad)  # type: ignore[arg-type]
    assert svc.lockout_status("jdoe").failures == before


def test_parallel_complete_login_one_wins(svc: IdentityService, enrolled: Enrolled) -> None:
    """Two parallel complete_login with one code (two challenges): exactly one succeeds."""
    steps = [due(svc), due(svc)]
    code = enrolled.app.code()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(step: SecondFactorDue) -> None:
        barrier.wait()
        try:
            svc.complete_login(step.challenge, code)
        except (InvalidCode, ChallengeInvalid) as err:
            outcomes.append(err.code)
        else:
            outcomes.append("success")

    threads = [threading.Thread(target=attempt, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("success") == 1
    assert len(outcomes) == 2


# -- policy -------------------------------------------------------------------------------


def test_required_mode_enrolment_due(
    mfa_service: Callable[..., IdentityService], mailer: RecordingMailer, events: RecordingEventSink
) -> None:
    """With mode required, a login without a factor says enrolment is due."""
    svc = mfa_service("required")
    svc.register(practitioner())
    svc.activate(mailer.last_token())
    result = svc.login("jdoe", PASSWORD)
    assert isinstance(result, LoginResult)
    assert result.enrolment_due
    assert dict(events.events[-1].detail)["enrolment_due"] == "true"


def test_off_mode_refuses_enrolment(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """With the default mode off, enrolment and complete_login are SecondFactorsOff."""
    svc = make_service()
    account = svc.register(practitioner()).account
    with pytest.raises(SecondFactorsOff):
        svc.begin_totp_enrolment(account.id)
    with pytest.raises(SecondFactorsOff):
        svc.complete_login("x", "123456")


def test_enabled_mode_needs_store_and_box() -> None:
    """An enabled mode without a store or a SecretBox does not construct."""
    with pytest.raises(ConfigurationError):
        SecondFactors(mode="optional")
    with pytest.raises(ConfigurationError):
        SecondFactors(mode="sometimes")  # type: ignore[arg-type]


def test_nist_shorter_minimum_only_with_factor(
    mfa_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """Under the NIST preset an 8-character password is refused until the account has a factor."""
    svc = mfa_service(password_policy=NIST_POLICY)
    account = svc.register(practitioner(password="correct horse battery staple")).account
    svc.activate(mailer.last_token())
    with pytest.raises(InvalidInput):
        svc.change_password(account.id, "correct horse battery staple", "tiger-91x")
    app = FakeAuthenticator.from_enrolment(svc.begin_totp_enrolment(account.id), clock)
    svc.confirm_totp(account.id, app.code())
    svc.change_password(account.id, "correct horse battery staple", "tiger-91x")
    clock.advance(30)
    with pytest.raises(FactorRequired) as caught:
        svc.remove_factor(account.id, "totp", password="tiger-91x", code=app.code())
    assert caught.value.reason == "password_too_short"


# -- removal and reset ----------------------------------------------------------------------


def test_remove_needs_password_and_code(
    svc: IdentityService, enrolled: Enrolled, account_id: str, mailer: RecordingMailer
) -> None:
    """Removal needs the password and a current code; then login is one step again."""
    with pytest.raises(InvalidCredentials):
        svc.remove_factor(account_id, "totp", password="Wrong-Password-1", code=enrolled.app.code())
    with pytest.raises(InvalidCode):
        svc.remove_factor(account_id, "totp", password=PASSWORD, code="000000")
    assert svc.has_second_factor(account_id)
    svc.remove_factor(account_id, "totp", password=PASSWORD, code=enrolled.app.code())
    assert not svc.has_second_factor(account_id)
    assert "removed" in message_text(mailer.messages[-1])
    assert isinstance(svc.login("jdoe", PASSWORD), LoginResult)


def test_required_mode_keeps_last_factor(
    mfa_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """With mode required the last factor cannot be removed."""
    svc = mfa_service("required")
    account = svc.register(practitioner()).account
    svc.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(svc.begin_totp_enrolment(account.id), clock)
    svc.confirm_totp(account.id, app.code())
    clock.advance(30)
    with pytest.raises(FactorRequired):
        svc.remove_factor(account.id, "totp", password=PASSWORD, code=app.code())
    assert svc.has_second_factor(account.id)


def test_reset_factors_by_agent(
    svc: IdentityService,
    enrolled: Enrolled,
    account_id: str,
    mailer: RecordingMailer,
    events: RecordingEventSink,
) -> None:
    """The support desk's reset removes every factor, audits the agent, mails a notice."""
    step = due(svc)
    svc.reset_factors(account_id, agent_id="agent-42")
    event = events.events[-1]
    assert event.action is Action.RESET_FACTORS
    assert dict(event.detail)["agent"] == "agent-42"
    assert "support desk" in message_text(mailer.messages[-1])
    assert not svc.has_second_factor(account_id)
    with pytest.raises(ChallengeInvalid):
        svc.complete_login(step.challenge, enrolled.app.code())
    assert isinstance(svc.login("jdoe", PASSWORD), LoginResult)


@pytest.mark.parametrize(("module", "extra"), [("pyotp", "mfa"), ("segno", "mfa")])
def test_missing_extra_names_the_install_line(
    svc: IdentityService,
    account_id: str,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    extra: str,
) -> None:
    """Without pyotp or segno, enrolment raises an ImportError naming the pip install line."""
    monkeypatch.setitem(__import__("sys").modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'provider-identity\[{extra}\]'"):
        svc.begin_totp_enrolment(account_id)


def test_sealed_secret_bound_to_account() -> None:
    """A sealed secret opens for its account only, and with a previous key after rotation."""
    old = SecretBox(current=b"a" * 32)
    sealed = old.seal("JBSWY3DPEHPK3PXP", context="acct-1")
    rotated = SecretBox(current=b"b" * 32, previous=[b"a" * 32])
    assert rotated.open(sealed, context="acct-1") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(ConfigurationError):
        rotated.open(sealed, context="acct-2")
    with pytest.raises(ConfigurationError):
        SecretBox(current=b"b" * 32).open(sealed, context="acct-1")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    with pytest.raises(ConfigurationError):
        SecretBox(current=b"short")


def test_remove_one_of_several_factors(
    svc: IdentityService, enrolled: Enrolled, account_id: str
) -> None:
    """Removing a factor that is not there is FactorNotEnrolled; the app stays."""
    with pytest.raises(FactorNotEnrolled):
        svc.remove_factor(
            account_id, "no-such-passkey", password=PASSWORD, code=enrolled.app.code()
        )
    assert svc.has_second_factor(account_id)


def test_reset_password_keeps_recovery_codes(
    svc: IdentityService, enrolled: Enrolled, mailer: RecordingMailer
) -> None:
    """After a password reset the recovery codes still finish a login."""
    svc.request_password_reset("jdoe")
    svc.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    step = svc.login("jdoe", "Green-Kestrel-2032")
    assert isinstance(step, SecondFactorDue)
    svc.complete_login(step.challenge, enrolled.recovery[0])


def test_service_repr_hides_keys(svc: IdentityService) -> None:
    """The service's repr shows the MFA settings but not the SecretBox key."""
    text = repr(svc)
    assert "SecondFactors(mode='optional'" in text
    assert repr(BOX_KEY) not in text
    assert "mmmmmmmm" not in text
