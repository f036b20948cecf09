"""The service's flows at their edges: page sizes on both sides, the factor flows' audit trail."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

from provider_identity import (
    NIST_POLICY,
    AccountLocked,
    AccountNotFound,
    AccountRequest,
    AccountStatus,
    AlreadyRegistered,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    LockoutPolicy,
    MailDeliveryError,
    ProviderNotFound,
    ProviderRecord,
    ProviderRequest,
    ProviderType,
    RateLimit,
    RateLimits,
    RegistrationRequest,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    TicketExpired,
    TicketInvalid,
    TokenAlreadyUsed,
    TokenExpired,
    TooManyAttempts,
    UsernameUnavailable,
)
from provider_identity.errors import (
    ChallengeInvalid,
    CodeAlreadyUsed,
    FactorAlreadyEnrolled,
    FactorNotEnrolled,
    FactorRequired,
    InvalidCode,
)
from provider_identity.events import Action
from provider_identity.mfa import RelyingParty, SecondFactorDue, SecondFactors, SecretBox
from provider_identity.mfa.challenge import LoginChallenges
from provider_identity.service import ReconcileReport
from provider_identity.testing import (
    FakeAuthenticator,
    FakeHumanCheck,
    InlineDelivery,
    ManualClock,
    MemoryAccountRepository,
    MemoryFactorStore,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    message_text,
    sample_records,
)
from provider_identity.testing.webauthn import SoftwareAuthenticator
from tests.helpers import PASSWORD, group, member, practitioner

GROUP_TAX_ID = "317654321"


def staff(count: int) -> list[ProviderRecord]:
    return [
        ProviderRecord(
            provider_id=f"S{n:05d}", tax_id=GROUP_TAX_ID, name=f"Staff {n}", zip_codes="45440"
        )
        for n in range(count)
    ]


@pytest.fixture
def big_group(make_service: Callable[..., IdentityService]) -> tuple[IdentityService, str]:
    """A group account that sees 600 staff records and the sample group's."""
    service = make_service(directory=MemoryProviderDirectory([*sample_records(), *staff(600)]))
    return service, service.register(group()).account.id


def size_refusal(service: IdentityService, account_id: str, size: object) -> tuple[str, str, str]:
    with pytest.raises(InvalidInput) as caught:
        service.accessible_providers_page(account_id, size=size)  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    return error.field, error.code, error.message


def test_page_sizes_1_and_500_pass_0_and_501_do_not(big_group: tuple[IdentityService, str]) -> None:
    """One record a page at least, 500 at most; outside, the rule in words."""
    service, account_id = big_group
    one = service.accessible_providers_page(account_id, size=1)
    assert len(one.records) == 1
    assert one.next_after == one.records[0].provider_id
    most = service.accessible_providers_page(account_id, size=500)
    assert len(most.records) == 500
    assert most.next_after == most.records[-1].provider_id
    words = "size must be a whole number from 1 to 500."
    assert size_refusal(service, account_id, 0) == ("size", "out_of_range", words)
    assert size_refusal(service, account_id, 501) == ("size", "out_of_range", words)
    assert size_refusal(service, account_id, "50") == ("size", "wrong_type", words)
    assert size_refusal(service, account_id, 2.0) == ("size", "wrong_type", words)


def test_a_practitioner_page_starts_after_its_cursor(
    make_service: Callable[..., IdentityService],
) -> None:
    """``after`` its own Provider ID: nothing; after an earlier one: its record."""
    service = make_service()
    account_id = service.register(practitioner()).account.id
    assert service.accessible_providers_page(account_id, after="P1000001").records == ()
    (record,) = service.accessible_providers_page(account_id, after="P1000000").records
    assert record.provider_id == "P1000001"


def test_an_account_whose_record_left_the_directory_has_an_empty_page(
    make_service: Callable[..., IdentityService], accounts: MemoryAccountRepository
) -> None:
    """No own record: no providers and no next page, for practitioners and groups alike."""
    listed = make_service(accounts=accounts)
    ids = [listed.register(request).account.id for request in (practitioner(), group())]
    gone = make_service(accounts=accounts, directory=MemoryProviderDirectory([]))
    for account_id in ids:
        page = gone.accessible_providers_page(account_id)
        assert (page.records, page.next_after) == ((), None)
        assert gone.accessible_providers(account_id) == ()


# -- the factor flows' audit trail ----------------------------------------------------------


@attrs.define(eq=False)
class SwitchableMailer(RecordingMailer):
    """Records messages, or refuses every one with ``error`` once ``failing`` is set."""

    failing: bool = False
    error: Exception = attrs.Factory(lambda: OSError("connection refused"))

    def send(self, message: EmailMessage) -> None:
        if self.failing:
            raise self.error
        super().send(message)


@pytest.fixture
def identity_mailer() -> SwitchableMailer:
    """The service's mailer (the plugin's fixture, overridden here)."""
    return SwitchableMailer()


def with_app(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
    **options: Any,
) -> tuple[IdentityService, str, FakeAuthenticator]:
    """A service (``options`` passed on), an active account, its authenticator app confirmed."""
    factors = SecondFactors(
        mode="optional", store=MemoryFactorStore(), secrets=SecretBox(current=b"m" * 32)
    )
    service = make_service(second_factors=factors, **options)
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account_id), clock)
    service.confirm_totp(account_id, app.code())
    return service, account_id, app


