"""The account's life after registration, on every store: memory, SQLite, PostgreSQL.

Pending expiry, email change, security answer change, deactivation and
reconciling with the directory, agreement updates, and the lock notice.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from provider_identity import (
    AccountDeactivated,
    AccountLocked,
    AccountStatus,
    Action,
    AlreadyRegistered,
    AuthenticationError,
    DeactivationReason,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    InvalidTransition,
    PasswordHasher,
    SecurityAnswerMismatch,
    TokenAlreadyUsed,
    TokenExpired,
    TokenIssuer,
    UsernameUnavailable,
)
from provider_identity.adapters.sql import SqlAccountRepository, SqlProviderDirectory
from provider_identity.passwords import TEST_ONLY_CHEAPEST
from provider_identity.roster import import_roster
from provider_identity.testing import (
    InlineDelivery,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    sample_records,
)
from tests.adapters.conftest import SQL_KINDS, Target
from tests.helpers import KEY, PASSWORD, member, practitioner

QUESTION = "What is the name of your first pet?"
NEW_PASSWORD = "Green-Kestrel-2032"


@attrs.frozen
class Life:
    """A service over one kind of store, and the fakes it talks to."""

    service: IdentityService
    clock: ManualClock
    mailer: RecordingMailer
    events: RecordingEventSink
    directory: Any
    accounts: Any

    def register_active(self, request: Any = None) -> str:
        """Register (Jane Doe by default) and activate; the account id. The mail is cleared."""
        account_id = self.service.register(request or practitioner()).account.id
        self.service.activate(self.mailer.last_token())
        self.mailer.clear()
        return account_id

    def subjects(self) -> list[tuple[str, str]]:
        return [(str(m["To"]), str(m["Subject"])) for m in self.mailer.messages]

    def actions(self, action: Action) -> list[Any]:
        return [event for event in self.events.events if event.action is action]


@pytest.fixture(params=SQL_KINDS)
def life(request: pytest.FixtureRequest) -> Life:
    """An IdentityService whose directory and accounts are of one kind."""
    if request.param == "memory":
        directory: Any = MemoryProviderDirectory(sample_records())
        accounts: Any = MemoryAccountRepository()
    else:
        target: Target = request.getfixturevalue(request.param)
        directory = SqlProviderDirectory(target.engine)
        directory.upsert(sample_records())
        accounts = SqlAccountRepository(target.engine)
    clock, mailer, events = ManualClock(), RecordingMailer(), RecordingEventSink()
    service = IdentityService(
        directory=directory,
        accounts=accounts,
        lockouts=MemoryLockoutStore(),
        mailer=mailer,
        events=events,
        delivery=InlineDelivery(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=PasswordHasher(parameters=TEST_ONLY_CHEAPEST),
    )
    return Life(service, clock, mailer, events, directory, accounts)


# -- 1. pending accounts expire ------------------------------------------------------


def test_within_its_lifetime_a_pending_account_is_reported_with_its_masked_address(
    life: Life,
) -> None:
    """Same provider again on day 6: pending=True, the expiry, j***@e***.org; nothing stored."""
    first = life.service.register(practitioner())
    life.clock.advance(timedelta(days=6))
    with pytest.raises(AlreadyRegistered) as caught:
        life.service.register(practitioner(username="jane2", email="jane2@example.org"))
    assert caught.value.pending is True
    assert caught.value.expires_at == life.clock.now() + timedelta(days=1)
    assert caught.value.masked_email == "j***@e***.org"
    assert "j***@e***.org" in caught.value.message
    assert "jane.doe" not in caught.value.message
    assert life.accounts.find_by_provider_id("P1000001").id == first.account.id
    assert not life.accounts.key_taken("jane2")


def test_after_its_lifetime_a_matched_registration_replaces_the_pending_account(
    life: Life,
) -> None:
    """Day 7: the squatter's account goes, its username and email are free; the event says so."""
    squatter = life.service.register(
        practitioner(username="squatter", email="squatter@example.org")
    )
    life.clock.advance(timedelta(days=7))
    real = life.service.register(practitioner(username="jdoe", email="jane.doe@example.org"))
    assert life.accounts.get(squatter.account.id) is None
    assert life.accounts.find_by_provider_id("P1000001").id == real.account.id
    assert not life.accounts.key_taken("squatter")
    assert not life.accounts.key_taken("squatter@example.org")
    (event,) = [e for e in life.actions(Action.REGISTER) if e.account_id == real.account.id]
    assert dict(event.detail)["replaced_account"] == squatter.account.id


