"""SupportDesk: staff flows for a caller, each audited with the agent's id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import (
    AccountDeactivated,
    AccountNotFound,
    AccountStatus,
    AuthenticationError,
    CallerNotVerified,
    ConfigurationError,
    DeactivationReason,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    InvalidTransition,
    LoginResult,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    SupportDesk,
    TokenAlreadyUsed,
    UsernameUnavailable,
)
from provider_identity.events import Action
from provider_identity.mfa import SecondFactors, SecretBox
from provider_identity.testing import (
    FailingMailer,
    FakeAuthenticator,
    ManualClock,
    MemoryAccountRepository,
    MemoryEventLog,
    MemoryFactorStore,
    MemoryLockoutStore,
    RecordingMailer,
)
from provider_identity.tokens import TokenPurpose
from tests.helpers import PASSWORD, group, member, practitioner

AGENT = "agent-17"
RESET_SUBJECT = "CareSource Provider Portal Password"


@pytest.fixture
def trail() -> MemoryEventLog:
    return MemoryEventLog()


@pytest.fixture
def portal(make_service: Callable[..., IdentityService], trail: MemoryEventLog) -> IdentityService:
    """The service, its events kept in the trail the desk reads."""
    return make_service(events=trail)


@pytest.fixture
def desk(portal: IdentityService, trail: MemoryEventLog) -> SupportDesk:
    return SupportDesk(service=portal, trail=trail)


@pytest.fixture
def jane(portal: IdentityService, mailer: RecordingMailer) -> str:
    """Jane Doe, registered and active; her account id."""
    account_id = portal.register(practitioner()).account.id
    portal.activate(mailer.last_token())
    mailer.clear()
    return account_id


def agents_of(trail: MemoryEventLog) -> list[tuple[str, str, str | None]]:
    """(action, outcome, agent) of every event, oldest first."""
    return [(e.action.value, e.outcome, dict(e.detail).get("agent")) for e in trail.query()]


# -- looking up -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        {"username": " JDoe "},
        {"email": "Jane.Doe@Example.org"},
        {"provider_id": " p1000001 "},
    ],
)
def test_an_account_is_found_by_user_name_email_or_provider_id(
    desk: SupportDesk, jane: str, key: dict[str, str]
) -> None:
    """Any of the three keys, typed as a caller would spell it, finds the same account."""
    view = desk.find_account(AGENT, **key)
    assert (view.account.id, view.account.username) == (jane, "jdoe")
    assert view.account.status is AccountStatus.ACTIVE


def test_the_view_shows_lock_state_expiry_and_agreement(
    desk: SupportDesk, portal: IdentityService, clock: ManualClock, mailer: RecordingMailer
) -> None:
    """A pending account shows when it expires; a locked one until when; both the agreement."""
    pending = portal.register(group())
    for _ in range(portal.lockout_policy.max_failures):
        with pytest.raises(AuthenticationError):
            portal.login("mvr-admin", "Wrong-Password-1")
    view = desk.find_account(AGENT, username="mvr-admin")
    assert view.account.status is AccountStatus.PENDING
    assert view.pending_expires_at == clock.now() + timedelta(days=7)
    assert view.locked_until == clock.now() + timedelta(hours=24)
    assert view.login_failures == 5
    assert view.answer_locked_until is None
    assert (view.agreement_version, view.agreement_accepted_at) == ("1", clock.now())
    assert view.activated_at is None
    assert view.account.id == pending.account.id
    assert "hash" not in repr(view)


def test_an_active_account_has_no_pending_expiry(desk: SupportDesk, jane: str) -> None:
    """Once activated, an account never expires."""
    view = desk.find_account(AGENT, username="jdoe")
    assert view.pending_expires_at is None
    assert view.activated_at is not None


@pytest.mark.parametrize(
    "key", [{}, {"username": "jdoe", "email": "jane.doe@example.org"}, {"email": "not-an-address"}]
)
def test_a_lookup_needs_exactly_one_well_formed_key(
    desk: SupportDesk, jane: str, key: dict[str, str]
) -> None:
    """No key, two keys or a malformed one: InvalidInput, audited with the agent."""
    with pytest.raises(InvalidInput):
        desk.find_account(AGENT, **key)


def test_an_unknown_key_is_account_not_found(desk: SupportDesk, trail: MemoryEventLog) -> None:
    """Staff may know an account does not exist; the event says so, with the agent."""
    with pytest.raises(AccountNotFound):
        desk.find_account(AGENT, provider_id="P9999999")
    assert agents_of(trail) == [("look_up_account", "account_not_found", AGENT)]
    assert dict(trail.query()[0].detail) == {"agent": AGENT, "lookup": "provider_id"}


# -- verifying the caller ---------------------------------------------------------------


def test_a_right_answer_opens_a_window_of_fifteen_minutes(
    desk: SupportDesk, jane: str, clock: ManualClock
) -> None:
    """The answer is normalised as at registration; the window ends 15 minutes later."""
    verified = desk.verify_caller(AGENT, jane, "  rex ")
    assert (verified.account_id, verified.agent_id) == (jane, AGENT)
    assert verified.valid_until == clock.now() + timedelta(minutes=15)


def test_wrong_answers_share_the_services_limit_of_three(
    desk: SupportDesk, portal: IdentityService, jane: str
) -> None:
    """Desk and service count into one limit: 2 wrong on the desk, 1 on the service, locked."""
    for left in (2, 1):
        with pytest.raises(SecurityAnswerMismatch) as wrong:
            desk.verify_caller(AGENT, jane, "Rover")
        assert wrong.value.attempts_left == left
    with pytest.raises(SecurityAnswerLocked):
        portal.verify_security_answer("jdoe", "Rover")
    with pytest.raises(SecurityAnswerLocked):
        desk.verify_caller(AGENT, jane, "Rex")  # even the right answer, while locked
    assert desk.find_account(AGENT, username="jdoe").answer_locked_until is not None


def test_a_verified_answer_alone_logs_nobody_in_and_changes_nothing(
    desk: SupportDesk, portal: IdentityService, jane: str, mailer: RecordingMailer
) -> None:
    """Verification sends no mail and leaves the password and version as they were."""
    before = portal.accounts.get(jane)
    desk.verify_caller(AGENT, jane, "Rex")
    assert portal.accounts.get(jane) == before
    assert mailer.messages == []


# -- the reset link ---------------------------------------------------------------------


def test_after_a_verified_answer_the_reset_link_goes_to_the_stored_address(
    desk: SupportDesk, portal: IdentityService, jane: str, mailer: RecordingMailer
) -> None:
    """The link goes to the address on file, and it works like the self-service one."""
    desk.verify_caller(AGENT, jane, "Rex")
    assert desk.send_reset_link(AGENT, jane) is True
    assert str(mailer.last(subject=RESET_SUBJECT)["To"]) == "jane.doe@example.org"
    portal.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    assert portal.login("jdoe", "Green-Kestrel-2032").account.id == jane


def test_without_a_verified_answer_no_reset_link_is_sent(
    desk: SupportDesk, jane: str, mailer: RecordingMailer, trail: MemoryEventLog
) -> None:
    """CallerNotVerified, no mail, and the refusal is audited with the agent."""
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link(AGENT, jane)
    assert mailer.messages == []
    assert agents_of(trail)[-1] == ("request_password_reset", "caller_not_verified", AGENT)


def test_the_window_ends_exactly_at_its_length(
    desk: SupportDesk, jane: str, clock: ManualClock, mailer: RecordingMailer
) -> None:
    """Valid one microsecond before the end, refused at the end."""
    desk.verify_caller(AGENT, jane, "Rex")
    clock.advance(minutes=15, microseconds=-1)
    assert desk.send_reset_link(AGENT, jane)
    clock.advance(microseconds=1)
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link(AGENT, jane)


def test_the_window_is_configurable(
    portal: IdentityService, trail: MemoryEventLog, jane: str, clock: ManualClock
) -> None:
    """verification_window=5 minutes: refused after 5 minutes."""
    desk = SupportDesk(service=portal, trail=trail, verification_window=timedelta(minutes=5))
    desk.verify_caller(AGENT, jane, "Rex")
    clock.advance(minutes=5)
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link(AGENT, jane)


def test_the_window_belongs_to_the_agent_and_the_account(
    desk: SupportDesk, portal: IdentityService, jane: str, mailer: RecordingMailer
) -> None:
    """Another agent, or another account, gets nothing from this verification."""
    other = portal.register(group()).account.id
    desk.verify_caller(AGENT, jane, "Rex")
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link("agent-99", jane)
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link(AGENT, other)


def test_a_failed_send_is_reported_and_audited(
    make_service: Callable[..., IdentityService], trail: MemoryEventLog
) -> None:
    """With the relay down the call returns False; the event says not_sent and why."""
    working = make_service(events=trail)
    jane = working.register(practitioner()).account.id
    desk = SupportDesk(service=make_service(events=trail, mailer=FailingMailer()), trail=trail)
    desk.verify_caller(AGENT, jane, "Rex")
    assert desk.send_reset_link(AGENT, jane) is False
    last = trail.query(limit=1)[0]
    assert (last.outcome, dict(last.detail)["mail"]) == ("not_sent", "mail_delivery_failed")


# -- unlock and history -----------------------------------------------------------------


def test_unlock_ends_the_lock_and_is_audited_with_the_agent(
    desk: SupportDesk, portal: IdentityService, jane: str, trail: MemoryEventLog
) -> None:
    """After the desk's unlock the right password logs in again."""
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            portal.login("jdoe", "Wrong-Password-1")
    desk.unlock(AGENT, jane)
    assert portal.login("jdoe", PASSWORD).account.id == jane
    assert ("unlock", "success", AGENT) in agents_of(trail)


