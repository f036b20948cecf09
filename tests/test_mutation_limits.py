"""Abuse limits' configuration and keys: each refusal's words, each limit at its edge.

Written for mutation testing of limits.py: the sentences and limits are
written out here (not read from the module), and each documented bound is
tried on both sides.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provider_identity import (
    ConfigurationError,
    HumanCheckRequired,
    InvalidInput,
    Limiter,
    LimitKind,
    RateLimit,
    RateLimits,
    TooManyAttempts,
    Window,
)
from provider_identity.limits import client_key, provider_key
from provider_identity.testing import FakeHumanCheck, ManualClock, MemoryLockoutStore

MINUTE = timedelta(minutes=1)


def refusal(build: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        build(**kwargs)
    return str(caught.value)


def test_a_limit_admits_at_least_one_attempt() -> None:
    """limit=1 is the smallest; 0 is refused in words naming the setting."""
    assert RateLimit(limit=1, period=MINUTE).limit == 1
    assert refusal(RateLimit, limit=0, period=MINUTE) == (
        "RateLimit.limit must be an integer of at least 1."
    )


def test_a_period_lasts_at_least_one_second() -> None:
    """One second is accepted; a microsecond less is refused."""
    assert RateLimit(limit=1, period=timedelta(seconds=1)).period == timedelta(seconds=1)
    message = refusal(RateLimit, limit=1, period=timedelta(microseconds=999_999))
    assert message == "RateLimit.period must be a timedelta at least 0:00:01."


def test_the_human_check_comes_below_the_limit() -> None:
    """human_check_after may be 0 to limit - 1; at the limit it is refused in these words."""
    assert RateLimit(limit=5, period=MINUTE, human_check_after=4).human_check_after == 4
    assert RateLimit(limit=5, period=MINUTE, human_check_after=0).human_check_after == 0
    assert refusal(RateLimit, limit=5, period=MINUTE, human_check_after=5) == (
        "RateLimit.human_check_after must be below RateLimit.limit."
    )
    assert "RateLimit.human_check_after" in refusal(
        RateLimit, limit=5, period=MINUTE, human_check_after=-1
    )


@pytest.mark.parametrize(("field", "top"), [("ipv6_prefix", 128), ("ipv4_prefix", 32)])
def test_network_prefixes_run_from_1_to_the_address_length(field: str, top: int) -> None:
    """1 and the full length are accepted; 0 and one more are refused, naming the range."""
    for good in (1, top):
        assert getattr(RateLimits(**{field: good}), field) == good
    for bad in (0, top + 1):
        assert refusal(RateLimits, **{field: bad}) == (
            f"RateLimits.{field} must be an integer from 1 to {top}."
        )


def test_a_human_check_limit_without_a_human_check_is_refused_in_words() -> None:
    """The message names both settings involved."""
    limits = RateLimits(login=RateLimit(limit=5, period=MINUTE, human_check_after=2))
    assert refusal(Limiter, store=MemoryLockoutStore(), limits=limits) == (
        "RateLimits: human_check_after needs a HumanCheck (IdentityService.human_check)."
    )
    assert Limiter(store=MemoryLockoutStore(), limits=limits, human_check=FakeHumanCheck())


def test_every_flow_has_its_own_default_limit() -> None:
    """The defaults of docs/rules.md, per flow; off() turns every one off."""
    defaults = RateLimits()
    expected = {
        LimitKind.REGISTRATION: (20, MINUTE),
        LimitKind.REGISTRATION_PROVIDER: (10, timedelta(hours=1)),
        LimitKind.CHECK_PROVIDER: (20, MINUTE),
        LimitKind.LOGIN: (30, MINUTE),
        LimitKind.LOGIN_FAILURE: (10, MINUTE),
        LimitKind.PASSWORD_RESET: (20, MINUTE),
        LimitKind.RESEND_ACTIVATION: (20, MINUTE),
        LimitKind.USERNAME_REMINDER: (20, MINUTE),
    }
    for kind, (limit, period) in expected.items():
        rate = defaults.of(kind)
        assert rate is not None
        assert (rate.limit, rate.period) == (limit, period), kind
    assert (defaults.ipv6_prefix, defaults.ipv4_prefix) == (64, 32)
    assert all(RateLimits.off().of(kind) is None for kind in LimitKind)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_client_keys_by_default(address: str, key: str) -> None:
    """IPv4 by address, IPv6 by /64, a mapped address as its IPv4, a zone index dropped."""
    assert client_key(address) == key


def test_a_zone_index_is_dropped_even_for_a_whole_address() -> None:
    """With /128 the key is the bare address, without its %zone."""
    assert client_key("fe80::1%eth0", ipv6_prefix=128) == "fe80::1"


def test_client_keys_with_other_prefixes() -> None:
    """A /24 for IPv4 and a /48 for IPv6 key the network, not the address."""
    assert client_key("192.0.2.7", ipv4_prefix=24) == "192.0.2.0/24"
    assert client_key("2001:db8:1:2:3:4:5:6", ipv6_prefix=48) == "2001:db8:1::/48"


@pytest.mark.parametrize("address", ["", "1.2.3", "192.0.2.1%eth0", "１.２.３.４", "host", 7])
def test_what_is_not_an_ip_address_is_refused_in_words(address: Any) -> None:
    """Empty, short, zoned IPv4, full-width digits, a host name, a number: one refusal."""
    with pytest.raises(InvalidInput) as caught:
        client_key(address)
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "client_address",
        "invalid",
        "Client address is not an IP address.",
    )


def test_the_registration_key_names_what_the_request_gives() -> None:
    """A Provider ID wins over an NPI; each key says which it is."""
    assert provider_key("P1", "1234567893") == "id:P1"
    assert provider_key(None, "1234567893") == "npi:1234567893"


@pytest.mark.parametrize(("window", "wait"), [(Window.FIXED, "45"), (Window.SLIDING, "105")])
def test_a_refusal_says_which_limit_and_how_many_seconds_to_wait(window: Window, wait: str) -> None:
    """1 a minute, tried at 9:00:00 and again at 9:00:15 (whole minutes are windows).

    Fixed: the next window opens at 9:01, 45 s on. Sliding: the 9:00 attempt
    weighs on the next window until its end, 9:02, 105 s on.
    """
    clock = ManualClock()  # 9:00:00, the start of a minute
    limiter = Limiter(
        store=MemoryLockoutStore(),
        limits=RateLimits(login=RateLimit(limit=1, period=MINUTE, window=window)),
        clock=clock,
    )
    detail: dict[str, str] = {}
    limiter.check(LimitKind.LOGIN, "192.0.2.1", detail)
    assert detail == {}
    clock.advance(seconds=15)
    with pytest.raises(TooManyAttempts):
        limiter.check(LimitKind.LOGIN, "192.0.2.1", detail)
    assert detail == {"limit": "login", "retry_after": wait}


def sliding(limit: int = 3) -> tuple[Limiter, ManualClock]:
    clock = ManualClock()  # 9:00:00, the start of a minute
    limiter = Limiter(
        store=MemoryLockoutStore(),
        limits=RateLimits(login=RateLimit(limit=limit, period=MINUTE)),
        clock=clock,
    )
    return limiter, clock


SUBJECT = "192.0.2.1"


def hits(limiter: Limiter, n: int) -> None:
    for _ in range(n):
        assert limiter.hit(LimitKind.LOGIN, SUBJECT).admitted


def test_sliding_wait_from_a_full_window_runs_into_the_next() -> None:
    """2 a minute, both at 9:00:00; asked at 9:00:30.

    An attempt at 9:01:t finds 2 x (60 - t) / 60 carried, admitted once that
    is at most 1, at t = 30 s: 60 s after 9:00:30.
    """
    limiter, clock = sliding(limit=2)
    hits(limiter, 2)
    clock.advance(seconds=30)
    decision = limiter.peek(LimitKind.LOGIN, SUBJECT)
    assert (decision.admitted, decision.retry_after) == (False, timedelta(seconds=60))
    clock.advance(seconds=60)
    assert limiter.peek(LimitKind.LOGIN, SUBJECT).admitted
    clock.advance(microseconds=-1)
    assert not limiter.peek(LimitKind.LOGIN, SUBJECT).admitted


def test_sliding_wait_within_the_window_after_a_full_one() -> None:
    """2 at 9:00:00; asked at 9:01:15, when 1.5 are carried: admitted at 9:01:30, in 15 s."""
    limiter, clock = sliding(limit=2)
    hits(limiter, 2)
    clock.advance(seconds=75)
    decision = limiter.peek(LimitKind.LOGIN, SUBJECT)
    assert (decision.admitted, decision.count) == (False, 1.5)
    assert decision.retry_after == timedelta(seconds=15)


def test_sliding_wait_to_the_end_of_the_window_when_it_holds_the_room() -> None:
    """3 at 9:00:00, 2 more at 9:01:40 (1 carried then): the next waits for 9:02, 20 s."""
    limiter, clock = sliding()
    hits(limiter, 3)
    clock.advance(seconds=100)
    hits(limiter, 2)
    decision = limiter.peek(LimitKind.LOGIN, SUBJECT)
    assert (decision.admitted, decision.retry_after) == (False, timedelta(seconds=20))


def test_a_refused_wait_is_never_zero() -> None:
    """At the very end of a window the wait is one microsecond, not zero."""
    limiter, clock = sliding(limit=1)
    hits(limiter, 1)
    clock.advance(seconds=120, microseconds=-1)
    decision = limiter.peek(LimitKind.LOGIN, SUBJECT)
    assert (decision.admitted, decision.retry_after) == (False, timedelta(microseconds=1))


def test_peek_reads_the_subjects_own_count() -> None:
    """Full for one address: peek refuses it and admits another, counting nothing."""
    limiter, _ = sliding(limit=2)
    hits(limiter, 2)
    assert not limiter.peek(LimitKind.LOGIN, SUBJECT).admitted
    assert limiter.peek(LimitKind.LOGIN, "192.0.2.99").admitted
    assert not limiter.peek(LimitKind.LOGIN, SUBJECT).admitted


def test_clear_forgets_the_previous_window_too() -> None:
    """3 at 9:00:00 weigh on 9:01; cleared at 9:01:00, 3 more are admitted at once."""
    limiter, clock = sliding()
    hits(limiter, 3)
    clock.advance(seconds=60)
    assert not limiter.peek(LimitKind.LOGIN, SUBJECT).admitted
    limiter.clear(LimitKind.LOGIN, SUBJECT)
    hits(limiter, 3)


def test_clear_reaches_back_one_window_only() -> None:
    """Clearing at 9:02 forgets 9:01 and 9:02, so what 9:01 holds is gone, 9:00 never mattered."""
    limiter, clock = sliding()
    clock.advance(seconds=60)
    hits(limiter, 3)
    clock.advance(seconds=60)
    limiter.clear(LimitKind.LOGIN, SUBJECT)
    hits(limiter, 3)


def test_a_limiter_counts_clients_per_network_of_the_configured_prefixes() -> None:
    """Both prefixes of RateLimits reach the counted subject, not client_key's defaults."""
    limiter = Limiter(
        store=MemoryLockoutStore(),
        limits=RateLimits(ipv4_prefix=24, ipv6_prefix=48),
        clock=ManualClock(),
    )
    assert limiter.subject(LimitKind.LOGIN, "203.0.113.7") == "203.0.113.0/24"
    assert limiter.subject(LimitKind.LOGIN, "2001:db8:1:2::9") == "2001:db8:1::/48"


