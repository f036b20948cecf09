"""The abuse-limit counters behave alike on every LockoutStore adapter: memory, SQL, Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from provider_identity import Limiter, LimitKind, RateLimit, RateLimits, Window
from provider_identity.testing import ManualClock
from tests.adapters.builders import NOW

MINUTE = timedelta(minutes=1)


def limiter(store: Any, window: Window) -> tuple[Limiter, ManualClock]:
    """Only the login limit, 3 a minute, on ``store``, at a minute boundary."""
    clock = ManualClock(NOW.replace(second=0, microsecond=0))
    limits = attrs.evolve(RateLimits.off(), login=RateLimit(limit=3, period=MINUTE, window=window))
    return Limiter(store=store, limits=limits, clock=clock), clock


def admitted(lim: Limiter, count: int, subject: str = "192.0.2.1") -> list[bool]:
    """The verdicts of ``count`` hits on one subject."""
    return [lim.hit(LimitKind.LOGIN, subject).admitted for _ in range(count)]


@pytest.mark.parametrize("window", list(Window))
def test_admits_the_limit_then_refuses(lockout_store: Any, window: Window) -> None:
    """Three admitted, the fourth and fifth refused, another subject untouched."""
    lim, _ = limiter(lockout_store, window)
    assert admitted(lim, 5) == [True, True, True, False, False]
    assert admitted(lim, 1, "192.0.2.2") == [True]


def test_a_fixed_window_restarts_at_the_next_minute(lockout_store: Any) -> None:
    """Fixed: the next minute admits three again."""
    lim, clock = limiter(lockout_store, Window.FIXED)
    admitted(lim, 4)
    clock.advance(MINUTE)
    assert admitted(lim, 4) == [True, True, True, False]


def test_a_sliding_window_weighs_the_previous_minute(lockout_store: Any) -> None:
    """Sliding: half a minute on, half the previous count still weighs (1.5 of 3)."""
    lim, clock = limiter(lockout_store, Window.SLIDING)
    admitted(lim, 3)
    clock.advance(MINUTE * 1.5)
    assert admitted(lim, 2) == [True, False]
    clock.advance(MINUTE * 1.5)
    assert admitted(lim, 3) == [True, True, True]


def test_refused_attempts_are_not_counted(lockout_store: Any) -> None:
    """A hundred refused hits leave the stored count at the limit."""
    lim, _ = limiter(lockout_store, Window.FIXED)
    admitted(lim, 103)
    assert lim.peek(LimitKind.LOGIN, "192.0.2.1").count == 3


def test_clear_gives_the_budget_back(lockout_store: Any) -> None:
    """After clear, three more are admitted."""
    lim, _ = limiter(lockout_store, Window.SLIDING)
    admitted(lim, 3)
    lim.clear(LimitKind.LOGIN, "192.0.2.1")
    assert admitted(lim, 4) == [True, True, True, False]