def test_history_lists_the_accounts_events_oldest_first(
    desk: SupportDesk, portal: IdentityService, jane: str, trail: MemoryEventLog
) -> None:
    """Every decision about the account, the desk's own with their agent; the look is audited."""
    with pytest.raises(InvalidCredentials):
        portal.login("jdoe", "Wrong-Password-1")
    desk.verify_caller(AGENT, jane, "Rex")
    events = desk.history(AGENT, jane)
    assert [e.action for e in events] == [
        Action.REGISTER,
        Action.ACTIVATE,
        Action.LOGIN,
        Action.VERIFY_SECURITY_ANSWER,
    ]
    assert dict(events[-1].detail)["agent"] == AGENT
    assert agents_of(trail)[-1] == ("view_history", "success", AGENT)
    assert [e.action for e in desk.history(AGENT, jane, limit=1)] == [Action.VIEW_HISTORY]


def test_history_without_a_trail_is_a_configuration_error(
    portal: IdentityService, jane: str
) -> None:
    """A desk built without an EventLog says so instead of answering nothing."""
    with pytest.raises(ConfigurationError):
        SupportDesk(service=portal).history(AGENT, jane)


# -- every call: the agent's id, bad input ----------------------------------------------


def every_call(desk: SupportDesk, agent: Any, account_id: str) -> list[Callable[[], object]]:
    return [
        lambda: desk.find_account(agent, username="jdoe"),
        lambda: desk.verify_caller(agent, account_id, "Rex"),
        lambda: desk.send_reset_link(agent, account_id),
        lambda: desk.unlock(agent, account_id),
        lambda: desk.deactivate(agent, account_id),
        lambda: desk.reactivate(agent, account_id),
        lambda: desk.history(agent, account_id),
        lambda: desk.correct_pending_email(agent, account_id, "new@example.org"),
    ]


