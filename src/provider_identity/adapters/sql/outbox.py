"""The outbox store in ``identity_outbox``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._schema import UtcDateTime, _outbox
from provider_identity.clock import ensure_utc
from provider_identity.ports import OutboxEntry

__all__ = ["SqlOutboxStore"]


def _new_entry_id() -> str:
    return secrets.token_hex(16)


class SqlOutboxStore(_Store):
    """A durable outbox in ``identity_outbox`` (an :class:`~provider_identity.ports.OutboxStore`).

    ``claim`` is one ``UPDATE .. WHERE id IN (SELECT .. FOR UPDATE SKIP
    LOCKED) RETURNING`` on PostgreSQL (an immediate write transaction on
    SQLite), so two dispatchers never claim the same entry within a lease.
    """

    def __init__(
        self, bind: Engine | Connection, *, new_id: Callable[[], str] = _new_entry_id
    ) -> None:
        super().__init__(bind)
        self._new_id = new_id

    def add(self, message: bytes, *, now: datetime) -> str:
        """Store a message, due at once; return its id."""
        now = ensure_utc(now)
        entry_id = self._new_id()
        row = {"id": entry_id, "message": message, "created_at": now, "attempts": 0, "due_at": now}
        with self._writing() as conn:
            conn.execute(sa.insert(_outbox).values(row))
        return entry_id

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxEntry]:
        """Lease up to ``limit`` due entries, oldest first, and count the attempt."""
        now_ = sa.literal(ensure_utc(now), UtcDateTime())
        due = (
            sa.select(_outbox.c.id)
            .where(_outbox.c.sent_at.is_(None), _outbox.c.due_at <= now_)
            .order_by(_outbox.c.created_at, _outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            sa.update(_outbox)
            .where(_outbox.c.id.in_(due.scalar_subquery()))
            .values(attempts=_outbox.c.attempts + 1, due_at=sa.literal(now + lease, UtcDateTime()))
            .returning(_outbox.c.id, _outbox.c.message, _outbox.c.created_at, _outbox.c.attempts)
        )
        with self._writing() as conn:
            rows = conn.execute(statement).all()
        entries = [
            OutboxEntry(
                id=row.id, message=row.message, created_at=row.created_at, attempts=row.attempts
            )
            for row in rows
        ]
        return sorted(entries, key=lambda entry: (entry.created_at, entry.id))

    def mark_sent(self, entry_id: str, *, now: datetime) -> None:
        """The relay accepted the entry: never send it again."""
        self._update(entry_id, sent_at=ensure_utc(now))

    def mark_failed(self, entry_id: str, *, retry_at: datetime | None, error: str) -> None:
        """Sending failed: due again at ``retry_at``, or never (``None``)."""
        self._update(
            entry_id, due_at=None if retry_at is None else ensure_utc(retry_at), error=error
        )

    def pending(self) -> int:
        """How many entries are not sent yet (given up ones included)."""
        query = sa.select(sa.func.count()).select_from(_outbox).where(_outbox.c.sent_at.is_(None))
        with self._reading() as conn:
            return int(conn.execute(query).scalar_one())

    def _update(self, entry_id: str, **values: object) -> None:
        with self._writing() as conn:
            conn.execute(sa.update(_outbox).where(_outbox.c.id == entry_id).values(values))