def human_checked_limiter() -> tuple[Limiter, FakeHumanCheck]:
    """A limiter whose login limit asks for a human check after 2 attempts."""
    human = FakeHumanCheck()
    limiter = Limiter(
        store=MemoryLockoutStore(),
        limits=RateLimits(login=RateLimit(limit=10, period=MINUTE, human_check_after=2)),
        clock=ManualClock(),
        human_check=human,
    )
    return limiter, human


def test_the_human_check_is_due_just_after_its_number_of_attempts() -> None:
    """human_check_after=2: attempts 1 and 2 need no answer, the 3rd does, in these words."""
    limiter, human = human_checked_limiter()
    for _ in range(2):
        limiter.check(LimitKind.LOGIN, "203.0.113.7", {})
    detail: dict[str, str] = {}
    with pytest.raises(HumanCheckRequired):
        limiter.check(LimitKind.LOGIN, "203.0.113.7", detail)
    assert detail == {"limit": "login"}
    assert human.calls == []


def test_a_peek_asks_about_the_attempt_that_would_come_next() -> None:
    """count=False after 1 attempt: the next would be the 2nd, no check; after 2, the 3rd is."""
    limiter, _ = human_checked_limiter()
    limiter.check(LimitKind.LOGIN, "203.0.113.7", {})
    limiter.check(LimitKind.LOGIN, "203.0.113.7", {}, count=False)
    limiter.check(LimitKind.LOGIN, "203.0.113.7", {})
    with pytest.raises(HumanCheckRequired):
        limiter.check(LimitKind.LOGIN, "203.0.113.7", {}, count=False)