def test_every_call_records_the_agent_in_exactly_one_event(
    desk: SupportDesk, jane: str, trail: MemoryEventLog
) -> None:
    """Eight calls, eight events (the refused one too), each with the agent's id."""
    before = len(trail)
    for call in every_call(desk, AGENT, jane)[:-1]:
        call()
    with pytest.raises(InvalidTransition):  # Jane is active: no pending address to correct
        every_call(desk, AGENT, jane)[-1]()
    added = trail.query()[before:]
    assert len(added) == 8
    assert {dict(e.detail)["agent"] for e in added} == {AGENT}
    assert added[-1].outcome == "invalid_transition"


@pytest.mark.parametrize("agent", ["", "   ", None, 17, "a\nb", "x" * 129])
def test_a_bad_agent_id_is_refused_before_anything_happens(
    desk: SupportDesk, jane: str, trail: MemoryEventLog, mailer: RecordingMailer, agent: Any
) -> None:
    """Every call refuses it with InvalidInput on agent_id; no event, no mail, no change."""
    lockouts = desk.service.lockouts
    assert isinstance(lockouts, MemoryLockoutStore)
    before = (len(trail), lockouts.states(), list(desk.service.accounts))  # type: ignore[call-overload]
    for call in every_call(desk, agent, jane):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.fields == {"agent_id"}
    assert (len(trail), lockouts.states(), list(desk.service.accounts)) == before  # type: ignore[call-overload]
    assert mailer.messages == []


