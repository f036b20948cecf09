"""The persisted audit trail in ``identity_events``: an EventSink you can query."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import SQLAlchemyError

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._schema import UtcDateTime, _events
from provider_identity.clock import ensure_utc
from provider_identity.errors import StoreUnavailable
from provider_identity.events import (
    Action,
    AuditEvent,
    EventFilter,
    LoggingEventSink,
    stored_form,
)

__all__ = ["SqlEventSink"]

_log = logging.getLogger(__name__)


class SqlEventSink(_Store):
    """Audit events in ``identity_events`` (an EventSink and an EventLog).

    Each event is written in its :func:`~provider_identity.events.stored_form`
    (no full Tax ID, no hash). Bound to an engine, every event is its own
    transaction, so a refusal the request rolls back is still recorded. Bound
    to a caller's connection (a unit of work), it is written in that
    transaction and commits, or rolls back, with the change it describes.

    ``emit`` never raises: if the database refuses or does not answer, the
    event goes to ``fallback`` (a :class:`LoggingEventSink` at WARNING by
    default), so it is not lost and the request's own outcome stands.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        fallback: LoggingEventSink | None = None,
    ) -> None:
        super().__init__(bind)
        self._fallback = fallback or LoggingEventSink(level=logging.WARNING)

    def emit(self, event: AuditEvent) -> None:
        """Store ``event``; on a database failure, hand it to the fallback sink."""
        stored = stored_form(event)
        row = {
            "at": stored.at,
            "action": stored.action.value,
            "outcome": stored.outcome,
            "username": stored.username,
            "account_id": stored.account_id,
            "client_address": stored.client_address,
            "detail": [list(pair) for pair in stored.detail],
        }
        try:
            with self._writing() as conn:
                conn.execute(sa.insert(_events).values(row))
        except (StoreUnavailable, SQLAlchemyError) as err:
            _log.warning("audit event not stored: %s", type(err).__name__)
            self._fallback.emit(stored)

    def query(
        self,
        *,
        account_id: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[AuditEvent]:
        """The matching events, oldest first; with ``limit``, the newest ``limit`` of them.

        Raises:
            InvalidInput: a filter is of the wrong type, a datetime is naive, or
                ``limit`` is negative.
            StoreUnavailable: the database does not answer.
        """
        wanted = EventFilter.of(
            account_id=account_id, username=username, since=since, until=until, limit=limit
        )
        conditions: list[sa.ColumnElement[bool]] = []
        if wanted.account_id is not None:
            conditions.append(_events.c.account_id == wanted.account_id)
        if wanted.username is not None:
            conditions.append(_events.c.username == wanted.username)
        if wanted.since is not None:
            conditions.append(_events.c.at >= sa.literal(wanted.since, UtcDateTime()))
        if wanted.until is not None:
            conditions.append(_events.c.at < sa.literal(wanted.until, UtcDateTime()))
        query = sa.select(_events).where(*conditions)
        if wanted.limit is None:
            query = query.order_by(_events.c.at, _events.c.id)
        else:
            query = query.order_by(_events.c.at.desc(), _events.c.id.desc()).limit(wanted.limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        events = [_event_from_row(row) for row in rows]
        return tuple(events if wanted.limit is None else events[::-1])

    def purge(self, *, before: datetime) -> int:
        """Delete the events older than ``before`` (retention); return how many."""
        cutoff = sa.literal(ensure_utc(before), UtcDateTime())
        with self._writing() as conn:
            return int(conn.execute(sa.delete(_events).where(_events.c.at < cutoff)).rowcount)


def _event_from_row(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        action=Action(row.action),
        outcome=row.outcome,
        at=row.at,
        username=row.username,
        account_id=row.account_id,
        client_address=row.client_address,
        detail=tuple((str(key), str(value)) for key, value in row.detail),
    )