def test_a_replacement_may_reuse_the_expired_accounts_own_username_and_email(life: Life) -> None:
    """The real person typed the same details the first time: the second try is not refused."""
    life.service.register(practitioner())
    life.clock.advance(timedelta(days=8))
    again = life.service.register(practitioner())
    assert life.accounts.find_by_username("jdoe").id == again.account.id


def test_an_expired_activation_link_does_not_activate(life: Life) -> None:
    """With a lifetime shorter than the link's, the account's own expiry wins."""
    service = attrs.evolve(life.service, pending_lifetime=timedelta(hours=1))
    service.register(practitioner())
    life.clock.advance(timedelta(hours=2))
    with pytest.raises(TokenExpired):
        service.activate(life.mailer.last_token())
    assert life.accounts.find_by_username("jdoe").status is AccountStatus.PENDING


def test_purge_pending_deletes_expired_pending_accounts_only_and_is_idempotent(
    life: Life,
) -> None:
    """One expired pending, one fresh pending, one active: only the first goes, once."""
    old = life.service.register(practitioner()).account.id
    life.clock.advance(timedelta(days=5))
    active = life.register_active(member())
    fresh = life.service.register(
        member("rnew", provider_id="P2000003", name="Ana Lopez", zip_code="45459")
    )
    life.clock.advance(timedelta(days=3))
    assert life.service.purge_pending() == ("jdoe",)
    assert life.service.purge_pending() == ()
    assert life.accounts.get(old) is None
    assert life.accounts.get(active) is not None
    assert life.accounts.get(fresh.account.id) is not None
    assert [e.account_id for e in life.actions(Action.PURGE_PENDING)] == [old]


# -- 2. email change -----------------------------------------------------------------


def test_an_email_change_is_confirmed_from_the_new_address_and_noticed_at_the_old(
    life: Life,
) -> None:
    """Link to the new address, notice to the old; after the click the keys have moved."""
    account_id = life.register_active()
    life.service.request_email_change(account_id, PASSWORD, "Jane@New.Example.org")
    assert life.subjects() == [
        ("Jane@new.example.org", "Confirm Your New Provider Portal Email Address"),
        ("jane.doe@example.org", "Your Provider Portal Email Address Is Changing"),
    ]
    assert life.accounts.get(account_id).email == "jane.doe@example.org"  # not yet
    token = life.mailer.last_token("Jane@new.example.org")
    view = life.service.confirm_email_change(token)
    assert view.email == "Jane@new.example.org"
    stored = life.accounts.get(account_id)
    assert (stored.email_key, stored.pending_email) == ("jane@new.example.org", None)
    assert life.accounts.key_taken("jane@new.example.org")
    assert not life.accounts.key_taken("jane.doe@example.org")
    with pytest.raises(TokenAlreadyUsed):
        life.service.confirm_email_change(token)


def test_an_email_change_kills_outstanding_links_and_sessions(life: Life) -> None:
    """A reset link mailed before the change, and the session's version, are dead after it."""
    account_id = life.register_active()
    before = life.accounts.get(account_id).credential_version
    life.service.request_password_reset("jdoe")
    reset = life.mailer.last_token()
    life.service.request_email_change(account_id, PASSWORD, "jane@new.example.org")
    assert life.service.is_session_current(account_id, before)  # asking changes nothing
    life.service.confirm_email_change(life.mailer.last_token("jane@new.example.org"))
    assert not life.service.is_session_current(account_id, before)
    with pytest.raises(TokenAlreadyUsed):
        life.service.reset_password(reset, NEW_PASSWORD)