@pytest.mark.parametrize("account_id", ["nope", "", 42, None])
def test_an_unknown_account_id_is_account_not_found_with_nothing_changed(
    desk: SupportDesk, jane: str, mailer: RecordingMailer, account_id: Any
) -> None:
    """verify, reset, unlock and history refuse an id that names no account."""
    for call in every_call(desk, AGENT, account_id)[1:]:
        with pytest.raises(AccountNotFound):
            call()
    assert mailer.messages == []


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wait=st.integers(min_value=0, max_value=40 * 60))
def test_a_reset_link_is_sent_exactly_while_the_window_is_open(
    make_service: Callable[..., IdentityService], wait: int
) -> None:
    """For any wait after the verification, the link goes out if and only if wait < window."""
    clock = ManualClock()
    trail = MemoryEventLog()
    service = make_service(
        clock=clock, events=trail, lockouts=MemoryLockoutStore(), accounts=MemoryAccountRepository()
    )
    desk = SupportDesk(service=service, trail=trail)
    account_id = service.register(practitioner()).account.id
    desk.verify_caller(AGENT, account_id, "Rex")
    clock.advance(wait)
    try:
        sent = desk.send_reset_link(AGENT, account_id)
    except CallerNotVerified:
        sent = False
    assert sent is (wait < 15 * 60)


# -- a pending account's mistyped address ------------------------------------------------


@pytest.fixture
def typo(portal: IdentityService, mailer: RecordingMailer) -> str:
    """Jane registered with a mistyped address and never activated; her account id."""
    account_id = portal.register(practitioner(email="jane.doe@exmaple.org")).account.id
    mailer.clear()
    return account_id


def test_a_pending_accounts_address_is_corrected_and_its_activation_resent(
    desk: SupportDesk, portal: IdentityService, typo: str, mailer: RecordingMailer
) -> None:
    """The activation goes to the corrected address and works; the old link is dead."""
    old_link = portal.tokens.issue(TokenPurpose.ACTIVATION, account_id=typo, credential_version=0)
    desk.verify_caller(AGENT, typo, "Rex")
    assert desk.correct_pending_email(AGENT, typo, "Jane.Doe@Example.org") is True
    assert [str(m["To"]) for m in mailer.messages] == ["Jane.Doe@example.org"]
    with pytest.raises(TokenAlreadyUsed):
        portal.activate(old_link)
    portal.activate(mailer.last_token())
    assert portal.accounts.find_by_email("jane.doe@example.org").id == typo
    assert not portal.accounts.key_taken("jane.doe@exmaple.org")  # the typo is freed


def test_correcting_an_address_needs_a_verified_caller(
    desk: SupportDesk, portal: IdentityService, typo: str, mailer: RecordingMailer
) -> None:
    """Without a verification nothing changes and nothing is sent."""
    before = portal.accounts.get(typo)
    with pytest.raises(CallerNotVerified):
        desk.correct_pending_email(AGENT, typo, "jane.doe@example.org")
    assert portal.accounts.get(typo) == before
    assert mailer.messages == []


@pytest.mark.parametrize(
    ("new_email", "error"),
    [
        ("not an address", InvalidInput),
        ("JANE.DOE@exmaple.org", InvalidInput),  # the same address
        ("Ravi@Example.org", UsernameUnavailable),  # another account's username
        ("ravi.patel@example.org", UsernameUnavailable),  # another account's email
    ],
)
def test_a_bad_or_taken_address_is_refused_with_nothing_changed(
    desk: SupportDesk,
    portal: IdentityService,
    typo: str,
    mailer: RecordingMailer,
    new_email: str,
    error: type[Exception],
) -> None:
    """Typed errors; the account and the key space are as they were, no mail."""
    portal.register(member("ravi@example.org", email="ravi.patel@example.org"))
    mailer.clear()
    desk.verify_caller(AGENT, typo, "Rex")
    before = portal.accounts.get(typo)
    with pytest.raises(error):
        desk.correct_pending_email(AGENT, typo, new_email)
    assert portal.accounts.get(typo) == before
    assert portal.accounts.key_taken("jane.doe@exmaple.org")
    assert mailer.messages == []


