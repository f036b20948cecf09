"""The promises of SECURITY.md about login, lockout, enumeration, resets and secrets.

Each test is named after the promise it proves; docs/standards.md maps them.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import argon2
import attrs
import pytest

import provider_identity._flows.base as service_module  # where the link mail is built
import provider_identity.mail as mail_module
from provider_identity import (
    AccountLocked,
    AccountNotActivated,
    AccountView,
    IdentityError,
    IdentityService,
    InvalidCredentials,
    LockoutPolicy,
    LoggingEventSink,
    PasswordHasher,
    PasswordRejected,
    RegistrationRequest,
    TokenAlreadyUsed,
    TokenIssuer,
    TokenPurpose,
)
from provider_identity.events import Action
from provider_identity.passwords import OWASP_MINIMUM, TEST_ONLY_CHEAPEST
from provider_identity.testing import (
    FailingMailer,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    RecordingEventSink,
    RecordingMailer,
    sample_records,
)
from tests.helpers import KEY, PASSWORD, group, member, practitioner

WRONG = "Wrong-Password-9"
NEW = "Green-Kestrel-2032"


@attrs.frozen(kw_only=True)
class CountingHasher(PasswordHasher):
    """Records every verification: against the dummy hash, or a real one."""

    verified: list[str] = attrs.field(factory=list, eq=False)
    _guard: threading.Lock = attrs.field(factory=threading.Lock, eq=False)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._guard:
            self.verified.append("dummy" if password_hash == self._dummy_hash else "real")
        return super().verify(password_hash, password)


@pytest.fixture
def counting() -> CountingHasher:
    return CountingHasher(parameters=TEST_ONLY_CHEAPEST)


@pytest.fixture
def guarded(
    make_service: Callable[..., IdentityService], counting: CountingHasher
) -> IdentityService:
    return make_service(hasher=counting)


def attempt(service: IdentityService, username: str, password: str) -> IdentityError | None:
    try:
        service.login(username, password)
    except IdentityError as err:
        return err
    return None


def lock(service: IdentityService, username: str = "jdoe") -> None:
    for _ in range(service.lockout_policy.max_failures):
        attempt(service, username, WRONG)
    assert service.lockout_status(username).is_locked


def ana(username: str) -> RegistrationRequest:
    """A request for sample record P2000003 (Ana Lopez), a second group member."""
    return member(username, name="Ana Lopez", provider_id="P2000003", zip_code="45459")


def answer_of(call: Callable[[str], object], username: str) -> object:
    """What a call answered (mypy knows it is None; the test proves it for every path)."""
    return call(username)


def outcome(err: IdentityError | None) -> tuple[object, ...]:
    """Everything an end user could see of an error."""
    return (type(err), str(err), repr(err), getattr(err, "code", None), vars(err) if err else {})


# -- Login, lockout, enumeration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "username", "password", "expected", "verified"),
    [
        ("unknown user", "nobody", PASSWORD, InvalidCredentials, ["dummy"]),
        ("wrong password", "jdoe", WRONG, InvalidCredentials, ["real"]),
        ("right password", "jdoe", PASSWORD, None, ["real"]),
        ("locked, right password", "locked", PASSWORD, AccountLocked, ["dummy"]),
        ("locked, wrong password", "locked", WRONG, AccountLocked, ["dummy"]),
        ("locked unknown user", "locked-nobody", PASSWORD, AccountLocked, ["dummy"]),
        ("not activated", "pending", PASSWORD, AccountNotActivated, ["real"]),
        ("not activated, wrong password", "pending", WRONG, InvalidCredentials, ["real"]),
    ],
)
def test_exactly_one_hash_verification_per_login_on_every_path(
    guarded: IdentityService,
    counting: CountingHasher,
    mailer: RecordingMailer,
    path: str,
    username: str,
    password: str,
    expected: type[IdentityError] | None,
    verified: list[str],
) -> None:
    """One verification per attempt; unknown and locked accounts only ever meet the dummy."""
    guarded.register(practitioner())
    guarded.activate(mailer.last_token())
    if username.startswith("locked"):
        guarded.register(member("locked"))
        guarded.activate(mailer.last_token())
        lock(guarded, username)
    if username == "pending":
        guarded.register(member("pending"))
    counting.verified.clear()

    outcome = attempt(guarded, username, password)

    assert type(outcome) is expected if expected else outcome is None, path
    assert counting.verified == verified


def test_a_locked_account_is_no_password_oracle_through_change_password(
    guarded: IdentityService, counting: CountingHasher, active_account: str
) -> None:
    """While locked, a password change checks the dummy hash only, even with the right password."""
    lock(guarded)
    counting.verified.clear()
    with pytest.raises(AccountLocked):
        guarded.change_password(active_account, PASSWORD, NEW)
    assert counting.verified == ["dummy"]


def test_parallel_wrong_attempts_verify_the_real_hash_at_most_max_failures_times(
    guarded: IdentityService, counting: CountingHasher, active_account: str
) -> None:
    """50 threads released together: the real hash is checked at most 5 times, then locked."""
    counting.verified.clear()
    barrier = threading.Barrier(50)
    outcomes: list[str] = []

    def worker() -> None:
        barrier.wait()
        err = attempt(guarded, "jdoe", WRONG)
        outcomes.append(err.code if err else "success")

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counting.verified.count("real") <= 5
    assert len(counting.verified) == 50  # one verification per attempt, dummy or real
    assert sorted(set(outcomes)) == ["account_locked", "invalid_credentials"]
    assert outcomes.count("invalid_credentials") <= 5
    assert guarded.lockout_status("jdoe").is_locked


def test_the_lock_ends_exactly_24_hours_after_it_began_and_attempts_do_not_extend_it(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    """Locked until +24 h - 1 s whatever is tried meanwhile; free at +24 h exactly."""
    lock(service)
    began = clock.now()
    for hours in (0, 1, 12, 23):
        clock.set(began + timedelta(hours=hours))
        for password in (WRONG, PASSWORD):
            err = attempt(service, "jdoe", password)
            assert isinstance(err, AccountLocked)
            assert err.locked_until == began + timedelta(hours=24)
    clock.set(began + timedelta(hours=24, seconds=-1))
    assert isinstance(attempt(service, "jdoe", PASSWORD), AccountLocked)
    clock.set(began + timedelta(hours=24))
    assert attempt(service, "jdoe", PASSWORD) is None


def test_the_lock_duration_is_configurable(
    make_service: Callable[..., IdentityService], clock: ManualClock, active_account: str
) -> None:
    """A 15-minute policy locks for exactly 15 minutes."""
    policy = LockoutPolicy(max_failures=3, lock_duration=timedelta(minutes=15))
    quick = make_service(lockout_policy=policy)
    lock(quick)
    began = clock.now()
    clock.set(began + timedelta(minutes=15, seconds=-1))
    assert isinstance(attempt(quick, "jdoe", PASSWORD), AccountLocked)
    clock.set(began + timedelta(minutes=15))
    assert attempt(quick, "jdoe", PASSWORD) is None


@pytest.mark.parametrize(
    ("duration", "wait"),
    [
        (timedelta(hours=1), "wait 1 hour and"),
        (timedelta(minutes=15), "wait 15 minutes and"),
        (timedelta(hours=36), "wait 36 hours and"),
        (timedelta(days=7), "wait 7 days and"),
        (timedelta(seconds=90), "wait 90 seconds and"),
    ],
)
def test_the_locked_message_states_the_configured_duration(
    make_service: Callable[..., IdentityService],
    active_account: str,
    duration: timedelta,
    wait: str,
) -> None:
    """The lock message says the policy's wait (never the default 24 hours), in login and change."""
    configured = make_service(lockout_policy=LockoutPolicy(lock_duration=duration))
    lock(configured)
    refusals = [
        attempt(configured, "jdoe", PASSWORD),
        answer_error(lambda: configured.change_password(active_account, PASSWORD, NEW)),
    ]
    for refusal in refusals:
        assert isinstance(refusal, AccountLocked)
        assert wait in refusal.message
        assert "24 hours" not in refusal.message
        assert refusal.message.startswith("Your account is locked due to too many incorrect")


