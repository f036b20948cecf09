"""The promises of SECURITY.md about login, lockout, enumeration, resets and secrets.

Each test is named after the promise it proves; docs/standards.md maps them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import argon2
import attrs
import pytest

from provider_identity import (
    AccountLocked,
    AccountNotActivated,
    IdentityError,
    IdentityService,
    InvalidCredentials,
    PasswordHasher,
    PasswordRejected,
    TokenAlreadyUsed,
    TokenIssuer,
    TokenPurpose,
)
from provider_identity.passwords import OWASP_MINIMUM, TEST_ONLY_CHEAPEST
from provider_identity.testing import (
    FailingMailer,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    RecordingEventSink,
    RecordingMailer,
)
from tests.helpers import KEY, PASSWORD, member, practitioner

WRONG = "Wrong-Password-9"


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


# -- Login, lockout, enumeration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "username", "password", "expected", "verified"),
    [
        ("unknown user", "nobody", PASSWORD, InvalidCredentials, ["dummy"]),
        ("wrong password", "jdoe", WRONG, InvalidCredentials, ["real"]),
        ("right password", "jdoe", PASSWORD, None, ["real"]),
        ("locked, right password", "locked", PASSWORD, AccountLocked, ["dummy"]),
        ("locked, wrong password", "locked", WRONG, AccountLocked, ["dummy"]),
        ("not activated", "pending", PASSWORD, AccountNotActivated, ["real"]),
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
    guarded.register(practitioner())
    guarded.activate(mailer.last_token())
    if username == "locked":
        guarded.register(member("locked"))
        guarded.activate(mailer.last_token())
        lock(guarded, "locked")
    if username == "pending":
        guarded.register(member("pending"))
    counting.verified.clear()

    outcome = attempt(guarded, username, password)

    assert type(outcome) is expected if expected else outcome is None, path
    assert counting.verified == verified


def test_parallel_wrong_attempts_verify_the_real_hash_at_most_max_failures_times(
    guarded: IdentityService, counting: CountingHasher, active_account: str
) -> None:
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
    assert guarded.lockout_status("jdoe").is_locked


def test_the_lock_ends_exactly_24_hours_after_it_began_and_attempts_do_not_extend_it(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    lock(service)
    began = clock.now()
    clock.advance(hours=23)
    assert isinstance(attempt(service, "jdoe", PASSWORD), AccountLocked)
    clock.set(began + timedelta(hours=24, seconds=-1))
    err = attempt(service, "jdoe", PASSWORD)
    assert isinstance(err, AccountLocked)
    assert err.locked_until == began + timedelta(hours=24)
    clock.set(began + timedelta(hours=24))
    assert attempt(service, "jdoe", PASSWORD) is None


def test_spelling_variants_share_one_counter(service: IdentityService, active_account: str) -> None:
    for spelling in ("jdoe", "JDOE", "JDoe", "ｊｄｏｅ", " jdoe "):
        attempt(service, spelling, WRONG)
    assert service.lockout_status("jdoe").is_locked


def test_unknown_user_and_wrong_password_are_indistinguishable(
    service: IdentityService, active_account: str
) -> None:
    unknown = attempt(service, "nobody", WRONG)
    wrong = attempt(service, "jdoe", WRONG)
    assert type(unknown) is type(wrong) is InvalidCredentials
    assert (str(unknown), repr(unknown), vars(unknown)) == (str(wrong), repr(wrong), vars(wrong))


def test_a_completed_reset_unlocks_and_zeroes_the_counter(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    lock(service)
    service.request_password_reset("jdoe")
    service.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    status = service.lockout_status("jdoe")
    assert (status.is_locked, status.failures) == (False, 0)
    assert attempt(service, "jdoe", "Green-Kestrel-2032") is None


# -- Forgot password ---------------------------------------------------------------------


@attrs.define
class CountingTokens(TokenIssuer):
    """A TokenIssuer counting the tokens it signs."""

    issued: list[TokenPurpose] = attrs.field(factory=list, eq=False)

    def issue(self, purpose: TokenPurpose, *, account_id: str, credential_version: int) -> str:
        self.issued.append(purpose)
        return super().issue(purpose, account_id=account_id, credential_version=credential_version)


class CountingLockouts(MemoryLockoutStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def record_failure(self, key: str, **kwargs: Any) -> Any:
        self.writes += 1
        return super().record_failure(key, **kwargs)


class BrokenMailer:
    """A mailer that fails with something other than MailDeliveryError."""

    def send(self, message: EmailMessage) -> None:
        raise OSError("relay unreachable")


@pytest.mark.parametrize("mailer_kind", ["working", "failing", "broken"])
def test_forgot_password_answers_the_same_and_does_the_same_work_on_every_path(
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    mailer: RecordingMailer,
    mailer_kind: str,
) -> None:
    setup = make_service()
    setup.register(practitioner())
    setup.activate(mailer.last_token())
    setup.register(member("pending"))
    lock(setup)
    relay = {"working": RecordingMailer(), "failing": FailingMailer(), "broken": BrokenMailer()}

    answers, work = [], []
    for username in ("jdoe", "nobody", "pending", "jdoe"):  # the last one: locked and known
        tokens = CountingTokens(current=KEY, clock=clock)
        lockouts = CountingLockouts()
        service = make_service(mailer=relay[mailer_kind], tokens=tokens, lockouts=lockouts)
        answers.append(service.request_password_reset(username))
        work.append((tokens.issued, lockouts.writes))

    assert answers == [None] * 4
    assert work == [([TokenPurpose.PASSWORD_RESET], 1)] * 4
    assert setup.lockout_status("jdoe").failures == 5  # forgot password never counts as a failure


def test_reset_mail_is_throttled_per_account(
    service: IdentityService, mailer: RecordingMailer, active_account: str, clock: ManualClock
) -> None:
    for _ in range(5):
        service.request_password_reset("jdoe")
    assert len(mailer.messages) == 3
    clock.advance(hours=1)
    service.request_password_reset("JDOE")
    assert len(mailer.messages) == 4


# -- Tokens and resets -------------------------------------------------------------------


def test_a_reset_does_not_log_in_and_kills_every_outstanding_link_and_session(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    version = service.accounts.get(active_account).credential_version  # type: ignore[union-attr]
    service.request_password_reset("jdoe")
    first = mailer.last_token()
    service.request_password_reset("jdoe")
    second = mailer.last_token()
    mailer.clear()

    view = service.reset_password(second, "Green-Kestrel-2032")

    assert not service.is_session_current(active_account, version)
    assert service.is_session_current(active_account, view.credential_version)
    for token in (first, second):
        with pytest.raises(TokenAlreadyUsed):
            service.reset_password(token, "Another-Kestrel-2033")
    notice = mailer.last()
    assert notice["Subject"] == "Your Provider Portal Password Was Changed"
    assert notice["To"] == "jane.doe@example.org"


def test_a_rehash_on_login_keeps_an_outstanding_reset_link_alive(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    accounts: MemoryAccountRepository,
) -> None:
    old = make_service()
    old.register(practitioner())
    old.activate(mailer.last_token())
    old.request_password_reset("jdoe")
    link = mailer.last_token()

    upgraded = make_service(hasher=PasswordHasher(parameters=OWASP_MINIMUM))
    assert upgraded.login("jdoe", PASSWORD).rehashed
    stored = accounts.find_by_username("jdoe")
    assert stored is not None
    assert argon2.extract_parameters(stored.password_hash).memory_cost == OWASP_MINIMUM.memory_cost

    upgraded.reset_password(link, "Green-Kestrel-2032")
    assert upgraded.login("jdoe", "Green-Kestrel-2032").account.username == "jdoe"


def test_a_malformed_stored_hash_fails_closed(
    service: IdentityService, accounts: MemoryAccountRepository, active_account: str
) -> None:
    account = accounts.get(active_account)
    assert account is not None
    accounts.replace(
        attrs.evolve(account, password_hash="$argon2id$v=19$garbage"),
        expected_version=account.credential_version,
    )
    assert isinstance(attempt(service, "jdoe", PASSWORD), InvalidCredentials)


@pytest.mark.parametrize("flow", ["change", "reset"])
def test_the_last_five_passwords_cannot_be_reused(
    service: IdentityService, mailer: RecordingMailer, active_account: str, flow: str
) -> None:
    passwords = [PASSWORD] + [f"Green-Kestrel-20{n:02d}" for n in range(4)]
    for current, new in itertools.pairwise(passwords):
        service.change_password(active_account, current, new)

    def set_password(password: str) -> None:
        if flow == "change":
            service.change_password(active_account, passwords[-1], password)
        else:
            service.request_password_reset("jdoe")
            service.reset_password(mailer.last_token(), password)

    for reused in passwords:
        with pytest.raises(PasswordRejected) as caught:
            set_password(reused)
        assert [e.code for e in caught.value.errors] == ["reused"]
    set_password("Green-Kestrel-2099")  # a sixth, new password is fine


# -- Secrets -------------------------------------------------------------------------------


def test_no_secret_reaches_an_exception_event_or_repr(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    events: RecordingEventSink,
    accounts: MemoryAccountRepository,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = make_service(mailer=mailer)
    request = practitioner()
    texts: list[str] = [repr(request), repr(service), repr(service.tokens), repr(service.hasher)]
    result = service.register(request)
    activation = mailer.last_token()
    service.activate(activation)
    for password in (WRONG, PASSWORD, "x" * 5000):
        err = attempt(service, "jdoe", password)
        texts += [str(err), repr(err)]
    service.request_password_reset("jdoe")
    reset = mailer.last_token()
    for bad in ("short", PASSWORD):
        try:
            service.reset_password(reset, bad)
        except IdentityError as err:
            texts += [str(err), repr(err), repr(getattr(err, "errors", ""))]
    service.reset_password(reset, "Green-Kestrel-2032")
    account = accounts.get(result.account.id)
    texts += [repr(account), repr(result), repr(events.events), caplog.text]

    secrets = [
        PASSWORD, WRONG, "Green-Kestrel-2032", "Rex", "rex", activation, reset,
        "311234567", "31-1234567",
        account.password_hash if account else "?", account.security_answer_hash if account else "?",
    ]  # fmt: skip
    leaks = [(secret, text[:80]) for secret in secrets for text in texts if secret in text]
    assert leaks == []