def test_an_active_accounts_address_is_not_the_desks_to_change(
    desk: SupportDesk, jane: str
) -> None:
    """Only a pending account's address is corrected here; an active one uses email change."""
    desk.verify_caller(AGENT, jane, "Rex")
    with pytest.raises(InvalidTransition):
        desk.correct_pending_email(AGENT, jane, "new@example.org")


# -- deactivate and reactivate ------------------------------------------------------------


def test_deactivate_switches_the_account_off_and_the_view_says_why(
    desk: SupportDesk, portal: IdentityService, jane: str, trail: MemoryEventLog
) -> None:
    """No login afterwards; the view shows when and why; the event has agent and reason."""
    view = desk.deactivate(AGENT, jane, DeactivationReason.ADMINISTRATOR)
    assert view.account.status is AccountStatus.DEACTIVATED
    assert view.deactivation_reason is DeactivationReason.ADMINISTRATOR
    assert view.deactivated_at is not None
    with pytest.raises(AccountDeactivated):
        portal.login("jdoe", PASSWORD)
    [event] = [e for e in trail.query(account_id=jane) if e.action is Action.DEACTIVATE]
    assert dict(event.detail)["agent"] == AGENT
    assert dict(event.detail)["reason"] == "administrator"


def test_a_deactivated_account_gets_no_reset_link_even_after_verification(
    desk: SupportDesk, jane: str, mailer: RecordingMailer
) -> None:
    """The desk cannot mail a switched-off account; reactivate first."""
    desk.deactivate(AGENT, jane)
    desk.verify_caller(AGENT, jane, "Rex")
    with pytest.raises(InvalidTransition):
        desk.send_reset_link(AGENT, jane)
    assert mailer.messages == []


def test_reactivate_lets_the_account_log_in_again(
    desk: SupportDesk, portal: IdentityService, jane: str
) -> None:
    """Deactivated, then reactivated: active again, and the password works."""
    desk.deactivate(AGENT, jane)
    view = desk.reactivate(AGENT, jane)
    assert view.account.status is AccountStatus.ACTIVE
    assert (view.deactivated_at, view.deactivation_reason) == (None, None)
    assert portal.login("jdoe", PASSWORD).account.id == jane


def test_the_transitions_refuse_a_state_they_do_not_apply_to(
    desk: SupportDesk, portal: IdentityService, jane: str
) -> None:
    """Reactivating an active account or deactivating twice: InvalidTransition, nothing changed."""
    with pytest.raises(InvalidTransition):
        desk.reactivate(AGENT, jane)
    desk.deactivate(AGENT, jane)
    before = portal.accounts.get(jane)
    with pytest.raises(InvalidTransition):
        desk.deactivate(AGENT, jane)
    assert portal.accounts.get(jane) == before
    desk.reactivate(AGENT, jane)
    with pytest.raises(InvalidInput):
        desk.deactivate(AGENT, jane, "because")  # type: ignore[arg-type]
    assert portal.accounts.get(jane).is_active


# -- lost second factors --------------------------------------------------------------------


@pytest.fixture
def mfa_desk(
    make_service: Callable[..., IdentityService], trail: MemoryEventLog
) -> tuple[SupportDesk, str, MemoryFactorStore]:
    """A desk over a service with second factors, Jane enrolled in an authenticator app."""
    factors = MemoryFactorStore()
    service = make_service(
        events=trail,
        second_factors=SecondFactors(
            mode="optional", store=factors, secrets=SecretBox(current=b"m" * 32)
        ),
    )
    jane = service.register(practitioner()).account.id
    service.activate(service.tokens.issue(TokenPurpose.ACTIVATION, account_id=jane,
                                          credential_version=0))  # fmt: skip
    enrolment = service.begin_totp_enrolment(jane)
    service.confirm_totp(jane, FakeAuthenticator.from_enrolment(enrolment, service.clock).code())
    return SupportDesk(service=service, trail=trail), jane, factors