def test_the_default_locked_message_is_the_seeds(
    service: IdentityService, active_account: str
) -> None:
    """With the default 24-hour policy the message is the seed's wording, unchanged."""
    lock(service)
    refusal = attempt(service, "jdoe", PASSWORD)
    assert isinstance(refusal, AccountLocked)
    assert refusal.message == (
        "Your account is locked due to too many incorrect login attempts. Use the Forgot "
        "password? link to reset your password, or wait 24 hours and attempt to log in again."
    )


def answer_error(call: Callable[[], object]) -> IdentityError | None:
    try:
        call()
    except IdentityError as err:
        return err
    return None


def test_while_locked_the_right_password_is_refused_exactly_like_a_wrong_one(
    service: IdentityService, active_account: str
) -> None:
    """Nothing in the refusal tells the right password from a wrong one."""
    lock(service)
    assert outcome(attempt(service, "jdoe", PASSWORD)) == outcome(attempt(service, "jdoe", WRONG))


def test_spelling_variants_share_one_counter(service: IdentityService, active_account: str) -> None:
    """JDOE, fullwidth ｊｄｏｅ and padded spellings all count against one account."""
    for count, spelling in enumerate(("jdoe", "JDOE", "JDoe", "ｊｄｏｅ"), start=1):
        attempt(service, spelling, WRONG)
        assert service.lockout_status("jdoe").failures == count
    attempt(service, " jdoe ", WRONG)
    assert service.lockout_status("ＪＤＯＥ").is_locked