@pytest.fixture
def mfa(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> tuple[IdentityService, str, FakeAuthenticator]:
    """An active account with an authenticator app enrolled."""
    service, account_id, app = with_app(make_service, mailer, clock)
    clock.advance(30)
    mailer.clear()
    return service, account_id, app


def test_regenerating_recovery_codes_is_audited_with_the_address(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """One event (action, outcome, account, client address); a wrong password is one too."""
    service, account_id, _ = mfa
    service.regenerate_recovery_codes(account_id, PASSWORD, client_address="203.0.113.9")
    event = events.events[-1]
    assert (event.action, event.outcome, event.account_id, event.client_address) == (
        Action.REGENERATE_RECOVERY_CODES,
        "success",
        account_id,
        "203.0.113.9",
    )
    assert "mail" not in dict(event.detail)
    assert "New recovery codes were made" in message_text(mailer.messages[-1])
    with pytest.raises(InvalidCredentials):
        service.regenerate_recovery_codes(account_id, "Wrong-Heron-2031", client_address="x")
    failed = events.events[-1]
    assert (failed.action, failed.outcome, failed.client_address) == (
        Action.REGENERATE_RECOVERY_CODES,
        "invalid_credentials",
        "x",
    )


def test_a_notice_that_cannot_be_sent_is_in_the_event(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """The codes are made all the same; the event says the mail failed."""
    service, account_id, _ = mfa
    identity_mailer.failing = True
    assert service.regenerate_recovery_codes(account_id, PASSWORD).codes
    assert dict(events.events[-1].detail)["mail"] == "mail_error"


def nist_account(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
    password: str,
    mode: str = "optional",
) -> tuple[IdentityService, str, FakeAuthenticator]:
    """An account under the NIST preset (15 characters, 8 with a factor) with an app enrolled."""
    factors = SecondFactors(
        mode=mode,  # type: ignore[arg-type]  # a mode
        store=MemoryFactorStore(),
        secrets=SecretBox(current=b"m" * 32),
    )
    service = make_service(second_factors=factors, password_policy=NIST_POLICY)
    account_id = service.register(practitioner(password=password)).account.id
    service.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account_id), clock)
    service.confirm_totp(account_id, app.code())
    clock.advance(30)
    return service, account_id, app


def test_a_password_of_exactly_the_full_minimum_may_drop_the_last_factor(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """15 characters under the NIST preset: the app may go, and login is one step again."""
    exactly = "violet-sparrows"
    assert len(exactly) == 15
    service, account_id, app = nist_account(make_service, mailer, clock, exactly)
    service.remove_factor(account_id, "totp", password=exactly, code=app.code())
    assert not service.has_second_factor(account_id)


def test_the_last_factor_stays_when_required_and_says_why(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """Mode required: reason "policy", and the page's words ask for another method first."""
    service, account_id, app = nist_account(
        make_service, mailer, clock, "violet-sparrows-41", mode="required"
    )
    with pytest.raises(FactorRequired) as caught:
        service.remove_factor(account_id, "totp", password="violet-sparrows-41", code=app.code())
    assert caught.value.reason == "policy"
    assert caught.value.message == (
        "Your account needs a second sign-in method; add another one first."
    )


# -- passkeys -------------------------------------------------------------------------------

ORIGIN = "https://provider-portal.example"


@pytest.fixture
def passkeys(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> tuple[IdentityService, str]:
    """An active account on a service with passkeys on."""
    factors = SecondFactors(
        mode="optional",
        store=MemoryFactorStore(),
        secrets=SecretBox(current=b"p" * 32),
        relying_party=RelyingParty(id="provider-portal.example", origins=(ORIGIN,)),
    )
    service = make_service(second_factors=factors)
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    return service, account_id


def test_passkey_registration_and_login_leave_their_trail(
    passkeys: tuple[IdentityService, str], events: RecordingEventSink, clock: ManualClock
) -> None:
    """Named "Passkey" unless named; the options name the account and exclude its keys; each
    step is audited with its address; a login records the factor and when the key was used."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id, client_address="203.0.113.4")
    options = json.loads(begun.options)
    assert base64.urlsafe_b64decode(options["user"]["id"] + "==") == account_id.encode()
    assert options["excludeCredentials"] == []
    service.finish_passkey_registration(
        account_id, begun.state, key.create(begun.options), client_address="203.0.113.4"
    )
    finished = events.events[-1]
    assert (finished.action, finished.client_address) == (
        Action.FINISH_PASSKEY_REGISTRATION,
        "203.0.113.4",
    )
    assert dict(finished.detail)["passkeys"] == "1"
    assert events.events[-2].action is Action.BEGIN_PASSKEY_REGISTRATION
    assert events.events[-2].client_address == "203.0.113.4"
    record = service.factors(account_id)
    assert record is not None
    assert [stored.name for stored in record.passkeys] == ["Passkey"]
    again = json.loads(service.begin_passkey_registration(account_id).options)
    assert [entry["id"] for entry in again["excludeCredentials"]] == [
        record.passkeys[0].credential_id
    ]
    clock.advance(60)
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    assert step.passkey_options is not None
    service.complete_login_with_passkey(
        step.challenge, key.get(step.passkey_options), client_address="203.0.113.4"
    )
    login = events.events[-1]
    assert (login.action, login.client_address, dict(login.detail)["factor"]) == (
        Action.COMPLETE_LOGIN,
        "203.0.113.4",
        "passkey",
    )
    used = service.factors(account_id)
    assert used is not None
    assert used.passkeys[0].last_used_at == clock.now()


def test_a_passkey_name_of_64_characters_and_not_65(
    passkeys: tuple[IdentityService, str],
) -> None:
    """The name the user gives is kept; 65 characters are refused beside ``name`` in words."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    with pytest.raises(InvalidInput) as caught:
        service.finish_passkey_registration(
            account_id, begun.state, key.create(begun.options), name="n" * 65
        )
    (error,) = caught.value.errors
    assert (error.field, error.message) == ("name", "Name must be at most 64 characters.")
    begun = service.begin_passkey_registration(account_id)
    service.finish_passkey_registration(
        account_id, begun.state, key.create(begun.options), name="n" * 64
    )
    record = service.factors(account_id)
    assert record is not None
    assert [stored.name for stored in record.passkeys] == ["n" * 64]


def test_a_login_challenge_is_no_passkey_registration_state(
    passkeys: tuple[IdentityService, str], mailer: RecordingMailer
) -> None:
    """The two signed states have purposes of their own: one cannot stand in for the other."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    service.finish_passkey_registration(account_id, begun.state, key.create(begun.options))
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    second = service.begin_passkey_registration(account_id)
    other = SoftwareAuthenticator(origin=ORIGIN)
    with pytest.raises(ChallengeInvalid):
        service.finish_passkey_registration(
            account_id, step.challenge, other.create(second.options)
        )


# -- step-by-step registration --------------------------------------------------------------


def provider_step(request: RegistrationRequest) -> ProviderRequest:
    """Step 1's request of the fields of ``request``."""
    values = attrs.asdict(request, recurse=False)
    fields = ("provider_type", "name", "tax_id", "zip_code", "provider_id", "npi")
    return ProviderRequest(**{name: values[name] for name in (*fields, "line_of_business")})


def test_step_one_refuses_what_is_not_its_request_in_words(service: IdentityService) -> None:
    """A whole registration request is not step 1's: ``request`` / ``wrong_type``, in words."""
    with pytest.raises(InvalidInput) as caught:
        service.check_provider(practitioner())  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "request",
        "wrong_type",
        "Not a provider request.",
    )


def test_step_one_ticket_lasts_30_minutes_and_is_audited(
    service: IdentityService, clock: ManualClock, events: RecordingEventSink
) -> None:
    """The ticket's end is now plus the registration lifetime; the event names the address,
    the provider type and the Provider ID."""
    check = service.check_provider(provider_step(practitioner()), client_address="203.0.113.8")
    assert check.expires_at == clock.now() + timedelta(minutes=30)
    event = events.events[-1]
    assert (event.action, event.client_address) == (Action.CHECK_PROVIDER, "203.0.113.8")
    assert dict(event.detail) == {"provider_type": "practitioner", "provider_id": "P1000001"}


def test_the_per_provider_limit_counts_each_provider_apart(
    make_service: Callable[..., IdentityService],
) -> None:
    """One check per provider and minute: the same provider again is refused, another is not."""
    limits = RateLimits(registration_provider=RateLimit(limit=1, period=timedelta(minutes=1)))
    service = make_service(limits=limits)
    service.check_provider(provider_step(practitioner()))
    with pytest.raises(TooManyAttempts):
        service.check_provider(provider_step(practitioner()))
    service.check_provider(provider_step(group()))


def test_purge_pending_takes_accounts_of_the_full_lifetime_to_the_second(
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    events: RecordingEventSink,
) -> None:
    """Seven days: the account made a second later stays until its own seven days are up."""
    service = make_service(pending_lifetime=timedelta(days=7))
    old = service.register(practitioner()).account
    clock.advance(timedelta(seconds=1))
    young = service.register(group()).account
    clock.advance(timedelta(days=7, seconds=-1))
    assert service.purge_pending(client_address="203.0.113.9") == (old.username,)
    assert service.purge_pending() == ()
    purges = [event for event in events.events if event.action is Action.PURGE_PENDING]
    assert [(event.account_id, event.client_address) for event in purges] == [
        (old.id, "203.0.113.9")
    ]
    clock.advance(timedelta(seconds=1))
    assert service.purge_pending() == (young.username,)


# -- removing a factor, and the second step's details ----------------------------------------


@attrs.define(eq=False)
class RacingLockouts(MemoryLockoutStore):
    """Lockout counters where ``racing`` wrong logins land right after each success is recorded."""

    clock: ManualClock
    racing: int = 0

    def __attrs_post_init__(self) -> None:
        super().__init__()

    def clear(self, key: str) -> None:
        super().clear(key)
        for _ in range(self.racing):
            self.record_failure(
                key, now=self.clock.now(), max_failures=5, lock_for=timedelta(hours=24)
            )


def test_removing_the_app_is_audited_with_its_factor_and_address(
    mfa: tuple[IdentityService, str, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """One REMOVE_FACTOR event naming the account, the address and "totp"; the count is zero."""
    service, account_id, app = mfa
    service.remove_factor(
        account_id, "totp", password=PASSWORD, code=app.code(), client_address="203.0.113.7"
    )
    event = events.events[-1]
    assert (event.action, event.outcome, event.username, event.account_id) == (
        Action.REMOVE_FACTOR,
        "success",
        "jdoe",
        account_id,
    )
    assert event.client_address == "203.0.113.7"
    assert dict(event.detail) == {"factor": "totp"}
    assert service.lockout_status("jdoe").failures == 0


def test_a_wrong_code_at_removal_counts_one_login_failure(
    mfa: tuple[IdentityService, str, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """The right password, then a wrong code: one failure on the account's login counter."""
    service, account_id, _ = mfa
    with pytest.raises(InvalidCode):
        service.remove_factor(account_id, "totp", password=PASSWORD, code="000000")
    assert service.lockout_status("jdoe").failures == 1
    assert (events.events[-1].action, events.events[-1].outcome) == (
        Action.REMOVE_FACTOR,
        "invalid_code",
    )
    assert service.has_second_factor(account_id)


def test_a_removal_code_of_64_characters_is_checked_and_65_are_refused_in_words(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
) -> None:
    """65 characters: ``code`` "Code must be at most 64 characters."; 64: simply a wrong code."""
    service, account_id, _ = mfa
    with pytest.raises(InvalidInput) as caught:
        service.remove_factor(account_id, "totp", password=PASSWORD, code="a" * 65)
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "code",
        "too_long",
        "Code must be at most 64 characters.",
    )
    with pytest.raises(InvalidCode):
        service.remove_factor(account_id, "totp", password=PASSWORD, code="a" * 64)


def test_the_wrong_code_that_reaches_the_limit_locks_the_removal(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
    events: RecordingEventSink,
) -> None:
    """One failure allowed: a wrong code at removal is AccountLocked, with the lock's end."""
    service, account_id, _ = with_app(
        make_service, mailer, clock, lockout_policy=LockoutPolicy(max_failures=1)
    )
    clock.advance(30)
    with pytest.raises(AccountLocked) as caught:
        service.remove_factor(account_id, "totp", password=PASSWORD, code="000000")
    assert caught.value.locked_until == clock.now() + timedelta(hours=24)
    event = events.events[-1]
    assert (event.action, event.outcome) == (Action.REMOVE_FACTOR, "account_locked")
    assert dict(event.detail)["locked_until"] == (clock.now() + timedelta(hours=24)).isoformat()


def test_wrong_logins_between_password_and_code_lock_the_removal(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
    events: RecordingEventSink,
) -> None:
    """Five wrong logins land after the password was right: the code is not even checked."""
    lockouts = RacingLockouts(clock=clock)
    service, account_id, app = with_app(make_service, mailer, clock, lockouts=lockouts)
    clock.advance(30)
    lockouts.racing = 5
    with pytest.raises(AccountLocked) as caught:
        service.remove_factor(account_id, "totp", password=PASSWORD, code=app.code())
    assert caught.value.locked_until == clock.now() + timedelta(hours=24)
    assert events.events[-1].outcome == "account_locked"
    assert service.has_second_factor(account_id)


def test_a_wrong_password_that_starts_the_lock_says_so_in_the_event(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
    events: RecordingEventSink,
) -> None:
    """At regeneration and at removal, the locking wrong password: ``lock_started`` and its end."""
    service, account_id, app = with_app(
        make_service, mailer, clock, lockout_policy=LockoutPolicy(max_failures=1)
    )
    ends = (clock.now() + timedelta(hours=24)).isoformat()
    with pytest.raises(AccountLocked):
        service.regenerate_recovery_codes(account_id, "Wrong-Heron-2031")
    event = events.events[-1]
    assert (event.action, event.outcome) == (Action.REGENERATE_RECOVERY_CODES, "account_locked")
    assert dict(event.detail) == {"lock_started": "true", "locked_until": ends}
    service.unlock("jdoe")
    clock.advance(30)
    ends = (clock.now() + timedelta(hours=24)).isoformat()
    with pytest.raises(AccountLocked):
        service.remove_factor(account_id, "totp", password="Wrong-Heron-2031", code=app.code())
    event = events.events[-1]
    assert (event.action, event.outcome) == (Action.REMOVE_FACTOR, "account_locked")
    assert dict(event.detail) == {"factor": "totp", "lock_started": "true", "locked_until": ends}


def test_removing_a_passkey_with_a_recovery_code_is_audited_as_a_passkey(
    passkeys: tuple[IdentityService, str], events: RecordingEventSink, mailer: RecordingMailer
) -> None:
    """The passkey goes by its credential id; the event says "passkey"; a notice follows."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    codes = service.finish_passkey_registration(account_id, begun.state, key.create(begun.options))
    assert codes is not None
    record = service.factors(account_id)
    assert record is not None
    mailer.clear()
    service.remove_factor(
        account_id,
        record.passkeys[0].credential_id,
        password=PASSWORD,
        code=codes.codes[0],
        client_address="203.0.113.6",
    )
    event = events.events[-1]
    assert (event.action, event.outcome, event.client_address) == (
        Action.REMOVE_FACTOR,
        "success",
        "203.0.113.6",
    )
    assert dict(event.detail) == {"factor": "passkey"}
    assert not service.has_second_factor(account_id)
    assert "removed" in message_text(mailer.messages[-1])


def test_notices_that_cannot_be_sent_are_in_the_removal_and_passkey_events(
    passkeys: tuple[IdentityService, str],
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """Adding a passkey and removing it still happen; each event says the mail failed."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    identity_mailer.failing = True
    begun = service.begin_passkey_registration(account_id)
    codes = service.finish_passkey_registration(account_id, begun.state, key.create(begun.options))
    assert codes is not None
    assert dict(events.events[-1].detail) == {"passkeys": "1", "mail": "mail_error"}
    record = service.factors(account_id)
    assert record is not None
    service.remove_factor(
        account_id, record.passkeys[0].credential_id, password=PASSWORD, code=codes.codes[1]
    )
    assert dict(events.events[-1].detail) == {"factor": "passkey", "mail": "mail_error"}


def test_an_app_login_records_its_factor_and_address(
    mfa: tuple[IdentityService, str, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """complete_login with the app's code: the event says "totp" and names the address."""
    service, account_id, app = mfa
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    service.complete_login(step.challenge, app.code(), client_address="203.0.113.5")
    event = events.events[-1]
    assert (event.action, event.outcome, event.account_id, event.client_address) == (
        Action.COMPLETE_LOGIN,
        "success",
        account_id,
        "203.0.113.5",
    )
    assert dict(event.detail) == {"factor": "totp"}


def test_a_used_recovery_code_leaves_the_others_working(
    mfa: tuple[IdentityService, str, FakeAuthenticator], mailer: RecordingMailer
) -> None:
    """After one of ten codes, nine are stored and the next one still logs in."""
    service, account_id, _ = mfa
    codes = service.regenerate_recovery_codes(account_id, PASSWORD).codes
    for used, code in enumerate(codes[:2], 1):
        step = service.login("jdoe", PASSWORD)
        assert isinstance(step, SecondFactorDue)
        service.complete_login(step.challenge, code)
        record = service.factors(account_id)
        assert record is not None
        assert record.recovery is not None
        assert len(record.recovery.digests) == 10 - used
    assert "Recovery codes left: 8." in message_text(mailer.messages[-1])


def test_an_account_stored_without_recovery_codes_finds_a_recovery_code_wrong(
    mfa: tuple[IdentityService, str, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """A record kept with an app but no codes: a code of the recovery form is InvalidCode."""
    service, account_id, _ = mfa
    store = service.second_factors.store
    assert store is not None
    record = store.get(account_id)
    assert record is not None
    store.put(record.next(recovery=None), expected_revision=record.revision)
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    with pytest.raises(InvalidCode):
        service.complete_login(step.challenge, "abcde-fghjk")
    assert events.events[-1].outcome == "invalid_code"
    with pytest.raises(InvalidCode):
        service.remove_factor(account_id, "totp", password=PASSWORD, code="abcde-fghjk")
    assert events.events[-1].outcome == "invalid_code"


def test_a_second_step_login_is_neither_rehashed_nor_due_an_enrolment(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
) -> None:
    """complete_login's result: the account, no rehash, no enrolment due, agreement current."""
    service, account_id, app = mfa
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    result = service.complete_login(step.challenge, app.code())
    assert result.account.id == account_id
    assert result.rehashed is False
    assert result.enrolment_due is False
    assert result.agreement_required is False


def test_a_second_step_login_asks_for_a_newer_agreement(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    make_service: Callable[..., IdentityService],
    events: RecordingEventSink,
) -> None:
    """Agreement "2" is current and the account accepted "1": the result and the event say so."""
    service, _, app = mfa
    newer = make_service(second_factors=service.second_factors, agreement_version="2")
    step = newer.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    assert newer.complete_login(step.challenge, app.code()).agreement_required is True
    assert dict(events.events[-1].detail) == {"factor": "totp", "agreement_required": "true"}


def test_a_challenge_for_an_account_that_is_not_there_is_invalid(
    mfa: tuple[IdentityService, str, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """Genuinely signed, but naming no account: ChallengeInvalid, audited as such."""
    service, _, app = mfa
    signer = LoginChallenges(tokens=service.tokens, lifetime=timedelta(minutes=5))
    challenge = signer.issue(account_id="no-such-account", credential_version=1, revision=1)
    with pytest.raises(ChallengeInvalid):
        service.complete_login(challenge, app.code())
    assert (events.events[-1].action, events.events[-1].outcome) == (
        Action.COMPLETE_LOGIN,
        "login_challenge_invalid",
    )


def test_a_recovery_code_notice_that_cannot_be_sent_is_in_the_login_event(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """The login goes through; the event says which factor, how many codes left, and mail_error."""
    service, account_id, _ = mfa
    codes = service.regenerate_recovery_codes(account_id, PASSWORD).codes
    identity_mailer.failing = True
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    service.complete_login(step.challenge, codes[0])
    assert dict(events.events[-1].detail) == {
        "factor": "recovery_code",
        "recovery_codes_left": "9",
        "mail": "mail_error",
    }


def test_with_second_factors_off_a_login_is_due_no_enrolment(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """Mode off: the password logs in, nothing is due, and the event says nothing of it."""
    result = service.login("jdoe", PASSWORD)
    assert not isinstance(result, SecondFactorDue)
    assert result.enrolment_due is False
    assert dict(events.events[-1].detail) == {}


def test_an_app_only_account_gets_a_second_step_without_passkey_options(
    passkeys: tuple[IdentityService, str], clock: ManualClock
) -> None:
    """Passkeys on, but the account has only an app: codes asked, no passkey options, 5 minutes."""
    service, account_id = passkeys
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account_id), clock)
    service.confirm_totp(account_id, app.code())
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    assert step.passkey_options is None
    assert step.methods == {"totp", "recovery_code"}
    assert step.expires_at == clock.now() + timedelta(minutes=5)


def test_the_per_provider_limit_keeps_each_npi_apart(
    make_service: Callable[..., IdentityService],
) -> None:
    """One check per NPI and minute: after Jane's NPI, another NPI is still looked up."""
    limits = RateLimits(registration_provider=RateLimit(limit=1, period=timedelta(minutes=1)))
    service = make_service(limits=limits)
    by_npi = attrs.evolve(provider_step(practitioner()), provider_id="", npi="1234567893")
    service.check_provider(by_npi)
    with pytest.raises(TooManyAttempts):
        service.check_provider(by_npi)
    with pytest.raises(ProviderNotFound):
        service.check_provider(attrs.evolve(by_npi, npi="1987654328"))


def test_step_one_passes_the_human_check_answer_and_the_address_on(
    make_service: Callable[..., IdentityService], events: RecordingEventSink
) -> None:
    """A check asked from the first attempt: the answer and the client address reach it."""
    limits = RateLimits(
        check_provider=RateLimit(limit=5, period=timedelta(minutes=1), human_check_after=0)
    )
    human = FakeHumanCheck()
    service = make_service(limits=limits, human_check=human)
    service.check_provider(
        provider_step(practitioner()), client_address="203.0.113.8", human_check="passed"
    )
    assert human.calls == [("passed", "203.0.113.8")]
    assert dict(events.events[-1].detail)["human_check"] == "passed"


# -- an account's life: each flow's event, address and mail ---------------------------------

ADDRESS = "198.51.100.23"


def only_event(events: RecordingEventSink, action: Action) -> tuple[object, ...]:
    """The one event of ``action``: outcome, username, account id, client address, detail."""
    (event,) = [event for event in events.events if event.action is action]
    return event.outcome, event.username, event.account_id, event.client_address, dict(event.detail)


def jdoe_succeeded(account_id: str) -> tuple[object, ...]:
    """What :func:`only_event` gives for jdoe's successful flow from ADDRESS, with no detail."""
    return "success", "jdoe", account_id, ADDRESS, {}


def test_an_email_change_request_is_audited_and_mails_both_addresses(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """The link goes to the new address, then the notice to the old; the event names the address."""
    service.request_email_change(
        active_account, PASSWORD, "jane.new@example.org", client_address=ADDRESS
    )
    assert only_event(events, Action.REQUEST_EMAIL_CHANGE) == jdoe_succeeded(active_account)
    link, notice = mailer.messages
    assert (link["To"], link["Subject"]) == (
        "jane.new@example.org",
        "Confirm Your New Provider Portal Email Address",
    )
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Your Provider Portal Email Address Is Changing",
    )
    token = mailer.last_token("jane.new@example.org")
    view = service.confirm_email_change(token, client_address=ADDRESS)
    assert view.email == "jane.new@example.org"
    assert only_event(events, Action.CONFIRM_EMAIL_CHANGE) == jdoe_succeeded(active_account)


def test_an_email_change_to_the_same_address_is_refused_in_words(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """The current address again (in any case): ``email`` / ``unchanged``, before the password."""
    with pytest.raises(InvalidInput) as caught:
        service.request_email_change(active_account, "not-checked", "JANE.DOE@example.org")
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "email",
        "unchanged",
        "That is the email address of your account already.",
    )
    assert service.lockout_status("jdoe").failures == 0


def test_email_change_mail_that_fails_and_mail_that_is_throttled_are_in_the_events(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """A failed send says mail_error; the fourth request within the hour is throttled, unsent."""
    identity_mailer.failing = True
    service.request_email_change(active_account, PASSWORD, "jane.new@example.org")
    assert dict(events.events[-1].detail) == {"mail": "mail_error"}
    identity_mailer.failing = False
    for _ in range(2):
        service.request_email_change(active_account, PASSWORD, "jane.new@example.org")
    sent = len(identity_mailer.messages)
    assert sent == 4
    service.request_email_change(active_account, PASSWORD, "jane.other@example.org")
    assert events.events[-1].outcome == "throttled"
    assert len(identity_mailer.messages) == sent


def test_a_new_security_answer_is_audited_and_noticed(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """The event names the account and address; the notice goes to the stored address."""
    view = service.change_security_answer(
        active_account,
        PASSWORD,
        "In what city were you born?",
        "Dayton",
        client_address=ADDRESS,
    )
    assert view.security_question == "In what city were you born?"
    assert only_event(events, Action.CHANGE_SECURITY_ANSWER) == jdoe_succeeded(active_account)
    (notice,) = mailer.messages
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Your Provider Portal Security Question Was Changed",
    )
    service.verify_security_answer("jdoe", " DAYTON ", client_address=ADDRESS)
    assert only_event(events, Action.VERIFY_SECURITY_ANSWER) == jdoe_succeeded(active_account)


def test_a_failed_security_answer_notice_is_in_the_event(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """The answer is changed all the same; the event says the mail failed."""
    identity_mailer.failing = True
    service.change_security_answer(active_account, PASSWORD, "In what city were you born?", "Ohio")
    assert dict(events.events[-1].detail) == {"mail": "mail_error"}


def test_security_answers_lock_on_the_third_wrong_one(
    service: IdentityService, active_account: str, events: RecordingEventSink, clock: ManualClock
) -> None:
    """Two, then one attempt left; the third wrong answer locks for 24 hours, the right one too."""
    for left in (2, 1):
        with pytest.raises(SecurityAnswerMismatch) as mismatch:
            service.verify_security_answer("jdoe", "Fido")
        assert mismatch.value.attempts_left == left
    with pytest.raises(SecurityAnswerLocked) as locked:
        service.verify_security_answer("jdoe", "Fido")
    ends = clock.now() + timedelta(hours=24)
    assert locked.value.locked_until == ends
    with pytest.raises(SecurityAnswerLocked):
        service.verify_security_answer("jdoe", "Rex", client_address=ADDRESS)
    event = events.events[-1]
    assert (event.outcome, event.account_id, event.client_address) == (
        "security_answer_locked",
        active_account,
        ADDRESS,
    )
    assert dict(event.detail) == {"locked_until": ends.isoformat()}


def test_an_unknown_user_name_has_no_security_answer(
    service: IdentityService, events: RecordingEventSink
) -> None:
    """AccountNotFound, and the event keeps the name as typed, canonical."""
    with pytest.raises(AccountNotFound):
        service.verify_security_answer(" NoSuchUser ", "Rex")
    assert (events.events[-1].username, events.events[-1].account_id) == ("nosuchuser", None)


def test_accepting_the_agreement_is_audited_with_its_version(
    make_service: Callable[..., IdentityService],
    active_account: str,
    events: RecordingEventSink,
    clock: ManualClock,
) -> None:
    """Only the current version; the event records which, and the address."""
    newer = make_service(agreement_version="2")
    with pytest.raises(InvalidInput) as caught:
        newer.accept_agreement(active_account, "1")
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "version",
        "not_current",
        "That is not the current Provider Agreement.",
    )
    clock.advance(60)
    newer.accept_agreement(active_account, "2", client_address=ADDRESS)
    event = events.events[-1]
    assert (event.action, event.outcome, event.account_id, event.client_address) == (
        Action.ACCEPT_AGREEMENT,
        "success",
        active_account,
        ADDRESS,
    )
    assert dict(event.detail) == {"agreement_version": "2"}
    stored = newer.accounts.get(active_account)
    assert stored is not None
    assert (stored.agreement_version, stored.agreement_accepted_at) == ("2", clock.now())
    result = newer.login("jdoe", PASSWORD)
    assert not isinstance(result, SecondFactorDue)
    assert result.agreement_required is False


def test_deactivation_and_reactivation_are_audited_with_reason_and_address(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """The administrator's reason by default; reactivation makes the account active again."""
    off = service.deactivate(active_account, client_address=ADDRESS)
    assert off.status is AccountStatus.DEACTIVATED
    assert only_event(events, Action.DEACTIVATE) == (
        "success",
        "jdoe",
        active_account,
        ADDRESS,
        {"reason": "administrator"},
    )
    on = service.reactivate(active_account, client_address=ADDRESS)
    assert on.status is AccountStatus.ACTIVE
    assert only_event(events, Action.REACTIVATE) == jdoe_succeeded(active_account)


# -- the password flows: events, notices and the password's bounds --------------------------


def test_a_password_change_is_audited_and_noticed(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """The event names the account and address; the notice goes to the stored address."""
    view = service.change_password(
        active_account, PASSWORD, "Green-Kestrel-2032", client_address=ADDRESS
    )
    assert view.credential_version == 2
    assert only_event(events, Action.CHANGE_PASSWORD) == jdoe_succeeded(active_account)
    (notice,) = mailer.messages
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Your Provider Portal Password Was Changed",
    )


def test_a_password_change_notice_that_fails_is_in_the_event(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
) -> None:
    """The password changes all the same; the event says mail_error."""
    identity_mailer.failing = True
    service.change_password(active_account, PASSWORD, "Green-Kestrel-2032")
    assert dict(events.events[-1].detail) == {"mail": "mail_error"}
    assert not isinstance(service.login("jdoe", "Green-Kestrel-2032"), SecondFactorDue)


def test_a_password_reset_is_audited_unlocks_and_frees_the_reset_mail(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """After three reset mails the fourth is throttled; a reset zeroes both counts."""
    for _ in range(5):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            service.login("jdoe", "Wrong-Heron-2031")
    for _ in range(3):
        service.request_password_reset("jdoe", client_address=ADDRESS)
    assert events.events[-1].outcome == "success"
    token = mailer.last_token()
    service.request_password_reset("jdoe")
    assert events.events[-1].outcome == "throttled"
    service.reset_password(token, "Green-Kestrel-2032", client_address=ADDRESS)
    assert only_event(events, Action.RESET_PASSWORD) == jdoe_succeeded(active_account)
    assert mailer.messages[-1]["Subject"] == "Your Provider Portal Password Was Changed"
    assert service.lockout_status("jdoe").failures == 0
    service.request_password_reset("jdoe")
    assert events.events[-1].outcome == "success"


def test_an_unlock_is_audited_under_the_canonical_name(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """The administrator's unlock zeroes the count; the event keeps the name and address."""
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            service.login("jdoe", "Wrong-Heron-2031")
    service.unlock(" JDoe ", client_address=ADDRESS)
    assert service.lockout_status("jdoe").failures == 0
    assert only_event(events, Action.UNLOCK) == ("success", "jdoe", None, ADDRESS, {})


def test_a_session_is_current_for_its_version_only(
    service: IdentityService, active_account: str
) -> None:
    """The account's version exactly, as a whole number; not another, not a bool, not off."""
    assert service.is_session_current(active_account, 1)
    assert not service.is_session_current(active_account, 2)
    assert not service.is_session_current(active_account, True)
    assert not service.is_session_current(5, 1)  # type: ignore[arg-type]  # wrong on purpose
    assert not service.is_session_current("no-such-account", 1)
    service.deactivate(active_account)
    assert not service.is_session_current(active_account, 2)


def test_passwords_of_128_characters_are_checked_and_longer_ones_are_not(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """128 characters count a failure; 129, or 513 raw, are wrong without a count."""
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", "x" * 128)
    assert service.lockout_status("jdoe").failures == 1
    for long in ("x" * 129, "x" * 513):
        with pytest.raises(InvalidCredentials):
            service.login("jdoe", long)
        assert events.events[-1].outcome == "invalid_credentials"
    assert service.lockout_status("jdoe").failures == 1


def test_a_password_may_hold_controls_but_not_be_other_than_text(
    service: IdentityService, active_account: str
) -> None:
    """A bell character is just a wrong password; a number is ``password`` / ``wrong_type``."""
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", PASSWORD + "\x07")
    assert service.lockout_status("jdoe").failures == 1
    with pytest.raises(InvalidInput) as caught:
        service.login("jdoe", 5)  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("password", "wrong_type")


def test_the_locking_failure_mails_the_lock_notice_once(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
    clock: ManualClock,
) -> None:
    """The fifth wrong password locks: the event says so, and the notice names 24 hours."""
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.login("jdoe", "Wrong-Heron-2031")
    assert mailer.messages == []
    with pytest.raises(AccountLocked) as caught:
        service.login("jdoe", "Wrong-Heron-2031", client_address="203.0.113.1")
    ends = clock.now() + timedelta(hours=24)
    assert caught.value.locked_until == ends
    event = events.events[-1]
    assert (event.outcome, event.account_id) == ("account_locked", active_account)
    assert dict(event.detail) == {"lock_started": "true", "locked_until": ends.isoformat()}
    (notice,) = mailer.messages
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Your Provider Portal Account Is Locked",
    )
    assert "24 hours" in message_text(notice)
    with pytest.raises(AccountLocked):
        service.login("jdoe", PASSWORD)
    assert dict(events.events[-1].detail) == {"locked_until": ends.isoformat()}
    assert len(mailer.messages) == 1


# -- the shared plumbing: the client address, failed mail, the event's time and outcome -------


def test_a_client_address_of_256_characters_is_kept_and_257_are_refused_in_words(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """The address as given, up to 256 characters; longer or not text: refused, no event."""
    service.unlock("jdoe", client_address="a" * 256)
    assert events.events[-1].client_address == "a" * 256
    before = len(events.events)
    for bad in ("a" * 257, 5):
        with pytest.raises(InvalidInput) as caught:
            service.unlock("jdoe", client_address=bad)  # type: ignore[arg-type]  # wrong on purpose
        (error,) = caught.value.errors
        assert (error.field, error.code, error.message) == (
            "client_address",
            "invalid",
            "Client address is not valid.",
        )
    assert len(events.events) == before


def test_a_mailer_error_of_the_library_is_named_by_its_code_and_logged(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A MailDeliveryError is "mail_delivery_failed" in the event; the log names code and type."""
    identity_mailer.failing, identity_mailer.error = True, MailDeliveryError(550)
    with caplog.at_level(logging.WARNING, logger="provider_identity.service"):
        service.change_password(active_account, PASSWORD, "Green-Kestrel-2032")
    assert dict(events.events[-1].detail) == {"mail": "mail_delivery_failed"}
    assert [record.getMessage() for record in caplog.records] == [
        "mail not sent: mail_delivery_failed (MailDeliveryError)"
    ]


def test_a_reset_mail_that_fails_later_is_logged_and_changes_no_answer(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
    identity_delivery: InlineDelivery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The job fails after the event: the request still answers None, the log says mail_error."""
    identity_mailer.failing = True
    with caplog.at_level(logging.WARNING, logger="provider_identity.service"):
        service.request_password_reset("jdoe")
    assert identity_delivery.submitted == 1
    assert events.events[-1].outcome == "success"
    assert "mail not sent: mail_error (OSError)" in [r.getMessage() for r in caplog.records]


def test_an_unknown_name_hands_off_a_job_that_sends_nothing(
    service: IdentityService,
    events: RecordingEventSink,
    mailer: RecordingMailer,
    identity_delivery: InlineDelivery,
) -> None:
    """One job for an unknown user name as for a real one, and no message is sent."""
    service.request_password_reset("nobody", client_address=ADDRESS)
    service.resend_activation("nobody", client_address=ADDRESS)
    assert identity_delivery.submitted == 2
    assert mailer.messages == []
    assert [(e.outcome, e.username, e.client_address) for e in events.events] == [
        ("unknown_user", "nobody", ADDRESS),
        ("no_pending_account", "nobody", ADDRESS),
    ]


@attrs.define(eq=False)
class BrokenAccounts(MemoryAccountRepository):
    """An account repository whose lookups fail with a programming error."""

    def __attrs_post_init__(self) -> None:
        super().__init__()

    def get(self, account_id: str) -> None:
        raise RuntimeError("bug")


def test_an_unexpected_error_is_an_internal_error_in_the_event(
    make_service: Callable[..., IdentityService], events: RecordingEventSink, clock: ManualClock
) -> None:
    """The error goes on to the caller; the event says internal_error, at the clock's time."""
    service = make_service(accounts=BrokenAccounts())
    clock.advance(90)
    with pytest.raises(RuntimeError):
        service.accept_agreement("a1", "1", client_address=ADDRESS)
    event = events.events[-1]
    assert (event.action, event.outcome, event.at, event.client_address) == (
        Action.ACCEPT_AGREEMENT,
        "internal_error",
        clock.now(),
        ADDRESS,
    )


def test_ids_that_are_not_text_name_no_account(
    service: IdentityService, events: RecordingEventSink
) -> None:
    """An account id that is a number: AccountNotFound, and no account in the event."""
    with pytest.raises(AccountNotFound):
        service.accept_agreement(5, "1")  # type: ignore[arg-type]  # wrong on purpose
    assert (events.events[-1].outcome, events.events[-1].account_id) == ("account_not_found", None)


# -- enrolment, confirmation and the desk's reset: events and what is stored ----------------


def test_an_app_enrolment_is_audited_and_stored_pending(
    factor_service: IdentityService,
    events: RecordingEventSink,
    mailer: RecordingMailer,
    clock: ManualClock,
) -> None:
    """Beginning names the account and address, stores a sealed pending secret, sends nothing."""
    account_id = factor_service.accounts.find_by_username("jdoe").id  # type: ignore[union-attr]  # registered
    mailer.clear()
    begun_at = clock.now()
    enrolment = factor_service.begin_totp_enrolment(account_id, client_address=ADDRESS)
    assert "Provider%20Portal:jdoe?" in enrolment.uri
    assert only_event(events, Action.BEGIN_TOTP_ENROLMENT) == (
        "success",
        "jdoe",
        account_id,
        ADDRESS,
        {},
    )
    record = factor_service.factors(account_id)
    assert record is not None
    assert record.revision == 1
    assert record.totp is None
    assert record.pending_totp is not None
    assert record.pending_totp.created_at == begun_at
    assert enrolment.secret not in record.pending_totp.sealed_secret
    assert mailer.messages == []
    assert not factor_service.has_second_factor(account_id)


def test_confirming_the_app_is_audited_stored_and_noticed(
    factor_service: IdentityService,
    events: RecordingEventSink,
    mailer: RecordingMailer,
    clock: ManualClock,
) -> None:
    """The first code activates the app at its step; ten fresh codes; a notice to the address."""
    account_id = factor_service.accounts.find_by_username("jdoe").id  # type: ignore[union-attr]  # registered
    app = FakeAuthenticator.from_enrolment(factor_service.begin_totp_enrolment(account_id), clock)
    clock.advance(10)
    mailer.clear()
    confirmed = factor_service.confirm_totp(account_id, app.code(), client_address=ADDRESS)
    assert confirmed.recovery_codes is not None
    assert len(confirmed.recovery_codes.codes) == 10
    assert only_event(events, Action.CONFIRM_TOTP) == ("success", "jdoe", account_id, ADDRESS, {})
    record = factor_service.factors(account_id)
    assert record is not None
    assert (record.revision, record.pending_totp) == (2, None)
    assert record.totp is not None
    assert record.totp.confirmed_at == clock.now()
    assert record.totp.last_step == int(clock.now().timestamp()) // 30
    assert record.recovery is not None
    assert (record.recovery.issued, record.recovery.remaining) == (10, 10)
    assert record.recovery.created_at == clock.now()
    (notice,) = mailer.messages
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Provider Portal Security Notice",
    )
    assert "An authenticator app was added to your account." in message_text(notice)
    step = factor_service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    with pytest.raises(CodeAlreadyUsed):
        factor_service.complete_login(step.challenge, app.code())
    with pytest.raises(FactorAlreadyEnrolled):
        factor_service.begin_totp_enrolment(account_id)


def test_confirming_checks_the_code_and_that_an_enrolment_is_pending(
    factor_service: IdentityService, events: RecordingEventSink, clock: ManualClock
) -> None:
    """No enrolment: FactorNotEnrolled; a 65-character code: refused in words; a wrong one: no."""
    account_id = factor_service.accounts.find_by_username("jdoe").id  # type: ignore[union-attr]  # registered
    with pytest.raises(FactorNotEnrolled):
        factor_service.confirm_totp(account_id, "123456")
    assert events.events[-1].outcome == "factor_not_enrolled"
    app = FakeAuthenticator.from_enrolment(factor_service.begin_totp_enrolment(account_id), clock)
    with pytest.raises(InvalidInput) as caught:
        factor_service.confirm_totp(account_id, "1" * 65)
    (error,) = caught.value.errors
    assert (error.field, error.message) == ("code", "Code must be at most 64 characters.")
    with pytest.raises(InvalidCode):
        factor_service.confirm_totp(account_id, app.code(steps=3))
    assert not factor_service.has_second_factor(account_id)
    factor_service.confirm_totp(account_id, " " + app.code()[:3] + " " + app.code()[3:])
    assert factor_service.has_second_factor(account_id)


def test_an_app_added_after_a_passkey_keeps_the_first_recovery_codes(
    passkeys: tuple[IdentityService, str], clock: ManualClock
) -> None:
    """The second factor brings no new codes: the passkey's first set still logs in."""
    service, account_id = passkeys
    key = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    codes = service.finish_passkey_registration(account_id, begun.state, key.create(begun.options))
    assert codes is not None
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account_id), clock)
    assert service.confirm_totp(account_id, app.code()).recovery_codes is None
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    assert step.methods == {"totp", "recovery_code", "passkey"}
    service.complete_login(step.challenge, codes.codes[0])


def test_the_number_of_recovery_codes_follows_the_setting(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """Three codes a set when so configured, at enrolment and at regeneration."""
    factors = SecondFactors(
        mode="optional",
        store=MemoryFactorStore(),
        secrets=SecretBox(current=b"m" * 32),
        recovery_codes=3,
    )
    service = make_service(second_factors=factors)
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account_id), clock)
    first = service.confirm_totp(account_id, app.code()).recovery_codes
    assert first is not None
    assert len(first.codes) == 3
    assert len(service.regenerate_recovery_codes(account_id, PASSWORD).codes) == 3


def test_the_desks_reset_is_audited_with_the_agent_and_address(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """Agent ids up to 128 characters; the record is emptied a revision later; a notice goes out."""
    service, account_id, _ = mfa
    before = service.factors(account_id)
    assert before is not None
    with pytest.raises(InvalidInput) as caught:
        service.reset_factors(account_id, agent_id="a" * 129)
    (error,) = caught.value.errors
    assert (error.field, error.message) == ("agent_id", "Agent must be at most 128 characters.")
    service.reset_factors(account_id, agent_id="a" * 128, client_address=ADDRESS)
    event = events.events[-1]
    assert (event.action, event.outcome, event.username, event.account_id) == (
        Action.RESET_FACTORS,
        "success",
        "jdoe",
        account_id,
    )
    assert (event.client_address, dict(event.detail)) == (ADDRESS, {"agent": "a" * 128})
    after = service.factors(account_id)
    assert after is not None
    assert (after.revision, after.totp, after.recovery, after.passkeys) == (
        before.revision + 1,
        None,
        None,
        (),
    )
    (notice,) = mailer.messages
    assert notice["To"] == "jane.doe@example.org"
    assert "The support desk removed the two-step sign-in methods" in message_text(notice)


def test_factors_of_an_id_that_is_not_text_or_with_factors_off_are_none(
    mfa: tuple[IdentityService, str, FakeAuthenticator],
    make_service: Callable[..., IdentityService],
) -> None:
    """No record for a number; none from a service with second factors off, on the same store."""
    service, account_id, _ = mfa
    assert service.factors(account_id) is not None
    assert service.factors(5) is None  # type: ignore[arg-type]  # wrong on purpose
    assert not service.has_second_factor(5)  # type: ignore[arg-type]  # wrong on purpose
    off = make_service()
    assert off.factors(account_id) is None
    assert not off.has_second_factor(account_id)


# -- reconcile: the directory's end dates, both ways ----------------------------------------


def test_reconcile_deactivates_ended_records_and_reactivates_returned_ones(
    service: IdentityService,
    directory: MemoryProviderDirectory,
    mailer: RecordingMailer,
    events: RecordingEventSink,
    clock: ManualClock,
) -> None:
    """Ended today or before: off, pending or active; ending tomorrow: kept; back: on again."""
    jane = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    service.register(group())  # pending, its record ends tomorrow
    ravi = service.register(member()).account.id
    service.activate(mailer.last_token("rpatel@example.org"))
    service.deactivate(ravi)  # by the administrator: reconcile leaves it off
    ana = service.register(
        member("alopez", name="Ana Lopez", provider_id="P2000003", zip_code="45459")
    ).account.id
    today = clock.now().date()
    records = {record.provider_id: record for record in sample_records()}
    directory.upsert(
        [
            attrs.evolve(records["P1000001"], end_date=today),
            attrs.evolve(records["G2000001"], end_date=today + timedelta(days=1)),
            attrs.evolve(records["P2000003"], end_date=today - timedelta(days=1)),
        ]
    )
    before = len(events.events)
    report = service.reconcile(client_address=ADDRESS)
    assert (report.deactivated, report.reactivated) == (("alopez", "jdoe"), ())
    off = events.events[before:]
    assert sorted(
        (e.action, e.account_id, e.client_address, dict(e.detail)) for e in off
    ) == sorted(
        (Action.DEACTIVATE, account_id, ADDRESS, {"reason": "provider_left_directory"})
        for account_id in (jane, ana)
    )
    assert service.reconcile() == ReconcileReport()
    directory.upsert([records["P1000001"], records["P2000003"]])
    before = len(events.events)
    report = service.reconcile(client_address=ADDRESS)
    assert (report.deactivated, report.reactivated) == ((), ("alopez", "jdoe"))
    back = events.events[before:]
    assert sorted((e.account_id, e.outcome, e.username) for e in back) == sorted(
        [(jane, "success", "jdoe"), (ana, "success", "alopez")]
    )
    assert all(e.action is Action.REACTIVATE for e in back)
    assert all(e.client_address == ADDRESS for e in back)
    assert all(dict(e.detail) == {"reason": "provider_back_in_directory"} for e in back)
    statuses = {
        account_id: service.accounts.get(account_id).status  # type: ignore[union-attr]  # there
        for account_id in (jane, ravi, ana)
    }
    assert statuses == {
        jane: AccountStatus.ACTIVE,
        ravi: AccountStatus.DEACTIVATED,
        ana: AccountStatus.PENDING,
    }
    assert service.reconcile() == ReconcileReport()


# -- registration: its events, the replaced account, resend and activation ------------------


def account_step(ticket: str, request: RegistrationRequest) -> AccountRequest:
    """Step 3's request: ``ticket`` and the account fields of ``request``."""
    values = attrs.asdict(request, recurse=False)
    fields = ("username", "password", "email", "security_question", "security_answer")
    return AccountRequest(
        ticket=ticket, agreement_confirmed=True, **{name: values[name] for name in fields}
    )


def test_a_registration_is_audited_and_mails_the_activation_link(
    service: IdentityService, events: RecordingEventSink, mailer: RecordingMailer
) -> None:
    """The event names the username, the account, the address, the type and the Provider ID."""
    result = service.register(practitioner(), client_address=ADDRESS)
    assert result.activation_sent is True
    assert result.account.status is AccountStatus.PENDING
    assert only_event(events, Action.REGISTER) == (
        "success",
        "jdoe",
        result.account.id,
        ADDRESS,
        {"provider_type": "practitioner", "provider_id": "P1000001"},
    )
    (link,) = mailer.messages
    assert (link["To"], link["Subject"]) == (
        "jane.doe@example.org",
        "Activate Your Provider Portal Account",
    )


def test_an_activation_mail_that_fails_is_in_the_result_and_the_event(
    service: IdentityService, events: RecordingEventSink, identity_mailer: SwitchableMailer
) -> None:
    """The account is stored all the same; ``activation_sent`` is False, the event says not_sent."""
    identity_mailer.failing = True
    result = service.register(practitioner())
    assert result.activation_sent is False
    assert dict(events.events[-1].detail)["activation_mail"] == "not_sent"
    assert service.accounts.get(result.account.id) is not None


def test_a_pending_registration_blocks_its_provider_for_exactly_its_lifetime(
    service: IdentityService, events: RecordingEventSink, clock: ManualClock
) -> None:
    """A second earlier: AlreadyRegistered (pending, when, to whom); at 7 days: replaced."""
    registered_at = clock.now()
    first = service.register(practitioner()).account
    clock.advance(timedelta(days=7, seconds=-1))
    with pytest.raises(AlreadyRegistered) as caught:
        service.register(practitioner(username="jane2", email="jane2@example.org"))
    assert caught.value.pending is True
    assert caught.value.expires_at == registered_at + timedelta(days=7)
    assert caught.value.masked_email == "j***@e***.org"
    clock.advance(1)
    again = service.register(practitioner(), client_address=ADDRESS)
    assert again.account.id != first.id
    assert dict(events.events[-1].detail) == {
        "provider_type": "practitioner",
        "provider_id": "P1000001",
        "replaced_account": first.id,
    }
    assert service.accounts.get(first.id) is None


def test_an_active_account_blocks_its_provider_and_its_names(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """The provider again: AlreadyRegistered, not pending; the username or email again: taken."""
    with pytest.raises(AlreadyRegistered) as caught:
        service.register(practitioner(username="jane2", email="jane2@example.org"))
    assert (caught.value.pending, caught.value.expires_at, caught.value.masked_email) == (
        False,
        None,
        None,
    )
    for field, changes in (
        ("username", {"username": "JDoe"}),
        ("email", {"email": "Jane.Doe@example.org"}),
    ):
        with pytest.raises(UsernameUnavailable) as taken:
            service.register(group(**changes))
        assert taken.value.field == field


def test_step_three_takes_the_ticket_for_30_minutes(
    service: IdentityService, events: RecordingEventSink, clock: ManualClock
) -> None:
    """At 30 minutes the ticket registers; a second later it has expired; garbage is invalid."""
    ticket = service.check_provider(provider_step(practitioner())).ticket
    clock.advance(timedelta(minutes=30, seconds=1))
    with pytest.raises(TicketExpired):
        service.register(account_step(ticket, practitioner()))
    with pytest.raises(TicketInvalid):
        service.register(account_step("garbage", practitioner()))
    ticket = service.check_provider(provider_step(practitioner())).ticket
    clock.advance(timedelta(minutes=30))
    result = service.register(account_step(ticket, practitioner()), client_address=ADDRESS)
    event = events.events[-1]
    assert (event.action, event.outcome, event.username, event.account_id) == (
        Action.REGISTER,
        "success",
        "jdoe",
        result.account.id,
    )
    assert (event.client_address, dict(event.detail)) == (
        ADDRESS,
        {"provider_type": "practitioner", "provider_id": "P1000001"},
    )


def test_register_refuses_what_is_not_a_registration_request_in_words(
    service: IdentityService,
) -> None:
    """Step 1's request is not one: ``request`` / ``wrong_type``, "Not a registration request."."""
    with pytest.raises(InvalidInput) as caught:
        service.register(provider_step(practitioner()))  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "request",
        "wrong_type",
        "Not a registration request.",
    )


def test_resending_activation_is_audited_and_throttled(
    service: IdentityService, events: RecordingEventSink, mailer: RecordingMailer
) -> None:
    """Three resends mail the link; the fourth is not sent; an active account has none pending."""
    account_id = service.register(practitioner()).account.id
    mailer.clear()
    for _ in range(2):
        service.resend_activation(" JDOE ", client_address=ADDRESS)
    assert [m["To"] for m in mailer.messages] == ["jane.doe@example.org"] * 2
    event = events.events[-1]
    assert (event.action, event.outcome, event.username, event.account_id) == (
        Action.RESEND_ACTIVATION,
        "success",
        "jdoe",
        account_id,
    )
    assert event.client_address == ADDRESS
    service.resend_activation("jdoe")
    assert events.events[-1].outcome == "not_sent"
    assert len(mailer.messages) == 2
    service.activate(mailer.last_token(), client_address=ADDRESS)
    assert only_event(events, Action.ACTIVATE) == ("success", "jdoe", account_id, ADDRESS, {})
    assert (mailer.messages[-1]["To"], mailer.messages[-1]["Subject"]) == (
        "jane.doe@example.org",
        "Email Verification",
    )
    service.resend_activation("jdoe")
    assert (events.events[-1].outcome, events.events[-1].account_id) == ("no_pending_account", None)


def test_an_activation_link_works_once_and_not_after_the_pending_lifetime(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    clock: ManualClock,
) -> None:
    """Twice: TokenAlreadyUsed; a pending account past its 2-day lifetime: TokenExpired."""
    service = make_service(pending_lifetime=timedelta(days=2))
    service.register(practitioner())
    token = mailer.last_token()
    clock.advance(timedelta(days=2))
    with pytest.raises(TokenExpired):
        service.activate(token)
    clock.advance(timedelta(seconds=-1))
    service.activate(token)
    with pytest.raises(TokenAlreadyUsed):
        service.activate(token)


def test_enrolment_and_reset_notices_that_fail_are_in_their_events(
    factor_service: IdentityService,
    events: RecordingEventSink,
    identity_mailer: SwitchableMailer,
    clock: ManualClock,
) -> None:
    """The app is confirmed and the factors reset all the same; each event says mail_error."""
    account_id = factor_service.accounts.find_by_username("jdoe").id  # type: ignore[union-attr]  # registered
    app = FakeAuthenticator.from_enrolment(factor_service.begin_totp_enrolment(account_id), clock)
    identity_mailer.failing = True
    factor_service.confirm_totp(account_id, app.code())
    assert dict(events.events[-1].detail) == {"mail": "mail_error"}
    factor_service.reset_factors(account_id, agent_id="agent-7")
    assert dict(events.events[-1].detail) == {"agent": "agent-7", "mail": "mail_error"}
    assert not factor_service.has_second_factor(account_id)


def lock(service: IdentityService, username: str) -> None:
    """Five wrong passwords for ``username``: the fifth locks."""
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.login(username, "Wrong-Heron-2031")
    with pytest.raises(AccountLocked):
        service.login(username, "Wrong-Heron-2031")


def test_each_account_has_its_own_lock_notice_allowance_and_is_greeted_by_its_name(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """One notice an hour per account: a second account still gets its own, named as it is spelt."""
    service = make_service(mail_throttle=LockoutPolicy(max_failures=1))
    service.register(practitioner(username="JaneDoe"))
    service.activate(mailer.last_token())
    service.register(group())
    service.activate(mailer.last_token("office@mvradiology.example.org"))
    mailer.clear()
    lock(service, "janedoe")
    lock(service, "MVR-Admin")
    notices = [(m["To"], message_text(m).splitlines()[0]) for m in mailer.messages]
    assert notices == [
        ("jane.doe@example.org", "Hello JaneDoe,"),
        ("office@mvradiology.example.org", "Hello mvr-admin,"),
    ]


def test_a_factor_added_to_a_record_without_recovery_codes_brings_a_set(
    passkeys: tuple[IdentityService, str],
) -> None:
    """A record kept with a passkey but no codes: the next passkey comes with ten new codes."""
    service, account_id = passkeys
    first = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    service.finish_passkey_registration(account_id, begun.state, first.create(begun.options))
    store = service.second_factors.store
    assert store is not None
    record = store.get(account_id)
    assert record is not None
    store.put(record.next(recovery=None), expected_revision=record.revision)
    second = SoftwareAuthenticator(origin=ORIGIN)
    begun = service.begin_passkey_registration(account_id)
    codes = service.finish_passkey_registration(
        account_id, begun.state, second.create(begun.options)
    )
    assert codes is not None
    assert len(codes.codes) == 10
    after = service.factors(account_id)
    assert after is not None
    assert after.recovery is not None
    assert after.recovery.remaining == 10


def test_a_factor_notice_greets_the_account_by_its_name(
    factor_service: IdentityService, mailer: RecordingMailer, clock: ManualClock
) -> None:
    """The notice's first line names the user as registered."""
    account_id = factor_service.accounts.find_by_username("jdoe").id  # type: ignore[union-attr]  # registered
    app = FakeAuthenticator.from_enrolment(factor_service.begin_totp_enrolment(account_id), clock)
    mailer.clear()
    factor_service.confirm_totp(account_id, app.code())
    assert message_text(mailer.messages[-1]).startswith(
        "Hello jdoe,\n\nAn authenticator app was added to your account.\n"
    )


@pytest.mark.parametrize(
    ("action", "call"),
    [
        (
            Action.CHANGE_PASSWORD,
            lambda service, account_id, wrong: service.change_password(
                account_id, wrong, "Green-Kestrel-2032"
            ),
        ),
        (
            Action.CHANGE_SECURITY_ANSWER,
            lambda service, account_id, wrong: service.change_security_answer(
                account_id, wrong, "In what city were you born?", "Dayton"
            ),
        ),
        (
            Action.REQUEST_EMAIL_CHANGE,
            lambda service, account_id, wrong: service.request_email_change(
                account_id, wrong, "jane.new@example.org"
            ),
        ),
    ],
)
def test_the_wrong_current_password_that_locks_says_so_in_the_event(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    events: RecordingEventSink,
    clock: ManualClock,
    action: Action,
    call: Callable[[IdentityService, str, str], object],
) -> None:
    """One failure allowed: the wrong current password locks, and the event says lock_started."""
    service = make_service(lockout_policy=LockoutPolicy(max_failures=1))
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    with pytest.raises(AccountLocked):
        call(service, account_id, "Wrong-Heron-2031")
    ends = (clock.now() + timedelta(hours=24)).isoformat()
    event = events.events[-1]
    assert (event.action, event.outcome) == (action, "account_locked")
    assert dict(event.detail) == {"lock_started": "true", "locked_until": ends}


def test_an_account_view_shows_every_field_but_the_secrets(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """After activation: id, name, address, status, type, Provider ID, question and version."""
    account_id = service.register(practitioner(username="JaneDoe")).account.id
    view = service.activate(mailer.last_token())
    assert attrs.asdict(view) == {
        "id": account_id,
        "username": "JaneDoe",
        "email": "jane.doe@example.org",
        "status": AccountStatus.ACTIVE,
        "provider_type": ProviderType.PRACTITIONER,
        "provider_id": "P1000001",
        "security_question": "What is the name of your first pet?",
        "credential_version": 1,
    }


def test_the_silent_flows_answer_alike_when_rate_limited_and_say_which_limit(
    make_service: Callable[..., IdentityService],
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """One attempt a minute from an address: the second answers None, sends nothing, is audited."""
    one = RateLimit(limit=1, period=timedelta(minutes=1))
    service = make_service(
        limits=RateLimits(password_reset=one, resend_activation=one, username_reminder=one)
    )
    calls = (
        ("password_reset", lambda: service.request_password_reset("jdoe", client_address=ADDRESS)),
        ("resend_activation", lambda: service.resend_activation("jdoe", client_address=ADDRESS)),
        (
            "username_reminder",
            lambda: service.request_username_reminder(
                "jane.doe@example.org", client_address=ADDRESS
            ),
        ),
    )
    for kind, call in calls:
        call()
        sent = len(mailer.messages)
        assert call() is None
        assert len(mailer.messages) == sent
        event = events.events[-1]
        assert (event.outcome, event.client_address) == ("rate_limited", ADDRESS)
        assert dict(event.detail)["limit"] == kind


def test_the_username_reminder_and_reset_mail_tell_their_paths_apart_in_the_event(
    service: IdentityService,
    active_account: str,
    events: RecordingEventSink,
    mailer: RecordingMailer,
) -> None:
    """Known: mailed to the stored address; unknown: nothing sent; deactivated: nothing sent."""
    service.request_username_reminder(" Jane.Doe@Example.org ", client_address=ADDRESS)
    event = events.events[-1]
    assert (event.outcome, event.username, event.account_id, event.client_address) == (
        "success",
        "jdoe",
        active_account,
        ADDRESS,
    )
    assert dict(event.detail) == {"email": "jane.doe@example.org"}
    (reminder,) = mailer.messages
    assert reminder["To"] == "jane.doe@example.org"
    assert "jdoe" in message_text(reminder)
    service.request_username_reminder("nobody@example.org")
    assert (events.events[-1].outcome, events.events[-1].account_id) == ("unknown_email", None)
    service.deactivate(active_account)
    service.request_username_reminder("jane.doe@example.org")
    assert (events.events[-1].outcome, events.events[-1].account_id) == (
        "deactivated",
        active_account,
    )
    service.request_password_reset("jdoe", client_address=ADDRESS)
    event = events.events[-1]
    assert (event.outcome, event.username, event.account_id, event.client_address) == (
        "deactivated",
        "jdoe",
        active_account,
        ADDRESS,
    )
    assert len(mailer.messages) == 1


def test_only_the_latest_email_change_link_confirms_and_the_new_key_is_stored(
    service: IdentityService, active_account: str, mailer: RecordingMailer
) -> None:
    """A second request kills the first link; the confirmed address is the account's key."""
    service.request_email_change(active_account, PASSWORD, "jane.old@example.org")
    first = mailer.last_token("jane.old@example.org")
    service.request_email_change(active_account, PASSWORD, "Jane.New@example.org")
    with pytest.raises(TokenAlreadyUsed):
        service.confirm_email_change(first)
    service.confirm_email_change(mailer.last_token("Jane.New@example.org"))
    stored = service.accounts.get(active_account)
    assert stored is not None
    assert (stored.email, stored.email_key) == ("Jane.New@example.org", "jane.new@example.org")
