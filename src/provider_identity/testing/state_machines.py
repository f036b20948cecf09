"""Hypothesis state machines holding any AccountRepository and LockoutStore to the rules.

Hypothesis is an optional dependency: ``pip install 'provider-identity[test]'``.

:class:`LockoutStoreMachine` drives a :class:`~provider_identity.LockoutStore`
directly: failures on a few keys, clears, and waits around the lock's end.
Every state the store returns or keeps must be the one
:meth:`LockoutState.after_failure` computes.

:class:`AccountLifecycleMachine` registers, activates, logs in with right and
wrong passwords (so accounts lock), waits (past a pending account's lifetime
too), resets passwords, unlocks, changes email addresses, deactivates,
reactivates and purges expired pending accounts and, with the ``mfa`` extra
installed, enrols authenticator apps, finishes logins with app, replayed,
wrong and recovery codes, removes factors and has the support desk reset
them, through two ``IdentityService`` objects in lockstep: one on the
adapters under test, one on the in-memory reference adapters. Every outcome,
message, audit event, stored account and lockout status must agree, and the
lifecycle rules must hold (a locked account refuses even the right password,
a pending one cannot log in, a deactivated one says so only to the right
password, a reset unlocks but keeps the second factor, a code is accepted
once, an expired pending account gives way to a new registration...).

Run them against your own adapters (each run gets fresh ones)::

    from provider_identity.testing.state_machines import (
        AccountLifecycleMachine,
        LockoutStoreMachine,
    )

    TestMyLockoutStore = LockoutStoreMachine.with_store(make_my_store).TestCase
    TestMyAdapters = AccountLifecycleMachine.with_adapters(
        accounts=make_my_repository, lockouts=make_my_store
    ).TestCase

or subclass and override ``make_store`` / ``make_accounts`` / ``make_lockouts``
(and ``teardown`` to close connections).

:class:`RateLimitMachine` drives a :class:`~provider_identity.limits.Limiter`
on the store under test: hits, peeks and clears on two subjects, and waits
around the window's edges. A fixed window must admit exactly what a plain
count per window admits; a sliding one must decide as the same limiter on the
in-memory store decides (``TestMyLimits = RateLimitMachine.with_store(make_my_store).TestCase``).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Final, Self, TypeVar, cast

import attrs

# First: without Hypothesis it raises an ImportError that says how to install it.
from provider_identity.testing.strategies import registration_requests

# isort: split
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from provider_identity.accounts import (
    Account,
    AccountStatus,
    canonical_email,
    canonical_username,
)
from provider_identity.adapters.memory import (
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
)
from provider_identity.errors import IdentityError
from provider_identity.limits import Limiter, LimitKind, RateLimit, RateLimits, Window
from provider_identity.lockout import LockoutPolicy, LockoutState
from provider_identity.mail import Branding
from provider_identity.mfa import SecondFactorDue, SecondFactors, SecretBox
from provider_identity.passwords import PasswordHasher
from provider_identity.ports import AccountRepository, FactorStore, LockoutStore
from provider_identity.providers import ProviderRecord
from provider_identity.service import IdentityService, RegistrationResult
from provider_identity.testing import (
    FakeAuthenticator,
    InlineDelivery,
    ManualClock,
    MemoryFactorStore,
    RecordingEventSink,
    RecordingMailer,
    cheapest_hasher,
    message_link,
    sample_records,
)
from provider_identity.tokens import TokenIssuer

__all__ = [
    "EMAILS",
    "PASSWORDS",
    "START",
    "USERNAMES",
    "WRONG_PASSWORD",
    "AccountLifecycleMachine",
    "LockoutStoreMachine",
    "RateLimitMachine",
]

_M = TypeVar("_M", bound=RuleBasedStateMachine)


def _expect(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")


def _expect_in(actual: object, allowed: Collection[object], what: str) -> None:
    if actual not in allowed:
        raise AssertionError(f"{what}: got {actual!r}, expected one of {sorted(map(str, allowed))}")


def _configured(cls: type[_M], **factories: Callable[[], object]) -> type[_M]:
    """A subclass of ``cls`` whose ``make_*`` methods call the given factories."""

    def method(factory: Callable[[], object]) -> Callable[[object], object]:
        return lambda self: factory()

    methods = {name: method(factory) for name, factory in factories.items()}
    return cast("type[_M]", type(f"Configured{cls.__name__}", (cls,), methods))


# -- the lockout store ----------------------------------------------------------------

#: Where both machines start; whole seconds, so stores that keep seconds compare equal.
START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_LOCKOUT_KEYS: Final = ("login:alice", "login:bob", "mail:reset:alice")
_LOCK_DURATIONS: Final = (timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24))


def _live(state: LockoutState | None, now: datetime) -> LockoutState | None:
    """What a stored state means at ``now``: nothing once it has expired."""
    return None if state is None or state.is_expired(now) else state


class LockoutStoreMachine(RuleBasedStateMachine):
    """Checks a LockoutStore against :meth:`LockoutState.after_failure`, step by step.

    A policy (1 to 6 failures, a lock of a minute, an hour or a day) is drawn
    first; then single failures and runs of failures past the limit on three
    keys, clears, and waits of a second, a minute, an hour, or one lock
    duration give or take a second.
    """

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.now = START
        self.policy = LockoutPolicy()
        self.expected: dict[str, LockoutState] = {}

    def make_store(self) -> LockoutStore:
        """A fresh, empty store for one run. Override it for your adapter."""
        return MemoryLockoutStore()

    @classmethod
    def with_store(cls, factory: Callable[[], LockoutStore]) -> type[Self]:
        """This machine, run against the stores ``factory`` makes (one per run)."""
        return _configured(cls, make_store=factory)

    @initialize(
        policy=st.builds(
            LockoutPolicy,
            max_failures=st.integers(1, 6),
            lock_duration=st.sampled_from(_LOCK_DURATIONS),
        )
    )
    def choose_policy(self, policy: LockoutPolicy) -> None:
        """Fix the failures that lock and the lock's length for this run."""
        self.policy = policy

    @rule(key=st.sampled_from(_LOCKOUT_KEYS))
    def record_failure(self, key: str) -> None:
        """One failure: the store must return exactly the reference step's state."""
        self._fail_once(key)

    @rule(key=st.sampled_from(_LOCKOUT_KEYS), spacing=st.sampled_from((1, 60)))
    def hammer(self, key: str, spacing: int) -> None:
        """Failures in a row past the limit, ``spacing`` seconds apart: the lock never moves."""
        for _ in range(self.policy.max_failures + 2):
            self._fail_once(key)
            self.now += timedelta(seconds=spacing)

    def _fail_once(self, key: str) -> None:
        max_failures, lock_for = self.policy.max_failures, self.policy.lock_duration
        previous = self.expected.get(key, LockoutState(failures=0))
        expected = previous.after_failure(self.now, max_failures=max_failures, lock_for=lock_for)
        actual = self.store.record_failure(
            key, now=self.now, max_failures=max_failures, lock_for=lock_for
        )
        _expect(actual, expected, f"record_failure({key!r}) at {self.now.isoformat()}")
        self.expected[key] = expected

    @rule(key=st.sampled_from(_LOCKOUT_KEYS))
    def clear(self, key: str) -> None:
        """Forget a key, as a success or a password reset does."""
        self.store.clear(key)
        self.expected.pop(key, None)

    @rule(seconds=st.sampled_from((1, 60, 3600)))
    def wait(self, seconds: int) -> None:
        """Let some time pass."""
        self.now += timedelta(seconds=seconds)

    @rule(offset=st.sampled_from((-1, 0, 1)))
    def wait_one_lock(self, offset: int) -> None:
        """Move to one lock duration later, give or take a second: where locks end."""
        self.now += self.policy.lock_duration + timedelta(seconds=offset)

    @invariant()
    def stored_states_agree(self) -> None:
        """What ``get`` returns means what the reference state means (expired: nothing)."""
        for key in _LOCKOUT_KEYS:
            _expect(
                _live(self.store.get(key), self.now),
                _live(self.expected.get(key), self.now),
                f"get({key!r}) at {self.now.isoformat()}",
            )


