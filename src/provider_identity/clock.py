"""Time as an injected dependency: aware UTC datetimes only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import attrs

from provider_identity.errors import FieldError, InvalidInput

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
        InvalidInput: ``moment`` has no time zone (code ``naive_datetime``) or
            is not a datetime (``wrong_type``); a ``ValueError`` too.
    """
    if not isinstance(moment, datetime):
        raise InvalidInput(
            [FieldError(field="moment", code="wrong_type", message="A datetime is required.")],
            "not a datetime: pass an aware datetime (e.g. tzinfo=UTC)",
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            [FieldError(field="moment", code="naive_datetime", message=_NAIVE)], _NAIVE
        )
    return moment.astimezone(UTC)


_NAIVE = "naive datetime: pass an aware datetime (e.g. tzinfo=UTC)"