def test_a_later_request_replaces_the_earlier_and_its_link_dies(life: Life) -> None:
    """Two requests: only the second link confirms, and it confirms the second address."""
    account_id = life.register_active()
    life.service.request_email_change(account_id, PASSWORD, "first@example.org")
    first = life.mailer.last_token("first@example.org")
    life.service.request_email_change(account_id, PASSWORD, "second@example.org")
    second = life.mailer.last_token("second@example.org")
    with pytest.raises(TokenAlreadyUsed):
        life.service.confirm_email_change(first)
    assert life.service.confirm_email_change(second).email == "second@example.org"


def test_a_wrong_password_counts_toward_the_lockout_and_changes_nothing(life: Life) -> None:
    """Five wrong current passwords lock the login; no mail, no pending address."""
    account_id = life.register_active()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            life.service.request_email_change(account_id, "Wrong-Guess-0001", "x@example.org")
    with pytest.raises(AccountLocked):
        life.service.request_email_change(account_id, "Wrong-Guess-0001", "x@example.org")
    assert life.service.lockout_status("jdoe").locked_until is not None
    assert life.accounts.get(account_id).pending_email is None
    assert [subject for _, subject in life.subjects()] == ["Your Provider Portal Account Is Locked"]


def test_an_address_in_use_is_refused_at_the_request_and_at_the_confirmation(
    life: Life,
) -> None:
    """Taken when asked: refused. Taken between the ask and the click: refused, nothing moved."""
    account_id = life.register_active()
    life.register_active(member())
    with pytest.raises(UsernameUnavailable) as caught:
        life.service.request_email_change(account_id, PASSWORD, "rpatel@example.org")
    assert caught.value.field == "email"
    life.service.request_email_change(account_id, PASSWORD, "late@example.org")
    token = life.mailer.last_token("late@example.org")
    life.service.register(
        member(
            "late",
            provider_id="P2000003",
            name="Ana Lopez",
            zip_code="45459",
            email="late@example.org",
        )
    )
    with pytest.raises(UsernameUnavailable):
        life.service.confirm_email_change(token)
    assert life.accounts.get(account_id).email_key == "jane.doe@example.org"
    assert life.accounts.key_taken("jane.doe@example.org")


def test_the_current_address_is_not_a_change(life: Life) -> None:
    """Asking for the address the account has is bad input: nothing stored, nothing sent."""
    account_id = life.register_active()
    with pytest.raises(InvalidInput) as caught:
        life.service.request_email_change(account_id, PASSWORD, "JANE.DOE@example.org")
    assert caught.value.errors[0].code == "unchanged"
    assert life.mailer.messages == []
    assert life.accounts.get(account_id).pending_email is None


# -- 4. security question and answer --------------------------------------------------


def test_a_new_security_answer_is_checked_from_then_on_and_noticed(life: Life) -> None:
    """The old answer no longer verifies, the new one does; a notice goes to the stored address."""
    account_id = life.register_active()
    question = "In what city were you born?"
    assert question in life.service.security_questions.questions
    view = life.service.change_security_answer(account_id, PASSWORD, question, "Dayton")
    assert view.security_question == question
    assert life.subjects() == [
        ("jane.doe@example.org", "Your Provider Portal Security Question Was Changed")
    ]
    life.service.verify_security_answer("jdoe", " dayton ")
    with pytest.raises(SecurityAnswerMismatch):
        life.service.verify_security_answer("jdoe", "Rex")