# -- the abuse limits -------------------------------------------------------------------

_SUBJECTS: Final = ("192.0.2.1", "2001:db8::1")
_PERIOD: Final = timedelta(minutes=1)


class RateLimitMachine(RuleBasedStateMachine):
    """Checks the abuse-limit counters on a LockoutStore, step by step.

    A limit (1 to 4 a minute, fixed or sliding) is drawn first. For a fixed
    window the reference is a plain count per subject and window (an attempt
    is admitted while the count is below the limit, and only then counted);
    for a sliding one, the same limiter over a :class:`MemoryLockoutStore`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.store = self.make_store()
        self.limit = RateLimit(limit=3, period=_PERIOD)
        self.limiter = self._limiter(self.store)
        self.reference = self._limiter(MemoryLockoutStore())
        self.counts: dict[tuple[str, int], int] = {}

    def make_store(self) -> LockoutStore:
        """A fresh, empty store for one run. Override it for your adapter."""
        return MemoryLockoutStore()

    @classmethod
    def with_store(cls, factory: Callable[[], LockoutStore]) -> type[Self]:
        """This machine, run against the stores ``factory`` makes (one per run)."""
        return _configured(cls, make_store=factory)

    def _limiter(self, store: LockoutStore) -> Limiter:
        limits = attrs.evolve(RateLimits.off(), login=self.limit)
        return Limiter(store=store, limits=limits, clock=self.clock)

    @initialize(limit=st.integers(1, 4), window=st.sampled_from(Window))
    def choose_limit(self, limit: int, window: Window) -> None:
        """Fix the limit and the window for this run."""
        self.limit = RateLimit(limit=limit, period=_PERIOD, window=window)
        self.limiter = self._limiter(self.store)
        self.reference = self._limiter(MemoryLockoutStore())

    def _window(self) -> int:
        return int((self.clock.now() - START) // _PERIOD)

    @rule(subject=st.sampled_from(_SUBJECTS))
    def hit(self, subject: str) -> None:
        """One attempt: admitted exactly as the reference admits it."""
        actual = self.limiter.hit(LimitKind.LOGIN, subject)
        expected = self.reference.hit(LimitKind.LOGIN, subject)
        what = f"hit({subject!r}) at {self.clock.now().isoformat()}"
        _expect(actual.admitted, expected.admitted, what)
        if self.limit.window is Window.FIXED:
            count = self.counts.get((subject, self._window()), 0)
            _expect(actual.admitted, count < self.limit.limit, f"{what}, count {count}")
            if actual.admitted:
                self.counts[subject, self._window()] = count + 1
        else:
            _expect(actual, expected, what)

    @rule(subject=st.sampled_from(_SUBJECTS))
    def peek(self, subject: str) -> None:
        """A peek decides as the reference does and counts nothing."""
        actual = self.limiter.peek(LimitKind.LOGIN, subject)
        _expect(actual, self.reference.peek(LimitKind.LOGIN, subject), f"peek({subject!r})")

    @rule(subject=st.sampled_from(_SUBJECTS))
    def clear(self, subject: str) -> None:
        """Forget a subject's attempts."""
        self.limiter.clear(LimitKind.LOGIN, subject)
        self.reference.clear(LimitKind.LOGIN, subject)
        for window in (self._window() - 1, self._window()):
            self.counts.pop((subject, window), None)

    @rule(seconds=st.sampled_from((1, 15, 59, 60, 61, 120)))
    def wait(self, seconds: int) -> None:
        """Let some time pass, up to two windows."""
        self.clock.advance(timedelta(seconds=seconds))