def test_a_verified_caller_who_lost_every_factor_gets_them_reset(
    mfa_desk: tuple[SupportDesk, str, MemoryFactorStore], trail: MemoryEventLog
) -> None:
    """After the answer, the factors go; the password alone logs in; the event has the agent."""
    desk, jane, _ = mfa_desk
    desk.verify_caller(AGENT, jane, "Rex")
    desk.reset_factors(AGENT, jane)
    assert isinstance(desk.service.login("jdoe", PASSWORD), LoginResult)
    [event] = [e for e in trail.query(account_id=jane) if e.action is Action.RESET_FACTORS]
    assert (event.outcome, dict(event.detail)["agent"]) == ("success", AGENT)


def test_factors_are_not_reset_without_a_verified_caller(
    mfa_desk: tuple[SupportDesk, str, MemoryFactorStore], trail: MemoryEventLog
) -> None:
    """CallerNotVerified, the factor record untouched, the refusal audited with the agent."""
    desk, jane, factors = mfa_desk
    before = factors.get(jane)
    with pytest.raises(CallerNotVerified):
        desk.reset_factors(AGENT, jane)
    with pytest.raises(AccountNotFound):
        desk.reset_factors(AGENT, "nope")
    assert factors.get(jane) == before
    assert not isinstance(desk.service.login("jdoe", PASSWORD), LoginResult)
    assert agents_of(trail)[-3][:3] == ("reset_factors", "caller_not_verified", AGENT)


# -- the words and fields a desk shows (mutation testing of support.py) -------------------


@pytest.mark.parametrize("key", [{}, {"username": "jdoe", "provider_id": "P1000001"}])
def test_a_lookup_with_no_or_two_keys_says_to_give_exactly_one(
    desk: SupportDesk, jane: str, key: dict[str, str]
) -> None:
    """The refusal is on the field lookup, code one_key, in these words."""
    with pytest.raises(InvalidInput) as caught:
        desk.find_account(AGENT, **key)
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "lookup",
        "one_key",
        "Give exactly one of user name, email or Provider ID.",
    )


def test_the_view_says_when_the_account_was_made_and_what_is_waiting(
    make_service: Callable[..., IdentityService],
    portal: IdentityService,
    trail: MemoryEventLog,
    jane: str,
    clock: ManualClock,
) -> None:
    """created_at is the registration's time; a new agreement and an email change show as due."""
    registered = clock.now()
    clock.advance(hours=1)
    view = SupportDesk(service=portal, trail=trail).find_account(AGENT, username="jdoe")
    assert (view.created_at, view.agreement_required, view.pending_email_requested) == (
        registered,
        False,
        False,
    )
    portal.request_email_change(jane, PASSWORD, "jane.new@example.org")
    newer = make_service(events=trail, agreement_version="2")
    view = SupportDesk(service=newer, trail=trail).find_account(AGENT, username="jdoe")
    assert (view.agreement_required, view.pending_email_requested) == (True, True)


def test_only_a_pending_address_is_corrected_and_the_refusal_says_the_status(
    desk: SupportDesk, jane: str
) -> None:
    """An active account: 'The account is active, not pending.'"""
    desk.verify_caller(AGENT, jane, "Rex")
    with pytest.raises(InvalidTransition) as caught:
        desk.correct_pending_email(AGENT, jane, "new@example.org")
    assert str(caught.value) == "The account is active, not pending."


def test_the_same_address_again_is_refused_on_the_email_field(desk: SupportDesk, typo: str) -> None:
    """The current address again (in another case): unchanged, on the email field."""
    desk.verify_caller(AGENT, typo, "Rex")
    with pytest.raises(InvalidInput) as caught:
        desk.correct_pending_email(AGENT, typo, "JANE.DOE@exmaple.org")
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "email",
        "unchanged",
        "That is the account's email address already.",
    )


def test_a_reactivation_is_audited_as_one(
    desk: SupportDesk, jane: str, trail: MemoryEventLog
) -> None:
    """The last event is the reactivation, a success, with the agent."""
    desk.deactivate(AGENT, jane)
    desk.reactivate(AGENT, jane)
    assert agents_of(trail)[-1] == ("reactivate", "success", AGENT)


