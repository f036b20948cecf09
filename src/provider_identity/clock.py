"""Time as an injected dependency: aware UTC datetimes only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import attrs

__all__ = ["Clock", "SystemClock", "ensure_utc"]


class Clock(Protocol):
    """Protocol: where every service reads the current time."""

    def now(self) -> datetime:
        """Return the current time as an aware datetime in UTC."""
        ...


@attrs.frozen
class SystemClock:
    """The real clock (``datetime.now(UTC)``)."""

    def now(self) -> datetime:
        """Return the current time as an aware datetime in UTC."""
        return datetime.now(UTC)


def ensure_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; refuse naive datetimes.

    Raises:
        ValueError: ``moment`` has no time zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (e.g. tzinfo=UTC)")
    return moment.astimezone(UTC)