# -- the account lifecycle ------------------------------------------------------------

#: Usernames the lifecycle machine registers; two differ only in case.
USERNAMES: Final = ("alice", "ALICE", "bob.smith", "carol_d")
#: Emails it registers with; two differ only in case.
EMAILS: Final = ("alice@example.org", "Alice@Example.org", "bob@example.com", "carol@example.net")
#: Passwords the seed policy accepts for every username and email above.
PASSWORDS: Final = ("Blue-Heron-2031", "Quiet#Meadow-77", "Amber+Kettle-58")
#: A password no account ever has.
WRONG_PASSWORD: Final = "Wrong-Guess-4096"

_SIGNING_KEY: Final = b"provider-identity models: test signing key only"
_RECORDS: Final = sample_records()
_WAITS: Final = (
    timedelta(seconds=1),
    timedelta(minutes=59),
    timedelta(hours=1, seconds=1),
    timedelta(hours=24),
    timedelta(hours=72, seconds=1),
    timedelta(days=7),
)
_LOGIN_LOCKOUT: Final = LockoutPolicy(max_failures=3)
_BRANDING: Final = Branding()
_ACTIVATION_SUBJECT: Final = _BRANDING.subject(_BRANDING.activation_subject)
_RESET_SUBJECT: Final = _BRANDING.subject(_BRANDING.reset_subject)
_EMAIL_CHANGE_SUBJECT: Final = _BRANDING.subject(_BRANDING.email_change_subject)
_PENDING_LIFETIME: Final = timedelta(days=7)


#: Whether pyotp (the ``mfa`` extra) is there: the second-factor rules need it.
_MFA: Final = importlib.util.find_spec("pyotp") is not None
_CODE_KINDS: Final = ("app", "replay", "wrong", "recovery")


