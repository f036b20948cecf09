"""The lockout store in ``identity_lockouts``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._schema import UtcDateTime, _lockouts
from provider_identity.clock import ensure_utc
from provider_identity.ports import LockoutState

__all__ = ["SqlLockoutStore"]


class SqlLockoutStore(_Store):
    """Failure counters in ``identity_lockouts``, one row per key.

    :meth:`record_failure` is a single ``INSERT .. ON CONFLICT DO UPDATE ..
    RETURNING`` whose ``CASE`` expressions are :meth:`LockoutState.after_failure`,
    so concurrent failures are counted one by one and never lost.
    """

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`).

        Raises:
            ValueError: ``now`` is naive.
        """
        now = ensure_utc(now)
        fresh = LockoutState(failures=0).after_failure(
            now, max_failures=max_failures, lock_for=lock_for
        )
        upsert = self._insert(_lockouts).values(
            key=key,
            failures=fresh.failures,
            locked_until=fresh.locked_until,
            expires_at=fresh.expires_at,
        )
        statement = upsert.on_conflict_do_update(
            index_elements=[_lockouts.c.key],
            set_=_after_failure(
                now=now, until=now + lock_for, max_failures=max_failures, fresh=fresh
            ),
        ).returning(_lockouts.c.failures, _lockouts.c.locked_until, _lockouts.c.expires_at)
        with self._writing() as conn:
            row = conn.execute(statement).one()
        return LockoutState(row.failures, row.locked_until, row.expires_at)

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (expired ones included until purged)."""
        query = sa.select(
            _lockouts.c.failures, _lockouts.c.locked_until, _lockouts.c.expires_at
        ).where(_lockouts.c.key == key)
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else LockoutState(row.failures, row.locked_until, row.expires_at)

    def clear(self, key: str) -> None:
        """Forget ``key``'s count and lock (unlock)."""
        with self._writing() as conn:
            conn.execute(sa.delete(_lockouts).where(_lockouts.c.key == key))

    def purge(self, now: datetime) -> int:
        """Forget every expired state and return how many (run it now and then)."""
        ends = sa.func.coalesce(_lockouts.c.expires_at, _lockouts.c.locked_until)
        moment = sa.literal(now, UtcDateTime())
        with self._writing() as conn:
            return conn.execute(sa.delete(_lockouts).where(ends <= moment)).rowcount


def _after_failure(
    *, now: datetime, until: datetime, max_failures: int, fresh: LockoutState
) -> dict[str, sa.ColumnElement[Any]]:
    """The SET clause: :meth:`LockoutState.after_failure` over the stored row, in SQL.

    An expired row takes ``fresh`` (the state after one failure from
    nothing); any other counts one more and keeps its lock, or locks at
    ``until`` (``now + lock_for``) on reaching ``max_failures``. Every
    expression reads the row as it was before the update, as SQL does.
    """
    row = _lockouts.c
    ends = sa.func.coalesce(row.expires_at, row.locked_until)
    expired = sa.and_(ends.is_not(None), ends <= sa.literal(now, UtcDateTime()))
    until_ = sa.literal(until, UtcDateTime())
    counted = row.failures + 1
    locked = sa.case(
        (expired, sa.literal(fresh.locked_until, UtcDateTime())),
        else_=sa.func.coalesce(
            row.locked_until,
            sa.case((counted >= sa.literal(max_failures, sa.Integer()), until_)),
        ),
    )
    return {
        "failures": sa.case((expired, fresh.failures), else_=counted),
        "locked_until": locked,
        "expires_at": sa.func.coalesce(locked, until_),
    }