def test_a_limit_that_is_off_admits_every_hit_and_counts_nothing() -> None:
    """hit() under a limit turned off: admitted, a count of 0."""
    limiter = Limiter(store=MemoryLockoutStore(), limits=RateLimits.off(), clock=ManualClock())
    decision = limiter.hit(LimitKind.LOGIN, "203.0.113.7")
    assert (decision.admitted, decision.count) == (True, 0)


def half_way_sliding(store: MemoryLockoutStore | None = None) -> tuple[Limiter, ManualClock]:
    """4 attempts a minute, sliding; 4 counted in the last minute, now half way into this one."""
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    limits = RateLimits(login=RateLimit(limit=4, period=MINUTE, window=Window.SLIDING))
    store = MemoryLockoutStore() if store is None else store  # an empty store is falsy
    limiter = Limiter(store=store, limits=limits, clock=clock)
    for _ in range(4):
        assert limiter.hit(LimitKind.LOGIN, "s").admitted
    clock.advance(90)  # the last minute's 4 weigh 2 now
    return limiter, clock


def test_a_sliding_count_adds_the_last_windows_weighted_attempts() -> None:
    """A peek and a hit report this window's attempts plus the last one's share: 0 + 2, 1 + 2."""
    limiter, _ = half_way_sliding()
    assert limiter.peek(LimitKind.LOGIN, "s").count == 2
    assert limiter.hit(LimitKind.LOGIN, "s").count == 3


