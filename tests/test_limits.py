"""Abuse limits: per client address and per key, refused before any hash or directory work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provider_identity import (
    AccountLocked,
    AccountRequest,
    Action,
    ConfigurationError,
    DetailsMismatch,
    HumanCheckRequired,
    IdentityError,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    Limiter,
    LimitKind,
    PasswordHasher,
    ProviderRecord,
    ProviderRequest,
    RateLimit,
    RateLimits,
    TokenIssuer,
    TooManyAttempts,
    Window,
)
from provider_identity.limits import client_key
from provider_identity.passwords import TEST_ONLY_CHEAPEST
from provider_identity.testing import (
    FakeHumanCheck,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    sample_records,
)
from tests.helpers import KEY, PASSWORD, member, practitioner

WRONG = "Wrong-Password-99"
PER_MINUTE = timedelta(minutes=1)

# -- helpers ------------------------------------------------------------------------------


class CountingDirectory(MemoryProviderDirectory):
    """A memory directory that counts the lookups a registration makes."""

    def __init__(self, records: Sequence[ProviderRecord]) -> None:
        super().__init__(records)
        self.lookups = 0

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        self.lookups += 1
        return super().by_provider_id(provider_id)

    def by_npi(self, npi: str) -> ProviderRecord | None:
        self.lookups += 1
        return super().by_npi(npi)


@attrs.frozen(kw_only=True)
class CountingHasher(PasswordHasher):
    """A cheapest hasher that counts every hash and verification (dummy ones call verify)."""

    counts: Counter[str] = attrs.field(factory=Counter, eq=False)

    def hash(self, password: str) -> str:
        self.counts["hash"] += 1
        return super().hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.counts["verify"] += 1
        return super().verify(password_hash, password)


@attrs.define
class World:
    """A service over counting fakes."""

    service: IdentityService
    clock: ManualClock
    directory: CountingDirectory
    hasher: CountingHasher
    lockouts: MemoryLockoutStore
    mailer: RecordingMailer
    events: RecordingEventSink
    accounts: MemoryAccountRepository


def world(records: Sequence[ProviderRecord] | None = None, **overrides: Any) -> World:
    """A service with the default limits (unless overridden) over counting fakes."""
    clock = ManualClock()
    parts = World(
        service=None,  # type: ignore[arg-type]  # set just below
        clock=clock,
        directory=CountingDirectory(sample_records() if records is None else records),
        hasher=CountingHasher(parameters=TEST_ONLY_CHEAPEST),
        lockouts=MemoryLockoutStore(),
        mailer=RecordingMailer(),
        events=RecordingEventSink(),
        accounts=MemoryAccountRepository(),
    )
    parts.service = IdentityService(
        directory=parts.directory,
        accounts=parts.accounts,
        lockouts=parts.lockouts,
        mailer=parts.mailer,
        events=parts.events,
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=parts.hasher,
        **overrides,
    )
    return parts


def outcome(call: Callable[[], object]) -> str:
    """``"success"`` or the code of the error ``call`` raised."""
    try:
        call()
    except IdentityError as err:
        return err.code
    return "success"


def zip_guesses() -> list[str]:
    """402 ZIP codes, the right one (Jane Doe's 45402) last, as the reported attack ran them."""
    return [f"{45000 + n:05d}" for n in range(401)] + ["45402"]


# -- the attacks of the issue ---------------------------------------------------------------


def test_the_402_guess_zip_attack_from_one_address_is_refused_long_before_it_finishes() -> None:
    """One address, 402 ZIP guesses for one Provider ID: refused after 10, never registered."""
    w = world()
    outcomes = Counter(
        outcome(
            lambda zip_code=zip_code: w.service.register(
                practitioner(zip_code=zip_code), client_address="203.0.113.9"
            )
        )
        for zip_code in zip_guesses()
    )
    assert outcomes == {"details_mismatch": 10, "too_many_attempts": 392}
    assert list(w.accounts) == []
    assert w.directory.lookups == 10
    assert w.hasher.counts == {}  # no attempt got as far as hashing


def test_the_402_guess_zip_attack_from_many_addresses_is_refused_by_the_provider_limit() -> None:
    """402 addresses, one guess each: the Provider ID's own limit stops it after 10."""
    w = world()
    outcomes = [
        outcome(
            lambda n=n, zip_code=zip_code: w.service.register(
                practitioner(zip_code=zip_code), client_address=f"10.{n // 256}.{n % 256}.1"
            )
        )
        for n, zip_code in enumerate(zip_guesses())
    ]
    assert outcomes[:10] == ["details_mismatch"] * 10
    assert set(outcomes[10:]) == {"too_many_attempts"}
    assert list(w.accounts) == []
    assert w.directory.lookups == 10


def test_the_zip_attack_at_one_guess_a_minute_gets_at_most_ten_an_hour_to_the_matcher() -> None:
    """Spread over 402 minutes, at most 10 guesses per clock hour reach the directory."""
    w = world()
    for zip_code in zip_guesses():
        outcome(lambda zip_code=zip_code: w.service.register(practitioner(zip_code=zip_code)))
        w.clock.advance(timedelta(minutes=1))
    hours = 402 // 60 + 2  # the clock hours the run touches, at most
    assert w.directory.lookups <= 10 * hours
    assert list(w.accounts) == []


def test_a_password_spray_from_one_address_stops_at_the_per_address_limit() -> None:
    """One address, one password, 100 user names: 10 guesses, then refused; nobody is locked."""
    w = world()
    w.service.register(practitioner())
    w.service.register(member("rpatel"))
    w.hasher.counts.clear()
    names = ["jdoe", "rpatel", *(f"user{n:03d}" for n in range(98))]
    outcomes = Counter(
        outcome(lambda name=name: w.service.login(name, WRONG, client_address="198.51.100.7"))
        for name in names
    )
    assert outcomes == {"invalid_credentials": 10, "too_many_attempts": 90}
    assert w.hasher.counts["verify"] == 10
    for name in ("jdoe", "rpatel"):
        status = w.service.lockout_status(name)
        assert not status.is_locked
        assert status.failures == 1


def test_the_spray_from_a_second_address_gets_its_own_budget() -> None:
    """The limit is per address: a second address is admitted while the first is refused."""
    w = world()
    for n in range(10):
        outcome(lambda n=n: w.service.login(f"user{n}", WRONG, client_address="198.51.100.7"))
    first = outcome(lambda: w.service.login("other", WRONG, client_address="198.51.100.7"))
    second = outcome(lambda: w.service.login("other", WRONG, client_address="198.51.100.8"))
    assert (first, second) == ("too_many_attempts", "invalid_credentials")


# -- refused before any work, one event, typed ---------------------------------------------


def test_a_refused_login_costs_no_hash_and_no_account_lookup() -> None:
    """Over the failure limit, even the right password is not checked and nothing is counted."""
    w = world()
    w.service.register(practitioner())
    w.service.activate(w.mailer.last_token())
    for n in range(10):
        outcome(lambda n=n: w.service.login(f"user{n}", WRONG, client_address="192.0.2.1"))
    w.hasher.counts.clear()
    with pytest.raises(TooManyAttempts) as refused:
        w.service.login("jdoe", PASSWORD, client_address="192.0.2.1")
    assert w.hasher.counts == {}
    assert w.service.lockout_status("jdoe").failures == 0
    assert refused.value.limit == "login_failure"
    assert PER_MINUTE < refused.value.retry_after <= 2 * PER_MINUTE  # sliding: weighs the last


def test_a_refusal_emits_one_event_that_names_the_limit() -> None:
    """The refused attempt's event has outcome too_many_attempts and says which limit."""
    w = world(limits=RateLimits(registration=RateLimit(limit=1, period=PER_MINUTE)))
    w.service.register(practitioner(), client_address="192.0.2.1")
    before = len(w.events.events)
    with pytest.raises(TooManyAttempts):
        w.service.register(member(), client_address="192.0.2.1")
    (event,) = w.events.events[before:]
    assert (event.action, event.outcome) == (Action.REGISTER, "too_many_attempts")
    assert dict(event.detail)["limit"] == "registration"
    assert 0 < int(dict(event.detail)["retry_after"]) <= 120


def test_the_message_says_how_long_to_wait() -> None:
    """TooManyAttempts' default message states the wait, rounded up to a unit."""
    error = TooManyAttempts("login", timedelta(seconds=42))
    assert error.message == "Too many attempts. Please wait 42 seconds and try again."
    assert (error.code, error.limit) == ("too_many_attempts", "login")


@pytest.mark.parametrize(
    "address",
    ["", "localhost", "1.2.3", "1.2.3.4.5", "::g", "1.2.3.4 ", "１.２.３.４", "1.2.3.4/24"],
)
def test_a_client_address_that_is_no_ip_address_is_refused_and_changes_nothing(
    address: str,
) -> None:
    """Bad addresses: InvalidInput on the client_address field; no counter, no lookup, no hash."""
    w = world()
    calls: list[Callable[[], object]] = [
        lambda: w.service.register(practitioner(), client_address=address),
        lambda: w.service.login("jdoe", WRONG, client_address=address),
        lambda: w.service.request_password_reset("jdoe", client_address=address),
        lambda: w.service.resend_activation("jdoe", client_address=address),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.fields == {"client_address"}
    assert w.lockouts.states() == {}
    assert list(w.accounts) == []
    assert (w.directory.lookups, w.hasher.counts["verify"]) == (0, 0)


def test_no_client_address_means_no_per_address_limit_but_the_key_limits_hold() -> None:
    """Without an address, logins are limited per account only and registrations per provider."""
    w = world()
    for _ in range(20):
        outcome(lambda: w.service.login("nobody", WRONG))
    assert outcome(lambda: w.service.login("nobody", WRONG)) == "account_locked"
    for _ in range(10):
        outcome(lambda: w.service.register(practitioner(zip_code="45000")))
    assert outcome(lambda: w.service.register(practitioner())) == "too_many_attempts"


# -- client addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_client_addresses_are_counted_per_network(address: str, key: str) -> None:
    """IPv4 per address, IPv6 per /64, mapped IPv4 as IPv4, a zone index ignored."""
    assert client_key(address) == key


def test_the_prefixes_are_configurable() -> None:
    """ipv6_prefix=48 and ipv4_prefix=24 count wider networks."""
    assert client_key("2001:db8:1:2::1", ipv6_prefix=48) == "2001:db8:1::/48"
    assert client_key("192.0.2.77", ipv4_prefix=24) == "192.0.2.0/24"


def test_every_address_of_one_ipv6_64_shares_one_budget() -> None:
    """Rotating the last 64 bits of an IPv6 address does not escape the limit."""
    w = world()
    outcomes = [
        outcome(lambda n=n: w.service.login("nobody", WRONG, client_address=f"2001:db8:7:7::{n:x}"))
        for n in range(1, 13)
    ]
    assert (
        outcomes == ["invalid_credentials"] * 4 + ["account_locked"] * 6 + ["too_many_attempts"] * 2
    )


# -- silent flows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "action", "limit"),
    [
        ("request_password_reset", Action.REQUEST_PASSWORD_RESET, "password_reset"),
        ("resend_activation", Action.RESEND_ACTIVATION, "resend_activation"),
    ],
)
def test_the_forgot_password_family_is_silent_when_limited(
    flow: str, action: Action, limit: str
) -> None:
    """Over the limit: the same None answer, no lookup, no mail; the event says rate_limited."""
    kind = RateLimit(limit=2, period=PER_MINUTE)
    w = world(limits=RateLimits(**{limit: kind}))
    w.service.register(practitioner())
    w.mailer.clear()
    call = getattr(w.service, flow)
    answers = [call(f"nobody{n}", client_address="192.0.2.5") for n in range(2)]
    before = len(w.events.events)
    answers.append(call("jdoe", client_address="192.0.2.5"))
    assert answers == [None, None, None]
    assert w.mailer.messages == []
    (event,) = w.events.events[before:]
    assert (event.action, event.outcome, dict(event.detail)["limit"]) == (
        action,
        "rate_limited",
        limit,
    )


# -- windows -------------------------------------------------------------------------------


def limiter(window: Window, limit: int = 3, period: timedelta = PER_MINUTE) -> Limiter:
    """A limiter with only the login limit on, over a fresh memory store."""
    limits = attrs.evolve(
        RateLimits.off(), login=RateLimit(limit=limit, period=period, window=window)
    )
    return Limiter(store=MemoryLockoutStore(), limits=limits, clock=ManualClock())


steps = st.lists(st.integers(min_value=0, max_value=90), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(window=st.sampled_from(Window), gaps=steps, limit=st.integers(1, 5))
def test_no_window_of_time_admits_more_than_the_limit_twice_over(
    window: Window, gaps: list[int], limit: int
) -> None:
    """Admitted attempts: at most ``limit`` per fixed minute; never 2 x limit in any 60 s."""
    lim = limiter(window, limit)
    clock = lim.clock
    assert isinstance(clock, ManualClock)
    admitted: list[float] = []
    for gap in gaps:
        clock.advance(timedelta(seconds=gap))
        if lim.hit(LimitKind.LOGIN, "192.0.2.1").admitted:
            admitted.append(clock.now().timestamp())
    per_minute = Counter(int(moment // 60) for moment in admitted)
    assert max(per_minute.values(), default=0) <= limit
    for start in admitted:
        assert sum(start <= other < start + 60 for other in admitted) <= 2 * limit - (
            1 if window is Window.SLIDING and limit > 1 else 0
        )


@settings(max_examples=150, deadline=None)
@given(window=st.sampled_from(Window), gaps=steps, limit=st.integers(1, 5))
def test_waiting_retry_after_is_enough(window: Window, gaps: list[int], limit: int) -> None:
    """After a refusal, an attempt made retry_after later (nobody trying meanwhile) is admitted."""
    lim = limiter(window, limit)
    clock = lim.clock
    assert isinstance(clock, ManualClock)
    for gap in gaps:
        clock.advance(timedelta(seconds=gap))
        decision = lim.hit(LimitKind.LOGIN, "192.0.2.1")
        if not decision.admitted:
            assert timedelta(0) < decision.retry_after <= 2 * PER_MINUTE
            clock.advance(decision.retry_after)
            assert lim.peek(LimitKind.LOGIN, "192.0.2.1").admitted
            clock.advance(-decision.retry_after)


def test_a_fixed_window_starts_again_at_the_next_period() -> None:
    """Fixed: three in the minute, the fourth refused, the next minute three again."""
    lim = limiter(Window.FIXED)
    assert isinstance(lim.clock, ManualClock)
    first = [lim.hit(LimitKind.LOGIN, "a").admitted for _ in range(4)]
    lim.clock.advance(PER_MINUTE)
    second = [lim.hit(LimitKind.LOGIN, "a").admitted for _ in range(4)]
    assert first == second == [True, True, True, False]


def test_a_sliding_window_remembers_the_previous_period() -> None:
    """Sliding: just after a full minute the last minute's attempts still weigh."""
    lim = limiter(Window.SLIDING)
    assert isinstance(lim.clock, ManualClock)
    assert [lim.hit(LimitKind.LOGIN, "a").admitted for _ in range(3)] == [True] * 3
    lim.clock.advance(PER_MINUTE)
    assert not lim.hit(LimitKind.LOGIN, "a").admitted
    lim.clock.advance(2 * PER_MINUTE)
    assert lim.hit(LimitKind.LOGIN, "a").admitted


def test_peek_counts_nothing() -> None:
    """A thousand peeks leave the budget whole."""
    lim = limiter(Window.SLIDING)
    for _ in range(1000):
        lim.peek(LimitKind.LOGIN, "a")
    assert [lim.hit(LimitKind.LOGIN, "a").admitted for _ in range(4)] == [True] * 3 + [False]


def test_clear_forgets_the_current_and_previous_windows() -> None:
    """After clear, the whole budget is back."""
    lim = limiter(Window.SLIDING)
    for _ in range(3):
        lim.hit(LimitKind.LOGIN, "a")
    lim.clear(LimitKind.LOGIN, "a")
    assert lim.hit(LimitKind.LOGIN, "a").admitted


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: RateLimit(limit=0, period=PER_MINUTE),
        lambda: RateLimit(limit=5, period=timedelta(milliseconds=10)),
        lambda: RateLimit(limit=5, period=PER_MINUTE, human_check_after=5),
        lambda: RateLimit(limit=5, period=PER_MINUTE, window="sliding"),
        lambda: RateLimits(login=5),
        lambda: RateLimits(ipv6_prefix=129),
        lambda: Limiter(
            store=MemoryLockoutStore(),
            limits=RateLimits(login=RateLimit(limit=5, period=PER_MINUTE, human_check_after=2)),
        ),
    ],
)
def test_unsafe_limits_refuse_to_construct(build: Callable[[], object]) -> None:
    """Zero limits, sub-second periods, a check after the limit, a check with no port: refused."""
    with pytest.raises(ConfigurationError):
        build()


def test_off_turns_every_limit_off() -> None:
    """RateLimits.off(): no limit at all; 100 wrong logins from one address meet only the lock."""
    assert all(RateLimits.off().of(kind) is None for kind in LimitKind)
    w = world(limits=RateLimits.off())
    outcomes = {
        outcome(lambda: w.service.login("nobody", WRONG, client_address="192.0.2.1"))
        for _ in range(100)
    }
    assert outcomes == {"invalid_credentials", "account_locked"}


# -- the human check -----------------------------------------------------------------------


def checked_world(human: FakeHumanCheck) -> World:
    """Registration per address: a human check after 2 attempts, at most 20 a minute."""
    limits = RateLimits(
        registration=RateLimit(limit=20, period=PER_MINUTE, human_check_after=2),
    )
    return world(limits=limits, human_check=human)


def test_after_n_attempts_a_human_check_is_required_before_any_lookup() -> None:
    """The third registration from one address needs the check; without it no lookup runs."""
    human = FakeHumanCheck()
    w = checked_world(human)
    for _ in range(2):
        outcome(lambda: w.service.register(practitioner(zip_code="45000"), client_address="::1"))
    lookups = w.directory.lookups
    with pytest.raises(HumanCheckRequired) as required:
        w.service.register(practitioner(), client_address="::1")
    assert required.value.limit == "registration"
    assert w.directory.lookups == lookups
    assert human.calls == []


def test_a_passed_human_check_lets_the_attempt_through_once() -> None:
    """A genuine answer admits the attempt; the same answer again is refused by the provider."""
    human = FakeHumanCheck(passing={"token-1"})
    w = checked_world(human)
    for _ in range(2):
        outcome(lambda: w.service.register(practitioner(zip_code="45000"), client_address="::1"))
    result = w.service.register(practitioner(), client_address="::1", human_check="token-1")
    assert result.account.username == "jdoe"
    assert human.calls == [("token-1", "::1")]
    with pytest.raises(HumanCheckRequired):
        w.service.register(member(), client_address="::1", human_check="token-1")


def test_a_wrong_human_check_answer_is_refused_with_one_event() -> None:
    """A refused answer: HumanCheckRequired, and the event names the limit."""
    w = checked_world(FakeHumanCheck(passing=set()))
    for _ in range(2):
        outcome(lambda: w.service.register(practitioner(zip_code="45000"), client_address="::1"))
    before = len(w.events.events)
    with pytest.raises(HumanCheckRequired):
        w.service.register(practitioner(), client_address="::1", human_check="made-up")
    (event,) = w.events.events[before:]
    assert (event.outcome, dict(event.detail)["limit"]) == ("human_check_required", "registration")


def test_one_answer_serves_both_limits_of_one_registration() -> None:
    """Address and provider both past their thresholds: the single-use answer is asked once."""
    limits = RateLimits(
        registration=RateLimit(limit=20, period=PER_MINUTE, human_check_after=1),
        registration_provider=RateLimit(limit=20, period=PER_MINUTE, human_check_after=1),
    )
    human = FakeHumanCheck(passing={"once"})
    w = world(limits=limits, human_check=human)
    outcome(lambda: w.service.register(practitioner(zip_code="45000"), client_address="::1"))
    w.service.register(practitioner(), client_address="::1", human_check="once")
    assert human.calls == [("once", "::1")]


def test_login_failures_from_one_address_ask_for_the_human_check() -> None:
    """After 3 failures from an address, a login needs the check, even with the right password."""
    limits = RateLimits(login_failure=RateLimit(limit=10, period=PER_MINUTE, human_check_after=3))
    w = world(limits=limits, human_check=FakeHumanCheck(passing={"ok"}))
    w.service.register(practitioner())
    w.service.activate(w.mailer.last_token())
    for n in range(3):
        outcome(lambda n=n: w.service.login(f"user{n}", WRONG, client_address="192.0.2.1"))
    assert outcome(lambda: w.service.login("jdoe", PASSWORD, client_address="192.0.2.1")) == (
        "human_check_required"
    )
    result = w.service.login("jdoe", PASSWORD, client_address="192.0.2.1", human_check="ok")
    assert result.account.username == "jdoe"


# -- device tokens (OWASP device cookies) --------------------------------------------------


def device_world(**overrides: Any) -> World:
    """Device lockout on, per-address limits off (the lockout is what is tested)."""
    w = world(limits=RateLimits.off(), device_lockout=True, **overrides)
    w.service.register(practitioner())
    w.service.activate(w.mailer.last_token())
    return w


def test_device_tokens_are_off_by_default() -> None:
    """Without device_lockout a login hands out no device token, and the seed's lock is plain."""
    w = world()
    w.service.register(practitioner())
    w.service.activate(w.mailer.last_token())
    assert w.service.login("jdoe", PASSWORD).device_token is None


def test_a_stranger_cannot_lock_out_the_users_known_browser() -> None:
    """Five wrong passwords from elsewhere lock the account, but not the browser with a token."""
    w = device_world()
    token = w.service.login("jdoe", PASSWORD).device_token
    assert token is not None
    for _ in range(5):
        outcome(lambda: w.service.login("jdoe", WRONG))
    assert outcome(lambda: w.service.login("jdoe", PASSWORD)) == "account_locked"
    result = w.service.login("jdoe", PASSWORD, device_token=token)
    assert result.account.username == "jdoe"
    assert w.service.lockout_status("jdoe").is_locked


def test_failures_with_a_device_token_lock_that_token_only() -> None:
    """Five wrong passwords with the token lock the token; a fresh login elsewhere still works."""
    w = device_world()
    token = w.service.login("jdoe", PASSWORD).device_token
    outcomes = [
        outcome(lambda: w.service.login("jdoe", WRONG, device_token=token)) for _ in range(6)
    ]
    assert outcomes == ["invalid_credentials"] * 4 + ["account_locked"] * 2
    with pytest.raises(AccountLocked):
        w.service.login("jdoe", PASSWORD, device_token=token)
    assert w.service.login("jdoe", PASSWORD).account.username == "jdoe"


@pytest.mark.parametrize("which", ["other_account", "forged", "changed_password", "expired"])
def test_a_device_token_that_does_not_hold_counts_on_the_account(which: str) -> None:
    """Another account's, a forged, a pre-password-change or an expired token: the plain lock."""
    w = device_world()
    token = w.service.login("jdoe", PASSWORD).device_token
    assert token is not None
    if which == "other_account":
        w.service.register(member())
        w.service.activate(w.mailer.last_token())
        token = w.service.login("rpatel", PASSWORD).device_token
    elif which == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif which == "changed_password":
        account = w.accounts.find_by_username("jdoe")
        assert account is not None
        w.service.change_password(account.id, PASSWORD, "Green-Kestrel-2032")
    else:
        w.clock.advance(timedelta(days=31))
    for _ in range(5):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            w.service.login("jdoe", WRONG, device_token=token)
    assert w.service.lockout_status("jdoe").is_locked


def test_a_trusted_device_login_is_recorded_in_the_event() -> None:
    """The event of a login with a valid device token says device=trusted."""
    w = device_world()
    token = w.service.login("jdoe", PASSWORD).device_token
    before = len(w.events.events)
    w.service.login("jdoe", PASSWORD, device_token=token)
    (event,) = w.events.events[before:]
    assert dict(event.detail)["device"] == "trusted"
    assert token is not None
    assert token not in repr(event)


def test_the_device_token_never_appears_in_the_login_results_repr() -> None:
    """LoginResult keeps the token out of its repr, like every secret."""
    w = device_world()
    result = w.service.login("jdoe", PASSWORD)
    assert result.device_token is not None
    assert result.device_token not in repr(result)


def test_a_mismatched_registration_counts_once_per_attempt() -> None:
    """Each attempt reaching the matcher is counted once toward the provider's limit."""
    only = RateLimit(limit=3, period=timedelta(hours=1))
    w = world(limits=attrs.evolve(RateLimits.off(), registration_provider=only))
    with pytest.raises(DetailsMismatch):
        w.service.register(practitioner(zip_code="45000"))
    codes = [outcome(lambda: w.service.register(practitioner(zip_code="45000"))) for _ in range(3)]
    assert codes == ["details_mismatch"] * 2 + ["too_many_attempts"]
    assert w.directory.lookups == 3
    with pytest.raises(TooManyAttempts):
        w.service.register(practitioner())


def test_the_username_reminder_is_silent_when_limited() -> None:
    """Over the per-address limit: None as always, no mail, one rate_limited event."""
    w = world(limits=RateLimits(username_reminder=RateLimit(limit=1, period=PER_MINUTE)))
    w.service.register(practitioner())
    w.mailer.clear()
    assert w.service.request_username_reminder("nobody@example.org", client_address="::1") is None
    before = len(w.events.events)
    answer = w.service.request_username_reminder("jane.doe@example.org", client_address="::1")
    assert answer is None
    assert w.mailer.messages == []
    (event,) = w.events.events[before:]
    assert (event.outcome, dict(event.detail)["limit"]) == ("rate_limited", "username_reminder")


def test_a_one_step_registration_counts_toward_its_clients_limit() -> None:
    """One registration a minute per address: a second full request from it is refused."""
    only = RateLimit(limit=1, period=PER_MINUTE)
    w = world(limits=attrs.evolve(RateLimits.off(), registration=only))
    w.service.register(practitioner(), client_address="192.0.2.1")
    again = practitioner(username="jdoe2", email="jd2@example.org", provider_id="P2000002")
    assert outcome(lambda: w.service.register(again, client_address="192.0.2.1")) == (
        "too_many_attempts"
    )
    w.service.register(member(), client_address="192.0.2.2")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"provider_id": "P1000001"}, {"provider_id": "P2000002"}),
        ({"provider_id": None, "npi": "1234567893"}, {"provider_id": None, "npi": "1245319599"}),
    ],
    ids=["provider_id", "npi"],
)
def test_each_provider_identifier_has_its_own_registration_counter(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """One attempt per provider: a second provider's first attempt is still admitted."""
    only = RateLimit(limit=1, period=PER_MINUTE)
    w = world(limits=attrs.evolve(RateLimits.off(), registration_provider=only))
    assert outcome(lambda: w.service.register(practitioner(zip_code="45000", **first))) == (
        "details_mismatch"
    )
    assert outcome(lambda: w.service.register(practitioner(**first))) == "too_many_attempts"
    assert outcome(lambda: w.service.register(practitioner(zip_code="45000", **second))) != (
        "too_many_attempts"
    )


def test_the_account_step_counts_toward_its_clients_limit() -> None:
    """One registration a minute per address: a second account step from it is refused."""
    only = RateLimit(limit=1, period=PER_MINUTE)
    w = world(limits=attrs.evolve(RateLimits.off(), registration=only))
    steps = []
    for number, request in enumerate((practitioner(), member())):
        values = attrs.asdict(request, recurse=False)
        ticket = w.service.check_provider(
            ProviderRequest(
                provider_type=request.provider_type,
                name=request.name,
                tax_id=request.tax_id,
                zip_code=request.zip_code,
                provider_id=request.provider_id,
            ),
            client_address=f"198.51.100.{number + 1}",
        ).ticket
        fields = ("username", "password", "email", "security_question", "security_answer")
        steps.append(
            AccountRequest(
                ticket=ticket, agreement_confirmed=True, **{name: values[name] for name in fields}
            )
        )
    w.service.register(steps[0], client_address="192.0.2.1")
    assert outcome(lambda: w.service.register(steps[1], client_address="192.0.2.1")) == (
        "too_many_attempts"
    )