@attrs.frozen(kw_only=True)
class _Side:
    """One IdentityService with the fakes it was built on, and each account's phone."""

    service: IdentityService
    accounts: AccountRepository
    mailer: RecordingMailer
    events: RecordingEventSink
    factors: FactorStore
    apps: dict[str, FakeAuthenticator] = attrs.Factory(dict)
    recovery: dict[str, list[str]] = attrs.Factory(dict)
    accepted: dict[str, str] = attrs.Factory(dict)  # the last code each account logged in with


def _side(
    accounts: AccountRepository,
    lockouts: LockoutStore,
    factors: FactorStore,
    *,
    clock: ManualClock,
    directory: MemoryProviderDirectory,
    hasher: PasswordHasher,
) -> _Side:
    mailer, events = RecordingMailer(), RecordingEventSink()
    numbers = itertools.count(1)
    service = IdentityService(
        directory=directory,
        accounts=accounts,
        lockouts=lockouts,
        mailer=mailer,
        events=events,
        delivery=InlineDelivery(),
        clock=clock,
        tokens=TokenIssuer(current=_SIGNING_KEY, clock=clock),
        hasher=hasher,
        lockout_policy=_LOGIN_LOCKOUT,
        pending_lifetime=_PENDING_LIFETIME,
        new_account_id=lambda: f"account-{next(numbers)}",
        second_factors=SecondFactors(
            mode="optional", store=factors, secrets=SecretBox(current=_SIGNING_KEY)
        ),
    )
    return _Side(service=service, accounts=accounts, mailer=mailer, events=events, factors=factors)


@attrs.frozen
class _Outcome:
    """What a call ended with: ``"success"`` and its result, or an error's code and details."""

    code: str
    value: object = None


def _run(call: Callable[[], object]) -> _Outcome:
    try:
        return _Outcome("success", call())
    except IdentityError as err:
        details = ("locked_until", "errors", "field", "attempts_left")
        return _Outcome(err.code, tuple(getattr(err, name, None) for name in details))


def _stored(account: Account | None) -> Account | None:
    """An account without its salted hashes, which differ between two stores by design."""
    if account is None:
        return None
    pending = account.pending_email
    return attrs.evolve(
        account,
        password_hash="",
        security_answer_hash="",
        password_history=("",) * len(account.password_history),
        pending_email=None if pending is None else attrs.evolve(pending, nonce=""),
    )


_POOL_KEYS: Final = tuple(
    (canonical_username(username), canonical_email(email).key)
    for username, email in zip(USERNAMES, EMAILS, strict=True)
)


def _lookups(repository: AccountRepository) -> dict[str, object]:
    """What the machine asks a repository, by question, hashes left out."""
    found: dict[str, object] = {}
    for key, email_key in _POOL_KEYS:
        found[f"find_by_username({key!r})"] = _stored(repository.find_by_username(key))
        found[f"key_taken({key!r})"] = repository.key_taken(key)
        found[f"key_taken({email_key!r})"] = repository.key_taken(email_key)
    for record in _RECORDS:
        provider_id = record.provider_id
        found[f"find_by_provider_id({provider_id!r})"] = _stored(
            repository.find_by_provider_id(provider_id)
        )
    return found


def _news(side: _Side, seen: tuple[int, int]) -> tuple[list[object], list[object]]:
    """The messages (recipient, subject, link) and events after the first ``seen`` of each."""
    messages, events = seen
    return (
        [
            # An email change link holds a random nonce: the same on neither side.
            (str(m["To"]), str(m["Subject"]), "" if _is_email_change(m) else message_link(m))
            for m in side.mailer.messages[messages:]
        ],
        list(side.events.events[events:]),
    )


def _is_email_change(message: object) -> bool:
    return str(message["Subject"]) == _EMAIL_CHANGE_SUBJECT  # type: ignore[index]


@attrs.define
class _Known:
    """What the machine knows of an account it registered."""

    username: str
    account_id: str
    provider_id: str
    email: str
    email_key: str
    password: str
    created_at: datetime
    status: AccountStatus = AccountStatus.PENDING
    activated_once: bool = False
    reactivated: bool = False  # links mailed before may have died
    pending_email: str | None = None
    totp: bool = False

    def expired(self, now: datetime) -> bool:
        return self.status is AccountStatus.PENDING and now >= self.created_at + _PENDING_LIFETIME