def test_a_security_answer_change_needs_the_right_password(life: Life) -> None:
    """A wrong password: refused, counted, the answer unchanged."""
    account_id = life.register_active()
    before = life.accounts.get(account_id).security_answer_hash
    with pytest.raises(InvalidCredentials):
        life.service.change_security_answer(account_id, "Wrong-Guess-0001", QUESTION, "Fido")
    assert life.accounts.get(account_id).security_answer_hash == before
    assert life.service.lockout_status("jdoe").failures == 1


# -- 5. deactivation and the directory -----------------------------------------------


def test_a_deactivated_account_looks_like_a_wrong_password_until_the_password_is_right(
    life: Life,
) -> None:
    """Wrong password: InvalidCredentials as for anyone; right: AccountDeactivated (help line)."""
    account_id = life.register_active()
    version = life.accounts.get(account_id).credential_version
    life.service.deactivate(account_id)
    with pytest.raises(InvalidCredentials):
        life.service.login("jdoe", "Wrong-Guess-0001")
    with pytest.raises(AccountDeactivated) as caught:
        life.service.login("jdoe", PASSWORD)
    assert "help line" in caught.value.message
    assert not life.service.is_session_current(account_id, version)
    assert not life.service.is_session_current(
        account_id, life.accounts.get(account_id).credential_version
    )


def test_a_deactivated_account_gets_no_reset_and_no_mail(life: Life) -> None:
    """Forgot password answers as always, sends nothing; a reset link mailed before is dead."""
    account_id = life.register_active()
    life.service.request_password_reset("jdoe")
    earlier = life.mailer.last_token()
    life.mailer.clear()
    life.service.deactivate(account_id)
    assert life.service.request_password_reset("jdoe") is None
    assert life.mailer.messages == []
    with pytest.raises(TokenAlreadyUsed):
        life.service.reset_password(earlier, NEW_PASSWORD)
    (event,) = life.actions(Action.REQUEST_PASSWORD_RESET)[-1:]
    assert event.outcome == "deactivated"


def test_a_deactivated_account_gets_no_lock_notice(life: Life) -> None:
    """Five wrong passwords lock it as any other; no notice goes out."""
    account_id = life.register_active()
    life.service.deactivate(account_id)
    for _ in range(5):
        with pytest.raises(AuthenticationError):  # invalid, then locked
            life.service.login("jdoe", "Wrong-Guess-0001")
    assert life.service.lockout_status("jdoe").locked_until is not None
    assert life.mailer.messages == []


def test_deactivate_twice_and_reactivate_an_active_account_are_invalid_transitions(
    life: Life,
) -> None:
    """Typed refusals, and the account as it was."""
    account_id = life.register_active()
    with pytest.raises(InvalidTransition):
        life.service.reactivate(account_id)
    life.service.deactivate(account_id)
    stored = life.accounts.get(account_id)
    with pytest.raises(InvalidTransition):
        life.service.deactivate(account_id)
    assert life.accounts.get(account_id) == stored
    back = life.service.reactivate(account_id)
    assert back.status is AccountStatus.ACTIVE
    assert life.service.login("jdoe", PASSWORD).account.id == account_id


def test_reconcile_deactivates_accounts_whose_record_ended_and_is_idempotent(
    life: Life,
) -> None:
    """P1000001 ends today: its account is deactivated once; a second run changes nothing."""
    jane = life.register_active()
    ravi = life.register_active(member())
    record = life.directory.by_provider_id("P1000001")
    life.directory.upsert([attrs.evolve(record, end_date=life.clock.now().date())])
    report = life.service.reconcile()
    assert (report.deactivated, report.reactivated) == (("jdoe",), ())
    assert life.service.reconcile() == type(report)()
    stored = life.accounts.get(jane)
    assert stored.status is AccountStatus.DEACTIVATED
    assert stored.deactivation_reason is DeactivationReason.PROVIDER_LEFT_DIRECTORY
    assert life.accounts.get(ravi).status is AccountStatus.ACTIVE
    with pytest.raises(AccountDeactivated):
        life.service.login("jdoe", PASSWORD)
    assert life.service.accessible_providers(ravi)