class RacingStore(MemoryLockoutStore):
    """A lockout store where, once ``racing``, another attempt is counted just before each one."""

    racing = False

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> Any:
        """Count the parallel attempt first (when racing), then this one."""
        if self.racing:
            super().record_failure(key, now=now, max_failures=max_failures, lock_for=lock_for)
        return super().record_failure(key, now=now, max_failures=max_failures, lock_for=lock_for)


def test_an_attempt_that_a_parallel_one_beat_to_the_last_place_is_refused() -> None:
    """Limit 3, fixed: two attempts, then one whose count is overtaken: refused, found 3 counted."""
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, 15, tzinfo=UTC))
    store = RacingStore()
    limits = RateLimits(login=RateLimit(limit=3, period=MINUTE, window=Window.FIXED))
    limiter = Limiter(store=store, limits=limits, clock=clock)
    for _ in range(2):
        assert limiter.hit(LimitKind.LOGIN, "s").admitted
    store.racing = True
    decision = limiter.hit(LimitKind.LOGIN, "s")
    assert (decision.admitted, decision.count) == (False, 3)
    assert decision.retry_after == timedelta(seconds=45)


def test_a_sliding_attempt_overtaken_by_a_parallel_one_is_refused_with_the_share_added() -> None:
    """Sliding, 4 a minute, the last minute's 4 weighing 2: the 2nd attempt, raced, is refused."""
    store = RacingStore()
    limiter, _ = half_way_sliding(store)
    assert limiter.hit(LimitKind.LOGIN, "s").count == 3
    store.racing = True
    decision = limiter.hit(LimitKind.LOGIN, "s")
    assert (decision.admitted, decision.count) == (False, 4)