class AccountLifecycleMachine(RuleBasedStateMachine):
    """Runs the account lifecycle on the adapters under test and on the reference, in lockstep.

    Accounts are registered for the sample provider records with the
    :data:`USERNAMES`, :data:`EMAILS` and :data:`PASSWORDS` pools (so clashes,
    case variants included, happen often). Logins lock after 3 failures for
    24 hours. Waits of a second up to 7 days cross the lock's end, the reset
    and activation links' lifetimes and a pending account's (7 days).
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.hasher = cheapest_hasher()
        directory = MemoryProviderDirectory(_RECORDS)
        self.subject = _side(
            self.make_accounts(),
            self.make_lockouts(),
            self.make_factors(),
            clock=self.clock,
            directory=directory,
            hasher=self.hasher,
        )
        self.reference = _side(
            MemoryAccountRepository(),
            MemoryLockoutStore(),
            MemoryFactorStore(),
            clock=self.clock,
            directory=directory,
            hasher=self.hasher,
        )
        self.known: dict[str, _Known] = {}
        self.seen = (0, 0)  # messages and events already compared

    def make_accounts(self) -> AccountRepository:
        """A fresh, empty repository for one run. Override it for your adapter."""
        return MemoryAccountRepository()

    def make_lockouts(self) -> LockoutStore:
        """A fresh, empty lockout store for one run. Override it for your adapter."""
        return MemoryLockoutStore()

    def make_factors(self) -> FactorStore:
        """A fresh, empty second-factor store for one run. Override it for your adapter."""
        return MemoryFactorStore()

    @classmethod
    def with_adapters(
        cls,
        *,
        accounts: Callable[[], AccountRepository] | None = None,
        lockouts: Callable[[], LockoutStore] | None = None,
        factors: Callable[[], FactorStore] | None = None,
    ) -> type[Self]:
        """This machine, run against the adapters the factories make (fresh ones per run)."""
        factories: dict[str, Callable[[], object]] = {}
        if accounts is not None:
            factories["make_accounts"] = accounts
        if lockouts is not None:
            factories["make_lockouts"] = lockouts
        if factors is not None:
            factories["make_factors"] = factors
        return _configured(cls, **factories)

    def _both(self, action: Callable[[_Side], object]) -> _Outcome:
        expected = _run(lambda: action(self.reference))
        actual = _run(lambda: action(self.subject))
        _expect(actual, expected, "outcome on the adapters under test (reference expected)")
        return actual

    def _known(self, username: str) -> _Known | None:
        return self.known.get(canonical_username(username))

    @initialize(data=st.data(), record=st.sampled_from(_RECORDS))
    def one_active_account(self, data: st.DataObject, record: ProviderRecord) -> None:
        """Start with one registered, activated account, so every rule has one to work on."""
        self.register(data, record)
        for known in self.known.values():
            self.activate(known.username)

    @rule(data=st.data(), record=st.sampled_from(_RECORDS))
    def register(self, data: st.DataObject, record: ProviderRecord) -> None:
        """Register a provider; a taken provider, username or email must be refused."""
        request = data.draw(
            registration_requests(
                matching=record,
                formatting_noise=False,
                username=st.sampled_from(USERNAMES),
                email=st.sampled_from(EMAILS),
                password=st.sampled_from(PASSWORDS),
            )
        )
        username, email, password = request.username, request.email, request.password
        key, email_key = canonical_username(username), canonical_email(email).key
        holder = next(
            (k for k, known in self.known.items() if known.provider_id == record.provider_id), None
        )
        replaced = holder is not None and self.known[holder].expired(self.clock.now())
        others = {k: known for k, known in self.known.items() if not (replaced and k == holder)}
        taken = {k for known_key, known in others.items() for k in (known_key, known.email_key)}
        if holder is not None and not replaced:
            expected = "already_registered"
        elif key in taken or email_key in taken:
            expected = "username_unavailable"
        else:
            expected = "success"
        outcome = self._both(lambda side: side.service.register(request))
        _expect(outcome.code, expected, f"register({username!r}, {email!r})")
        if isinstance(outcome.value, RegistrationResult):
            if replaced:
                assert holder is not None  # noqa: S101  # replaced implies a holder
                del self.known[holder]
            self.known[key] = _Known(
                username=username,
                account_id=outcome.value.account.id,
                provider_id=record.provider_id,
                email=outcome.value.account.email,
                email_key=email_key,
                password=password,
                created_at=self.clock.now(),
            )

    @rule(username=st.sampled_from(USERNAMES))
    def resend_activation(self, username: str) -> None:
        """Ask for the activation mail again (throttled, silent)."""
        self._both(lambda side: side.service.resend_activation(username))

    @rule(username=st.sampled_from(USERNAMES))
    def activate(self, username: str) -> None:
        """Follow the newest activation link: it works once, while fresh."""
        known = self._known(username)
        if known is None:
            return
        outcome = self._follow(known, _ACTIVATION_SUBJECT, lambda s, token: s.activate(token))
        if outcome is None:
            return
        if known.status is AccountStatus.PENDING:
            allowed = {"success", "token_expired"} | (
                {"token_already_used"} if known.reactivated else set()
            )
        else:
            allowed = {"token_already_used", "token_expired"}
        _expect_in(outcome.code, allowed, f"activate({username!r})")
        if outcome.code == "success":
            known.status, known.activated_once = AccountStatus.ACTIVE, True

    def _follow(
        self, known: _Known, subject: str, use: Callable[[IdentityService, str], object]
    ) -> _Outcome | None:
        """Use the newest link of ``subject`` each side mailed to the account, if there is one."""
        try:
            self.reference.mailer.last(known.email, subject=subject)
        except LookupError:
            return None
        return self._both(
            lambda side: use(side.service, side.mailer.last_token(known.email, subject=subject))
        )

    @rule(username=st.sampled_from(USERNAMES), right=st.booleans())
    def login(self, username: str, right: bool) -> None:
        """Log in: only the right password of an active, unlocked account gets in."""
        known = self._known(username)
        password = known.password if known is not None and right else WRONG_PASSWORD
        locked = self.reference.service.lockout_status(username).is_locked
        outcome = self._both(lambda side: side.service.login(username, password))
        if locked:
            allowed = {"account_locked"}
        elif known is None or not right:
            allowed = {"invalid_credentials", "account_locked"}
        else:
            allowed = {
                {
                    AccountStatus.ACTIVE: "success",
                    AccountStatus.PENDING: "account_not_activated",
                    AccountStatus.DEACTIVATED: "account_deactivated",
                }[known.status]
            }
        _expect_in(outcome.code, allowed, f"login({username!r}, right={right})")

    @rule(username=st.sampled_from(USERNAMES))
    def request_password_reset(self, username: str) -> None:
        """Forgot password: answers the same whoever asks."""
        outcome = self._both(lambda side: side.service.request_password_reset(username))
        _expect(outcome.code, "success", f"request_password_reset({username!r})")

    @rule(username=st.sampled_from(USERNAMES), password=st.sampled_from(PASSWORDS))
    def reset_password(self, username: str, password: str) -> None:
        """Follow the newest reset link: the password changes, the account unlocks and activates."""
        known = self._known(username)
        if known is None:
            return
        outcome = self._follow(
            known, _RESET_SUBJECT, lambda s, token: s.reset_password(token, password)
        )
        if outcome is None or outcome.code != "success":
            return
        _expect(
            known.status is AccountStatus.DEACTIVATED, False, "a reset of a deactivated account"
        )
        known.password, known.status, known.activated_once = password, AccountStatus.ACTIVE, True
        status = self.subject.service.lockout_status(username)
        _expect((status.failures, status.locked_until), (0, None), "lockout after a reset")

    @rule(username=st.sampled_from(USERNAMES))
    def unlock(self, username: str) -> None:
        """An administrator ends a lock."""
        self._both(lambda side: side.service.unlock(username))

    # -- second factors -----------------------------------------------------------------

    def _sides(self) -> tuple[_Side, _Side]:
        return (self.reference, self.subject)

    def _pick(self, data: st.DataObject, wanted: Callable[[_Known], bool]) -> tuple[str, _Known]:
        keys = sorted(key for key, known in self.known.items() if wanted(known))
        key = data.draw(st.sampled_from(keys), label="account")
        return key, self.known[key]

    @precondition(
        lambda self: _MFA and any(k.status is AccountStatus.ACTIVE for k in self.known.values())
    )
    @rule(data=st.data())
    def enrol_totp(self, data: st.DataObject) -> None:
        """Enrol an authenticator app and confirm it: once per account, until removed."""
        key, known = self._pick(data, lambda known: known.status is AccountStatus.ACTIVE)
        username = known.username

        def enrol(side: _Side) -> object:
            enrolment = side.service.begin_totp_enrolment(known.account_id)
            app = FakeAuthenticator.from_enrolment(enrolment, self.clock)
            confirmed = side.service.confirm_totp(known.account_id, app.code())
            side.apps[key], side.accepted[key] = app, app.code()
            if confirmed.recovery_codes is not None:
                side.recovery[key] = list(confirmed.recovery_codes.codes)
            return confirmed.recovery_codes is not None

        outcome = self._both(enrol)
        expected = "factor_already_enrolled" if known.totp else "success"
        _expect(outcome.code, expected, f"enrol_totp({username!r})")
        known.totp = True

    def _code(self, side: _Side, key: str, kind: str) -> str:
        app = side.apps[key]
        if kind == "app":
            return app.code()
        if kind == "replay":
            return side.accepted.get(key, app.code())
        if kind == "recovery":
            codes = side.recovery.get(key, [])
            return codes.pop(0) if codes else "aaaaa-aaaaa"
        window = {
            other.apps[key].code(steps=offset) for other in self._sides() for offset in (-1, 0, 1)
        }
        return next(code for code in ("000000", "111111", "222222", "333333") if code not in window)

    @precondition(lambda self: _MFA and any(k.totp for k in self.known.values()))
    @rule(data=st.data(), kind=st.sampled_from(_CODE_KINDS))
    def login_with_code(self, data: st.DataObject, kind: str) -> None:
        """Right password, then a code: the next app code works once, others never."""
        key, known = self._pick(data, lambda known: known.totp)
        username = known.username
        if kind == "app":
            self.clock.advance(30)  # the app shows its next code

        def two_steps(side: _Side) -> object:
            result = side.service.login(username, known.password)
            if not isinstance(result, SecondFactorDue):
                raise AssertionError(f"login({username!r}) of an enrolled account: {result!r}")
            code = self._code(side, key, kind)
            done = side.service.complete_login(result.challenge, code)
            side.accepted[key] = code
            return done

        outcome = self._both(two_steps)
        if kind in ("wrong", "replay"):
            _expect_in(
                outcome.code,
                {
                    "invalid_code",
                    "code_already_used",
                    "account_locked",
                    "account_not_activated",
                    "account_deactivated",
                },
                f"complete_login({username!r}) with a {kind} code",
            )

    @precondition(lambda self: _MFA and any(k.totp for k in self.known.values()))
    @rule(data=st.data())
    def remove_totp(self, data: st.DataObject) -> None:
        """Remove the app with the password and a current code."""
        key, known = self._pick(data, lambda known: known.totp)
        outcome = self._both(
            lambda side: side.service.remove_factor(
                known.account_id, "totp", password=known.password, code=side.apps[key].code()
            )
        )
        if outcome.code == "success":
            known.totp = False

    @precondition(lambda self: _MFA and any(k.totp for k in self.known.values()))
    @rule(data=st.data())
    def reset_factors(self, data: st.DataObject) -> None:
        """The support desk removes every factor."""
        _, known = self._pick(data, lambda known: known.totp)
        username = known.username
        outcome = self._both(
            lambda side: side.service.reset_factors(known.account_id, agent_id="agent-7")
        )
        _expect(outcome.code, "success", f"reset_factors({username!r})")
        known.totp = False

    @invariant()
    def same_factors(self) -> None:
        """Both factor stores hold the same factors; a password reset never removed one."""
        for key, known in self.known.items():
            shapes = []
            for side in self._sides():
                record = side.factors.get(known.account_id)
                shapes.append(
                    None
                    if record is None
                    else (
                        record.revision,
                        None if record.totp is None else record.totp.last_step,
                        record.pending_totp is not None,
                        None if record.recovery is None else record.recovery.remaining,
                    )
                )
            _expect(shapes[1], shapes[0], f"factors of {key!r}")
            has = self.subject.service.has_second_factor(known.account_id)
            _expect(has, known.totp, f"has_second_factor({key!r})")

    @rule(username=st.sampled_from(USERNAMES))
    def deactivate(self, username: str) -> None:
        """Switch an account off: once; its links and sessions die."""
        known = self._known(username)
        if known is None:
            return
        outcome = self._both(lambda side: side.service.deactivate(known.account_id))
        off = known.status is AccountStatus.DEACTIVATED
        _expect(
            outcome.code, "invalid_transition" if off else "success", f"deactivate({username!r})"
        )
        known.status, known.pending_email = AccountStatus.DEACTIVATED, None

    @rule(username=st.sampled_from(USERNAMES))
    def reactivate(self, username: str) -> None:
        """Switch a deactivated account on again: active, or pending if it never was active."""
        known = self._known(username)
        if known is None:
            return
        outcome = self._both(lambda side: side.service.reactivate(known.account_id))
        off = known.status is AccountStatus.DEACTIVATED
        _expect(
            outcome.code, "success" if off else "invalid_transition", f"reactivate({username!r})"
        )
        if off:
            known.status = AccountStatus.ACTIVE if known.activated_once else AccountStatus.PENDING
            known.reactivated = True

    @rule(username=st.sampled_from(USERNAMES), email=st.sampled_from(EMAILS), right=st.booleans())
    def request_email_change(self, username: str, email: str, right: bool) -> None:
        """Ask for a new address: only an active account with the right password, to a free one."""
        known = self._known(username)
        if known is None:
            return
        password = known.password if right else WRONG_PASSWORD
        locked = self.reference.service.lockout_status(username).is_locked
        outcome = self._both(
            lambda side: side.service.request_email_change(known.account_id, password, email)
        )
        key = canonical_email(email).key
        taken = {k for known_key, other in self.known.items() for k in (known_key, other.email_key)}
        if key == known.email_key:
            allowed = {"invalid_input"}
        elif locked:
            allowed = {"account_locked"}
        elif not right:
            allowed = {"invalid_credentials", "account_locked"}
        elif known.status is AccountStatus.DEACTIVATED:
            allowed = {"account_deactivated"}
        elif key in taken:
            allowed = {"username_unavailable"}
        else:
            allowed = {"success" if known.status is AccountStatus.ACTIVE else "invalid_transition"}
        _expect_in(outcome.code, allowed, f"request_email_change({username!r}, {email!r})")
        stored = self.reference.accounts.get(known.account_id)
        pending = None if stored is None else stored.pending_email
        known.pending_email = None if pending is None else pending.address

    @rule(username=st.sampled_from(USERNAMES))
    def confirm_email_change(self, username: str) -> None:
        """Follow the newest email change link: the address moves, atomically, once."""
        known = self._known(username)
        if known is None or known.pending_email is None:
            return
        address = known.pending_email
        try:
            self.reference.mailer.last(address, subject=_EMAIL_CHANGE_SUBJECT)
        except LookupError:
            return
        outcome = self._both(
            lambda side: side.service.confirm_email_change(
                side.mailer.last_token(address, subject=_EMAIL_CHANGE_SUBJECT)
            )
        )
        allowed = {"success", "token_already_used", "token_expired", "username_unavailable"}
        _expect_in(outcome.code, allowed, f"confirm_email_change({username!r})")
        if outcome.code == "success":
            known.email, known.email_key = address, canonical_email(address).key
            known.pending_email = None

    @rule()
    def purge_pending(self) -> None:
        """Delete the expired pending accounts: exactly those, on both sides alike."""
        now = self.clock.now()
        expected = sorted(key for key, known in self.known.items() if known.expired(now))
        outcome = self._both(lambda side: side.service.purge_pending())
        purged = sorted(canonical_username(name) for name in cast("tuple[str, ...]", outcome.value))
        _expect(purged, expected, "purge_pending()")
        for key in purged:
            del self.known[key]

    @rule(step=st.sampled_from(_WAITS))
    def wait(self, step: timedelta) -> None:
        """Let time pass: locks end after 24 hours, reset links after 1, activation after 72."""
        self.clock.advance(step)

    @invariant()
    def same_mail_and_events(self) -> None:
        """Both sides sent the same messages (same links) and the same audit events."""
        actual, expected = _news(self.subject, self.seen), _news(self.reference, self.seen)
        _expect(actual[0], expected[0], "messages sent")
        _expect(actual[1], expected[1], "audit events")
        self.seen = (len(self.reference.mailer.messages), len(self.reference.events.events))

    @invariant()
    def same_accounts(self) -> None:
        """Both repositories answer every lookup alike."""
        expected = _lookups(self.reference.accounts)
        for what, actual in _lookups(self.subject.accounts).items():
            _expect(actual, expected[what], what)

    @invariant()
    def same_lockout_status(self) -> None:
        """Both lockout stores give every username the same count and lock."""
        for username in USERNAMES:
            _expect(
                self.subject.service.lockout_status(username),
                self.reference.service.lockout_status(username),
                f"lockout_status({username!r})",
            )

    @invariant()
    def known_accounts_kept(self) -> None:
        """Each registered account is stored with its status and a hash of its password."""
        for key, known in self.known.items():
            account = self.subject.accounts.get(known.account_id)
            if account is None:
                raise AssertionError(f"get({known.account_id!r}): the account is gone")
            _expect(
                (account.username_key, account.status, account.email_key),
                (key, known.status, known.email_key),
                "stored account",
            )
            if not self.hasher.verify(account.password_hash, known.password):
                raise AssertionError(f"{key!r}: the stored hash does not match the password")