def test_the_counter_belongs_to_the_account_not_the_client_address(
    service: IdentityService, mailer: RecordingMailer, events: RecordingEventSink
) -> None:
    """Five addresses lock one account; one address does not lock another account."""
    service.register(practitioner())
    service.activate(mailer.last_token())
    service.register(member("rpatel"))
    service.activate(mailer.last_token())
    addresses = [f"198.51.100.{n}" for n in range(5)]
    for address in addresses:
        with pytest.raises(IdentityError):
            service.login("jdoe", WRONG, client_address=address)
    assert service.lockout_status("jdoe").is_locked
    other = service.login("rpatel", PASSWORD, client_address=addresses[0])
    assert other.account.username == "rpatel"
    logins = [e.client_address for e in events.events if e.action is Action.LOGIN]
    assert logins[:5] == addresses  # recorded as given


def test_unknown_user_and_wrong_password_are_indistinguishable(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """Unknown, wrong for an active account, wrong for a pending one: one and the same error."""
    service.register(member("pending"))
    seen = {attempt(service, name, WRONG).__class__ for name in ("nobody", "jdoe", "pending")}
    assert seen == {InvalidCredentials}
    unknown, wrong, pending = (attempt(service, n, WRONG) for n in ("nobody", "jdoe", "pending"))
    assert outcome(unknown) == outcome(wrong) == outcome(pending)


def test_unknown_usernames_lock_like_known_ones(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    """A sixth attempt cannot reveal whether a username exists: unknown names lock too."""
    lock(service, "jdoe")
    lock(service, "nobody")
    assert outcome(attempt(service, "nobody", WRONG)) == outcome(attempt(service, "jdoe", WRONG))


def test_a_completed_reset_unlocks_and_zeroes_the_counter(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """The reset lifts the lock and the count starts again from zero."""
    lock(service)
    service.request_password_reset("jdoe")
    service.reset_password(mailer.last_token(), NEW)
    status = service.lockout_status("jdoe")
    assert (status.is_locked, status.failures) == (False, 0)
    assert attempt(service, "jdoe", NEW) is None


def test_an_administrators_unlock_ends_the_lock_and_zeroes_the_counter(
    service: IdentityService, active_account: str
) -> None:
    """unlock() of any spelling frees the account at once, with a fresh count."""
    lock(service)
    service.unlock("JDOE")
    status = service.lockout_status("jdoe")
    assert (status.is_locked, status.failures) == (False, 0)
    assert isinstance(attempt(service, "jdoe", WRONG), InvalidCredentials)
    assert service.lockout_status("jdoe").failures == 1


# -- Forgot password ---------------------------------------------------------------------


@attrs.define
class CountingTokens(TokenIssuer):
    """A TokenIssuer counting the tokens it signs."""

    issued: list[TokenPurpose] = attrs.field(factory=list, eq=False)

    def issue(self, purpose: TokenPurpose, *, account_id: str, credential_version: int) -> str:
        self.issued.append(purpose)
        return super().issue(purpose, account_id=account_id, credential_version=credential_version)


class CountingLockouts(MemoryLockoutStore):
    """A MemoryLockoutStore recording the namespace of every counted failure."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def record_failure(self, key: str, **kwargs: Any) -> Any:
        self.writes.append(key.partition(":")[0])
        return super().record_failure(key, **kwargs)


class CountingAccounts(MemoryAccountRepository):
    """A MemoryAccountRepository recording the name of every lookup."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def find_by_username(self, username_key: str) -> Any:
        self.calls.append("find_by_username")
        return super().find_by_username(username_key)

    def get(self, account_id: str) -> Any:
        self.calls.append("get")
        return super().get(account_id)


class CountingDelivery:
    """A delivery queue that keeps the jobs handed to it, to run (or not) when the test says."""

    def __init__(self) -> None:
        self.jobs: list[Callable[[], object]] = []

    def submit(self, job: Callable[[], object]) -> None:
        self.jobs.append(job)


class BrokenMailer:
    """A mailer that fails with something other than MailDeliveryError."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def send(self, message: EmailMessage) -> None:
        raise self.error


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The recipients of every reset message the service builds."""
    recipients: list[str] = []
    real = mail_module.password_reset_message

    def counting(*args: Any, **kwargs: Any) -> EmailMessage:
        recipients.append(kwargs["to"])
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "password_reset_message", counting)
    return recipients


@pytest.mark.parametrize(
    "relay",
    [
        pytest.param(RecordingMailer(), id="working"),
        pytest.param(FailingMailer(), id="failing"),
        pytest.param(BrokenMailer(OSError("relay unreachable")), id="oserror"),
        pytest.param(BrokenMailer(RuntimeError("bug in the relay")), id="runtimeerror"),
    ],
)
def test_forgot_password_answers_the_same_and_does_the_same_work_on_every_path(
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    mailer: RecordingMailer,
    built: list[str],
    relay: Any,
) -> None:
    """Known, unknown, pending, locked and throttled: None, one token, one message, one count."""
    store = CountingLockouts()
    setup = make_service(lockouts=store)
    for request in (practitioner(), member("locked"), ana("throttled")):
        setup.register(request)
        setup.activate(mailer.last_token())
    setup.register(group(username="pending"))
    lock(setup, "locked")
    for _ in range(setup.mail_throttle.max_failures):
        setup.request_password_reset("throttled")
    tokens = CountingTokens(current=KEY, clock=clock)
    delivery = CountingDelivery()
    service = make_service(mailer=relay, tokens=tokens, lockouts=store, delivery=delivery)

    work = {}
    for username in ("jdoe", "nobody", "pending", "locked", "throttled"):
        before = service.lockout_status(username)
        tokens.issued.clear()
        store.writes.clear()
        built.clear()
        delivery.jobs.clear()
        answer = answer_of(service.request_password_reset, username)
        work[username] = (answer, [*tokens.issued], [*store.writes], len(built), len(delivery.jobs))
        for job in delivery.jobs:
            job()  # a failing relay fails inside the job, quietly
        assert service.lockout_status(username) == before  # never counts as a login failure

    same = (None, [TokenPurpose.PASSWORD_RESET], ["mail"], 1, 1)
    assert work == dict.fromkeys(work, same)


def test_forgot_password_mails_only_from_the_hand_off_and_only_for_real_accounts(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, active_account: str
) -> None:
    """The request never calls the mailer itself; only the known account's job sends."""
    delivery = CountingDelivery()
    service = make_service(delivery=delivery)
    for username in ("jdoe", "nobody"):
        service.request_password_reset(username)
    assert mailer.messages == []  # nothing sent inline: the outward time has no mail in it
    for job in delivery.jobs:
        job()
    assert [str(m["To"]) for m in mailer.messages] == ["jane.doe@example.org"]


@pytest.fixture
def built_activations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The recipients of every activation message the service builds."""
    recipients: list[str] = []
    real = mail_module.activation_message

    def counting(*args: Any, **kwargs: Any) -> EmailMessage:
        recipients.append(kwargs["to"])
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "activation_message", counting)
    return recipients


@pytest.mark.parametrize(
    "relay",
    [
        pytest.param(RecordingMailer(), id="working"),
        pytest.param(FailingMailer(), id="failing"),
        pytest.param(BrokenMailer(RuntimeError("bug in the relay")), id="runtimeerror"),
    ],
)
def test_resend_activation_does_the_same_work_on_every_path(
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    mailer: RecordingMailer,
    built_activations: list[str],
    relay: Any,
) -> None:
    """Pending, unknown, active and throttled: None, one lookup, token, count, message, hand-off."""
    store = CountingLockouts()
    accounts = CountingAccounts()
    setup = make_service(lockouts=store, accounts=accounts)
    setup.register(practitioner())
    setup.activate(mailer.last_token())
    setup.register(member("pending"))
    setup.register(ana("throttled"))
    for _ in range(setup.mail_throttle.max_failures):
        setup.resend_activation("throttled")
    tokens = CountingTokens(current=KEY, clock=clock)
    delivery = CountingDelivery()
    service = make_service(
        mailer=relay, tokens=tokens, lockouts=store, accounts=accounts, delivery=delivery
    )

    work = {}
    for username in ("pending", "nobody", "jdoe", "throttled"):
        tokens.issued.clear()
        store.writes.clear()
        accounts.calls.clear()
        built_activations.clear()
        delivery.jobs.clear()
        answer = answer_of(service.resend_activation, username)
        work[username] = (
            answer,
            [*accounts.calls],
            [*tokens.issued],
            [*store.writes],
            len(built_activations),
            len(delivery.jobs),
        )
        for job in delivery.jobs:
            job()

    same = (None, ["find_by_username"], [TokenPurpose.ACTIVATION], ["mail"], 1, 1)
    assert work == dict.fromkeys(work, same)


def test_forgot_password_mail_goes_to_the_stored_address_only(
    service: IdentityService, mailer: RecordingMailer, built: list[str], active_account: str
) -> None:
    """Whatever spelling is typed, the link goes to the address on file; unknown names get none."""
    for spelling in ("JDOE", "ｊｄｏｅ"):
        service.request_password_reset(spelling)
    service.request_password_reset("nobody")
    assert [str(m["To"]) for m in mailer.messages] == ["jane.doe@example.org"] * 2
    assert "jane.doe@example.org" not in built[-1]  # the unknown name's message goes nowhere real


def test_reset_mail_is_throttled_per_account(
    service: IdentityService, mailer: RecordingMailer, active_account: str, clock: ManualClock
) -> None:
    """Three reset messages an hour per account, whatever the spelling; quietly."""
    spellings = ("jdoe", "JDOE", "ｊｄｏｅ", "jdoe", "Jdoe")
    answers = [answer_of(service.request_password_reset, s) for s in spellings]
    assert answers == [None] * 5
    assert len(mailer.messages) == 3
    clock.advance(hours=1)
    service.request_password_reset("JDOE")
    assert len(mailer.messages) == 4


# -- Tokens and resets -------------------------------------------------------------------


def test_a_reset_does_not_log_in_and_kills_every_outstanding_link_and_session(
    service: IdentityService,
    mailer: RecordingMailer,
    events: RecordingEventSink,
    active_account: str,
) -> None:
    """Old links and sessions die, no login happens, the stored address hears of it."""
    version = service.accounts.get(active_account).credential_version  # type: ignore[union-attr]
    service.request_password_reset("jdoe")
    first = mailer.last_token()
    service.request_password_reset("jdoe")
    second = mailer.last_token()
    mailer.clear()
    events.events.clear()

    view = service.reset_password(second, NEW)

    assert type(view) is AccountView
    assert view.credential_version == version + 1
    assert [e.action for e in events.events] == [Action.RESET_PASSWORD]  # no login
    assert not service.is_session_current(active_account, version)
    assert service.is_session_current(active_account, view.credential_version)
    for token in (first, second):
        with pytest.raises(TokenAlreadyUsed):
            service.reset_password(token, "Another-Kestrel-2033")
    notice = mailer.last()
    assert notice["Subject"] == "Your Provider Portal Password Was Changed"
    assert notice["To"] == "jane.doe@example.org"
    assert len(mailer.messages) == 1


def test_a_reset_kills_an_outstanding_activation_link(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """A pending account reset by link is active; its old activation link is used up."""
    service.register(practitioner())
    activation = mailer.last_token()
    service.request_password_reset("jdoe")
    service.reset_password(mailer.last_token(), NEW)
    with pytest.raises(TokenAlreadyUsed):
        service.activate(activation)
    assert attempt(service, "jdoe", NEW) is None


def test_a_password_change_kills_outstanding_reset_links_and_sessions(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """change_password bumps the credential version like a reset does."""
    service.request_password_reset("jdoe")
    link = mailer.last_token()
    before = service.login("jdoe", PASSWORD).account.credential_version
    after = service.change_password(active_account, PASSWORD, NEW).credential_version
    assert (service.is_session_current(active_account, before), after) == (False, before + 1)
    with pytest.raises(TokenAlreadyUsed):
        service.reset_password(link, "Another-Kestrel-2033")


def test_a_rehash_on_login_keeps_an_outstanding_reset_link_alive(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    accounts: MemoryAccountRepository,
) -> None:
    """Upgrading the hash parameters kills neither reset links nor sessions."""
    old = make_service()
    old.register(practitioner())
    old.activate(mailer.last_token())
    session = old.login("jdoe", PASSWORD).account
    old.request_password_reset("jdoe")
    link = mailer.last_token()

    upgraded = make_service(hasher=PasswordHasher(parameters=OWASP_MINIMUM))
    assert upgraded.login("jdoe", PASSWORD).rehashed
    stored = accounts.find_by_username("jdoe")
    assert stored is not None
    assert argon2.extract_parameters(stored.password_hash).memory_cost == OWASP_MINIMUM.memory_cost
    assert upgraded.is_session_current(session.id, session.credential_version)
    assert not upgraded.login("jdoe", PASSWORD).rehashed  # once is enough

    upgraded.reset_password(link, NEW)
    assert upgraded.login("jdoe", NEW).account.username == "jdoe"


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$argon2id$v=19$garbage",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=8,t=1,p=1$ä$ö",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "plain text password",
    ],
)
def test_a_malformed_stored_hash_fails_closed(
    service: IdentityService,
    accounts: MemoryAccountRepository,
    mailer: RecordingMailer,
    active_account: str,
    stored: str,
) -> None:
    """Login and password change refuse; a reset (history check) still works."""
    account = accounts.get(active_account)
    assert account is not None
    accounts.replace(
        attrs.evolve(account, password_hash=stored, password_history=(stored,)),
        expected_version=account.credential_version,
    )
    assert isinstance(attempt(service, "jdoe", PASSWORD), InvalidCredentials)
    assert isinstance(attempt(service, "jdoe", stored or "x"), InvalidCredentials)
    with pytest.raises(InvalidCredentials):
        service.change_password(active_account, PASSWORD, NEW)
    service.request_password_reset("jdoe")
    service.reset_password(mailer.last_token(), NEW)
    assert attempt(service, "jdoe", NEW) is None


@pytest.mark.parametrize("flow", ["change", "reset"])
def test_the_last_five_passwords_cannot_be_reused(
    service: IdentityService, mailer: RecordingMailer, active_account: str, flow: str
) -> None:
    """The current and four previous passwords (any NFKC spelling) are refused as 'reused'."""
    passwords = [PASSWORD] + [f"Green-Kestrel-20{n:02d}" for n in range(4)]
    for current, new in itertools.pairwise(passwords):
        service.change_password(active_account, current, new)
    latest = [passwords[-1]]

    def set_password(password: str) -> None:
        if flow == "change":
            service.change_password(active_account, latest[0], password)
        else:
            service.request_password_reset("jdoe")
            service.reset_password(mailer.last_token(), password)
        latest[0] = password

    fullwidth = PASSWORD.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    for reused in [*passwords, fullwidth]:
        with pytest.raises(PasswordRejected) as caught:
            set_password(reused)
        assert [e.code for e in caught.value.errors] == ["reused"]
    set_password("Green-Kestrel-2099")  # a sixth, new password is fine
    set_password(PASSWORD)  # and now the oldest has left the history


# -- Secrets -------------------------------------------------------------------------------


@attrs.define
class Run:
    """What the flows raised and produced, and the secrets they handled."""

    errors: list[IdentityError] = attrs.Factory(list)
    texts: list[str] = attrs.Factory(list)
    secrets: list[str] = attrs.Factory(list)


def collect(run: Run, call: Callable[[], object]) -> None:
    try:
        call()
    except IdentityError as err:
        run.errors.append(err)


def every_flow(service: IdentityService, mailer: RecordingMailer, run: Run) -> None:
    """Drive every flow, right and wrong, collecting the errors."""
    answer = "Rex the Brave"
    run.texts += [repr(practitioner(security_answer=answer)), repr(service)]
    run.texts += [repr(service.tokens), repr(service.hasher)]
    for request in (
        practitioner(tax_id="31-1234568", security_answer=answer),  # details mismatch
        practitioner(tax_id="31-12345678", security_answer=answer),  # malformed
        practitioner(password="short", security_answer=answer),  # password rejected
        practitioner(password="jdoe-Blue-2031!", security_answer=answer),
    ):
        collect(run, functools.partial(service.register, request))
    result = service.register(practitioner(security_answer=answer))
    run.texts.append(repr(result))
    activation = mailer.last_token()
    collect(run, lambda: service.activate(activation[:-1]))  # truncated
    service.activate(activation)
    collect(run, lambda: service.activate(activation))  # used
    for password in (WRONG, "x" * 5000, PASSWORD):
        collect(run, functools.partial(service.login, "jdoe", password))
    collect(run, lambda: service.verify_security_answer("jdoe", "Rover"))
    service.verify_security_answer("jdoe", answer.upper())
    lock(service)
    collect(run, lambda: service.login("jdoe", PASSWORD))
    collect(run, lambda: service.change_password(result.account.id, PASSWORD, NEW))
    service.request_password_reset("jdoe")
    reset = mailer.last_token()
    collect(run, lambda: service.activate(reset))  # the other purpose
    for bad in ("short", PASSWORD):
        collect(run, functools.partial(service.reset_password, reset, bad))
    service.reset_password(reset, NEW)
    collect(run, lambda: service.reset_password(reset, "Another-Kestrel-2033"))
    collect(run, lambda: service.change_password(result.account.id, WRONG, PASSWORD))
    collect(run, lambda: service.change_password(result.account.id, NEW, NEW))
    account = service.accounts.get(result.account.id)
    assert account is not None
    run.texts += [repr(account), repr(AccountView.of(account)), repr(service.login("jdoe", NEW))]
    run.secrets += [
        PASSWORD, WRONG, NEW, answer, answer.casefold(), "Rover", activation, activation[:-1],
        activation.rpartition(".")[2][:-1], reset, reset.rpartition(".")[2],
        "311234567", "31-1234567", "311234568", "31-1234568", "3112345678", "31-12345678",
        account.password_hash, account.security_answer_hash, *account.password_history,
        KEY.decode(),
    ]  # fmt: skip
    assert len(run.errors) == 17, [e.code for e in run.errors]


def chain(err: BaseException) -> str:
    """A logged traceback of ``err`` and its causes, without the source lines of the frames."""
    logged = "".join(traceback.format_exception(err)).splitlines()
    return "\n".join(line for line in logged if not line.startswith("  "))


def linked(err: BaseException) -> list[BaseException]:
    """``err`` and every exception reachable through ``__cause__`` and ``__context__``.

    ``raise ... from None`` hides the context from a printed traceback but keeps
    it on the exception, where a debugger, Sentry or ``logging`` extras see it.
    """
    found: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        current = todo.pop()
        if current is None or any(current is known for known in found):
            continue
        found.append(current)
        todo += [current.__cause__, current.__context__]
    return found


def linked_texts(err: BaseException) -> list[str]:
    """What anything holding ``err`` could read of it and of every linked exception."""
    return [
        text
        for link in linked(err)
        for text in (str(link), repr(link), repr(link.args), repr(getattr(link, "__dict__", {})))
    ]


def leaks(run: Run, texts: list[str]) -> list[tuple[str, str]]:
    return [(secret, text[:80]) for secret in run.secrets for text in texts if secret in text]


@pytest.fixture
def secret_run(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    caplog: pytest.LogCaptureFixture,
) -> Run:
    caplog.set_level(logging.DEBUG)
    run = Run()
    every_flow(make_service(events=LoggingEventSink()), mailer, run)
    make_service(mailer=BrokenMailer(OSError(PASSWORD))).request_password_reset("jdoe")
    run.texts.append(caplog.text)
    run.texts += [r.getMessage() for r in caplog.records]
    return run


def test_no_secret_reaches_an_exception_event_or_repr(secret_run: Run) -> None:
    """No password, answer, token, hash, key or full Tax ID in errors, reprs, events or logs."""
    texts = list(secret_run.texts)
    for err in secret_run.errors:
        texts += [str(err), repr(err), repr(err.args), repr(vars(err))]
    assert "audit" in "".join(texts)  # the audit lines were captured
    assert leaks(secret_run, texts) == []


def test_no_secret_reaches_a_logged_traceback(secret_run: Run) -> None:
    """The messages of every error and of its chained causes hold no secret."""
    logged = [chain(err) for err in secret_run.errors]
    assert len(logged) == 17
    assert leaks(secret_run, logged) == []


def test_no_secret_sits_in_a_suppressed_context_or_cause(secret_run: Run) -> None:
    """Every exception chained to an error, shown in tracebacks or not, holds no secret."""
    texts = [text for err in secret_run.errors for text in linked_texts(err)]
    assert leaks(secret_run, texts) == []


@pytest.mark.parametrize("code", ["token_wrong_purpose", "token_invalid"])
def test_no_token_reaches_the_traceback_of_a_link_used_for_the_wrong_purpose(
    secret_run: Run, code: str
) -> None:
    """A genuine link used at the wrong door, or cut short, leaves no signature in logs."""
    logged = [chain(err) for err in secret_run.errors if err.code == code]
    assert len(logged) == 1
    assert leaks(secret_run, logged) == []


def test_no_hash_reaches_the_traceback_of_a_refused_sql_insert(
    make_service: Callable[..., IdentityService],
) -> None:
    """A registration that loses a race to the database leaves no hash in the logged traceback."""
    sql = pytest.importorskip("provider_identity.adapters.sql")
    engine = sql.make_engine("sqlite://")
    sql.create_schema(engine)
    repository = sql.SqlAccountRepository(engine)
    result = make_service(accounts=repository).register(practitioner())
    account = repository.get(result.account.id)
    with pytest.raises(IdentityError) as caught:
        repository.add(attrs.evolve(account, id="another-id"))
    logged = chain(caught.value)
    assert "AlreadyRegistered" in logged
    held = "\n".join([logged, *linked_texts(caught.value)])
    assert account.password_hash not in held
    assert account.security_answer_hash not in held


@pytest.mark.parametrize("echo", [False, "debug"])
def test_sql_result_rows_never_reach_the_log(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    echo: object,
) -> None:
    """With SQLAlchemy's logger at DEBUG, make_engine's engines log no row: no hash, no Tax ID."""
    sql = pytest.importorskip("provider_identity.adapters.sql")
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    engine_logger = logging.getLogger("sqlalchemy.engine.Engine")
    # echo= adds a stdout handler to SQLAlchemy's logger once; take it off again.
    monkeypatch.setattr(engine_logger, "handlers", list(engine_logger.handlers))
    engine = sql.make_engine("sqlite://", echo=echo)
    sql.create_schema(engine)
    directory = sql.SqlProviderDirectory(engine)
    directory.upsert(sample_records())
    service = make_service(directory=directory, accounts=sql.SqlAccountRepository(engine))
    result = service.register(practitioner())
    service.activate(mailer.last_token())
    service.login("jdoe", PASSWORD)
    account = service.accounts.get(result.account.id)
    assert account is not None
    logged = caplog.text
    assert "FROM identity_accounts" in logged  # statements were logged: the logger was on
    for secret in (account.password_hash, account.security_answer_hash, "311234567"):
        assert secret not in logged