def test_a_record_ending_in_the_future_keeps_its_account(life: Life) -> None:
    """End date tomorrow: still listed today; deactivated once the clock reaches it."""
    life.register_active()
    record = life.directory.by_provider_id("P1000001")
    life.directory.upsert(
        [attrs.evolve(record, end_date=life.clock.now().date() + timedelta(days=1))]
    )
    assert life.service.reconcile().deactivated == ()
    life.clock.advance(timedelta(days=1))
    assert life.service.reconcile().deactivated == ("jdoe",)


def test_a_record_that_comes_back_reactivates_its_account(life: Life) -> None:
    """Ended, reconciled, listed again: the next reconcile reactivates; the password works."""
    life.register_active()
    record = life.directory.by_provider_id("P1000001")
    life.directory.upsert([attrs.evolve(record, end_date=life.clock.now().date())])
    life.service.reconcile()
    life.directory.upsert([record])
    assert life.service.reconcile().reactivated == ("jdoe",)
    assert life.service.login("jdoe", PASSWORD).account.status is AccountStatus.ACTIVE


def test_an_administrators_deactivation_is_not_undone_by_reconcile(life: Life) -> None:
    """Reconcile reactivates only what it deactivated itself."""
    account_id = life.register_active()
    life.service.deactivate(account_id, DeactivationReason.ADMINISTRATOR)
    assert life.service.reconcile() == type(life.service.reconcile())()
    assert life.accounts.get(account_id).status is AccountStatus.DEACTIVATED


def test_a_snapshot_import_ends_the_records_missing_from_the_file(life: Life) -> None:
    """The file lists every sample record but P1000001: that one ends, and reconcile follows."""
    life.register_active()
    kept = [r for r in sample_records() if r.provider_id != "P1000001"]
    lines = [b"provider_id,tax_id,name,zip_codes"] + [
        f"{r.provider_id},{r.tax_id},{r.name},{' '.join(r.zip_codes)}".encode() for r in kept
    ]
    today = life.clock.now().date()
    report = import_roster(lines, life.directory, snapshot=True, today=today)
    assert report.ended == ("P1000001",)
    assert life.directory.by_provider_id("P1000001").end_date == today
    assert life.directory.by_provider_id("P2000002").end_date is None
    assert import_roster(lines, life.directory, snapshot=True, today=today).ended == ()
    assert life.service.reconcile().deactivated == ("jdoe",)


def test_a_snapshot_with_a_rejected_row_ends_nothing(life: Life) -> None:
    """A bad row means the file is not the whole directory: no record is ended."""
    lines = [b"provider_id,tax_id,name,zip_codes", b"P2000002,317654321,Ravi Patel,45440", b"x"]
    report = import_roster(lines, life.directory, snapshot=True)
    assert (len(report.rejected), report.ended) == (1, ())
    assert life.directory.by_provider_id("P1000001").end_date is None


# -- 6. agreement updates --------------------------------------------------------------


def test_a_newer_agreement_is_asked_for_at_login_until_accepted(life: Life) -> None:
    """Version 2 published: login succeeds saying agreement_required; after accepting, not."""
    account_id = life.register_active()
    assert not life.service.login("jdoe", PASSWORD).agreement_required
    updated = attrs.evolve(life.service, agreement_version="2")
    assert updated.login("jdoe", PASSWORD).agreement_required
    life.clock.advance(timedelta(days=1))
    updated.accept_agreement(account_id, "2")
    stored = life.accounts.get(account_id)
    assert (stored.agreement_version, stored.agreement_accepted_at) == ("2", life.clock.now())
    assert not updated.login("jdoe", PASSWORD).agreement_required