def test_history_without_a_trail_says_what_it_needs(portal: IdentityService, jane: str) -> None:
    """The refusal names the call and what it needs."""
    with pytest.raises(ConfigurationError) as caught:
        SupportDesk(service=portal).history(AGENT, jane)
    assert str(caught.value) == "SupportDesk.history needs a trail (an EventLog)."


class NoTextIds(MemoryAccountRepository):
    """An account store that refuses to be asked for an id that is not text."""

    def get(self, account_id: str) -> Any:
        assert isinstance(account_id, str), "a non-text id reached the store"
        return super().get(account_id)


def test_a_non_text_account_id_never_reaches_the_store(
    make_service: Callable[..., IdentityService], trail: MemoryEventLog
) -> None:
    """reset_factors with an id that is not text: AccountNotFound, the store never asked."""
    desk = SupportDesk(service=make_service(events=trail, accounts=NoTextIds()), trail=trail)
    with pytest.raises(AccountNotFound):
        desk.reset_factors(AGENT, 17)  # type: ignore[arg-type]  # wrong on purpose


def test_history_holds_only_this_accounts_events_within_the_window(
    desk: SupportDesk, portal: IdentityService, jane: str, clock: ManualClock
) -> None:
    """Another account's events are left out; since and until bound the times.

    The first look is itself in the trail afterwards, at the latest time.
    """
    portal.register(member("ravi@example.org", email="ravi.patel@example.org"))
    clock.advance(hours=1)
    middle = clock.now()
    with pytest.raises(InvalidCredentials):
        portal.login("jdoe", "Wrong-Password-1")
    clock.advance(hours=1)
    desk.verify_caller(AGENT, jane, "Rex")
    everything = desk.history(AGENT, jane)
    assert {event.account_id for event in everything} == {jane}
    assert [e.action for e in desk.history(AGENT, jane, since=middle)] == [
        Action.LOGIN,
        Action.VERIFY_SECURITY_ANSWER,
        Action.VIEW_HISTORY,
    ]
    assert [e.action for e in desk.history(AGENT, jane, until=middle)] == [
        Action.REGISTER,
        Action.ACTIVATE,
    ]


def test_a_deactivated_accounts_reset_link_is_refused_in_words(
    desk: SupportDesk, jane: str
) -> None:
    """Even after a verified answer, a switched-off account gets no link, in these words."""
    desk.deactivate(AGENT, jane)
    desk.verify_caller(AGENT, jane, "Rex")
    with pytest.raises(InvalidTransition) as caught:
        desk.send_reset_link(AGENT, jane)
    assert str(caught.value) == "The account is deactivated."


def test_a_corrected_address_taken_by_another_account_is_refused_on_the_email_field(
    desk: SupportDesk, portal: IdentityService, typo: str
) -> None:
    """Another account's email: UsernameUnavailable on the email field, in its words."""
    portal.register(member("ravi@example.org", email="ravi.patel@example.org"))
    desk.verify_caller(AGENT, typo, "Rex")
    with pytest.raises(UsernameUnavailable) as caught:
        desk.correct_pending_email(AGENT, typo, "ravi.patel@example.org")
    assert (caught.value.field, str(caught.value)) == (
        "email",
        "That email address is already used by another account.",
    )


def test_a_corrected_address_whose_mail_fails_is_reported_and_audited(
    make_service: Callable[..., IdentityService], trail: MemoryEventLog
) -> None:
    """The address is corrected; the activation could not be sent: False, not_sent and why."""
    working = make_service(events=trail)
    typo = working.register(practitioner(email="jane.doe@exmaple.org")).account.id
    desk = SupportDesk(service=make_service(events=trail, mailer=FailingMailer()), trail=trail)
    desk.verify_caller(AGENT, typo, "Rex")
    assert desk.correct_pending_email(AGENT, typo, "jane.doe@example.org") is False
    last = trail.query(limit=1)[0]
    assert (last.action, last.outcome, dict(last.detail)["mail"]) == (
        Action.CORRECT_PENDING_EMAIL,
        "not_sent",
        "mail_delivery_failed",
    )
    assert working.accounts.find_by_email("jane.doe@example.org").id == typo