def test_only_the_current_agreement_can_be_accepted(life: Life) -> None:
    """Accepting "1" when "2" is current is bad input, and nothing is stored."""
    account_id = life.register_active()
    updated = attrs.evolve(life.service, agreement_version="2")
    with pytest.raises(InvalidInput):
        updated.accept_agreement(account_id, "1")
    assert life.accounts.get(account_id).agreement_version == "1"


# -- 7. lock notice --------------------------------------------------------------------


def test_a_lock_sends_one_notice_with_the_seeds_advice(life: Life) -> None:
    """Five wrong passwords, then five more while locked: one notice, Forgot password? or wait."""
    life.register_active()
    for _ in range(10):
        with pytest.raises(AuthenticationError):  # invalid, then locked
            life.service.login("jdoe", "Wrong-Guess-0001")
    (notice,) = life.mailer.messages
    assert (notice["To"], notice["Subject"]) == (
        "jane.doe@example.org",
        "Your Provider Portal Account Is Locked",
    )
    body = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Forgot password?" in body
    assert "wait 24 hours" in body


def test_an_unknown_username_that_locks_sends_nothing(life: Life) -> None:
    """The lock is counted for anyone; a notice only ever goes to a stored address."""
    for _ in range(6):
        with pytest.raises(AuthenticationError):  # invalid, then locked
            life.service.login("nobody", "Wrong-Guess-0001")
    assert life.service.lockout_status("nobody").locked_until is not None
    assert life.mailer.messages == []


def test_the_lock_notice_comes_once_per_lock(life: Life) -> None:
    """A second lock after the first ended sends a second notice; the throttle allows it."""
    life.register_active()
    for _ in range(2):
        for _ in range(5):
            with pytest.raises(AuthenticationError):  # invalid, then locked
                life.service.login("jdoe", "Wrong-Guess-0001")
        life.clock.advance(timedelta(hours=25))
    assert len(life.mailer.messages) == 2


def test_a_refused_replacement_leaves_the_expired_account_in_place(life: Life) -> None:
    """Day 8, but the new username is someone else's: refused, and nothing is removed."""
    expired = life.service.register(practitioner()).account.id
    life.register_active(member())
    life.clock.advance(timedelta(days=8))
    with pytest.raises(UsernameUnavailable):
        life.service.register(practitioner(username="rpatel", email="new@example.org"))
    assert life.accounts.get(expired) is not None


def test_in_memory_an_email_change_racing_a_registration_has_exactly_one_winner() -> None:
    """Threads this time (the SQL stores race in processes, in test_concurrency)."""
    for _ in range(20):
        _race_once()


def _race_once() -> None:
    """One round: a fresh memory world, a confirmation and a registration on two threads."""
    clock, mailer = ManualClock(), RecordingMailer()
    accounts = MemoryAccountRepository()
    service = IdentityService(
        directory=MemoryProviderDirectory(sample_records()),
        accounts=accounts,
        lockouts=MemoryLockoutStore(),
        mailer=mailer,
        events=RecordingEventSink(),
        delivery=InlineDelivery(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=PasswordHasher(parameters=TEST_ONLY_CHEAPEST),
    )
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    service.request_email_change(account_id, PASSWORD, "race@example.org")
    token = mailer.last_token("race@example.org")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def confirm() -> None:
        barrier.wait()
        outcomes.append(_outcome(lambda: service.confirm_email_change(token)))

    def register() -> None:
        barrier.wait()
        outcomes.append(_outcome(lambda: service.register(member(email="race@example.org"))))

    threads = [threading.Thread(target=confirm), threading.Thread(target=register)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["success", "username_unavailable"]
    owner = accounts.find_by_username("jdoe")
    assert owner is not None
    assert (owner.email_key == "race@example.org") == (accounts.find_by_username("rpatel") is None)


def _outcome(call: Any) -> str:
    try:
        call()
    except UsernameUnavailable as err:
        return err.code
    return "success"
