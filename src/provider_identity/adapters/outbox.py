"""An outbox: requests only record mail; a dispatcher sends it later.

:class:`OutboxMailer` is the ``Mailer`` the service uses: ``send`` stores the
finished message and returns, so no request waits on SMTP, and a "forgot
password" costs the same whether or not a message was queued.
:class:`Dispatcher` drains the outbox through any other ``Mailer`` (usually
:class:`~provider_identity.adapters.smtp.SmtpMailer`), at least once: an entry
is marked sent only after the relay accepted it, and an entry claimed by a
dispatcher that then died becomes due again when its lease runs out.

:class:`FileOutboxMailer` writes one ``.eml`` file per message into a folder,
for local development.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import attrs

from provider_identity import _checks
from provider_identity.clock import Clock, SystemClock
from provider_identity.errors import ConfigurationError, MailDeliveryError
from provider_identity.ports import Mailer, OutboxEntry, OutboxStore

__all__ = [
    "DispatchReport",
    "Dispatcher",
    "FileOutboxMailer",
    "MemoryOutbox",
    "OutboxMailer",
]


_OUTBOX = _checks.implements("add", "claim", "mark_sent", "mark_failed")
_CLOCK = _checks.implements("now")


@attrs.frozen
class OutboxMailer:
    """A ``Mailer`` that records each message in an outbox instead of sending it."""

    outbox: OutboxStore = attrs.field(validator=_OUTBOX)
    clock: Clock = attrs.field(default=SystemClock(), validator=_CLOCK)

    def send(self, message: EmailMessage) -> None:
        """Queue ``message`` (as bytes) for the dispatcher."""
        self.outbox.add(message.as_bytes(), now=self.clock.now())


@attrs.define
class _Row:
    entry: OutboxEntry
    due_at: datetime | None  # None: given up
    sent_at: datetime | None = None
    error: str | None = None


class MemoryOutbox:
    """An :class:`~provider_identity.ports.OutboxStore` in a dictionary (tests, one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}

    def add(self, message: bytes, *, now: datetime) -> str:
        """Store a message, due at once; return its id."""
        entry = OutboxEntry(id=secrets.token_hex(16), message=message, created_at=now)
        with self._lock:
            self._rows[entry.id] = _Row(entry=entry, due_at=now)
        return entry.id

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxEntry]:
        """Lease up to ``limit`` due entries, oldest first, and count the attempt."""
        with self._lock:
            due = sorted(
                (row for row in self._rows.values() if _due(row, now)),
                key=lambda row: (row.entry.created_at, row.entry.id),
            )[:limit]
            for row in due:
                row.entry = attrs.evolve(row.entry, attempts=row.entry.attempts + 1)
                row.due_at = now + lease
            return [row.entry for row in due]

    def mark_sent(self, entry_id: str, *, now: datetime) -> None:
        """The relay accepted the entry: never send it again."""
        with self._lock:
            self._rows[entry_id].sent_at = now

    def mark_failed(self, entry_id: str, *, retry_at: datetime | None, error: str) -> None:
        """Sending failed: try again at ``retry_at``, or never (``None``)."""
        with self._lock:
            row = self._rows[entry_id]
            row.error = error
            row.due_at = retry_at

    def pending(self) -> int:
        """How many entries are not sent yet (given up ones included)."""
        with self._lock:
            return sum(row.sent_at is None for row in self._rows.values())

    def sent(self) -> list[EmailMessage]:
        """The messages sent so far, oldest first (for tests)."""
        with self._lock:
            rows = sorted(
                (row for row in self._rows.values() if row.sent_at is not None),
                key=lambda row: (row.entry.created_at, row.entry.id),
            )
        return [parse_message(row.entry.message) for row in rows]


def _due(row: _Row, now: datetime) -> bool:
    return row.sent_at is None and row.due_at is not None and row.due_at <= now


def parse_message(message: bytes) -> EmailMessage:
    """An outbox entry's bytes back as an ``EmailMessage``."""
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)  # noqa: S101  # guaranteed by policy.default
    return parsed


@attrs.frozen(kw_only=True)
class DispatchReport:
    """What one dispatcher run did."""

    sent: int = 0
    retried: int = 0
    given_up: int = 0

    def plus(self, other: DispatchReport) -> DispatchReport:
        """The totals of both reports."""
        return DispatchReport(
            sent=self.sent + other.sent,
            retried=self.retried + other.retried,
            given_up=self.given_up + other.given_up,
        )


@attrs.frozen(kw_only=True)
class Dispatcher:
    """Sends what an outbox holds through a ``Mailer``, at least once.

    A temporary failure (SMTP 4xx, relay unreachable) is retried after
    ``backoff``, doubled per attempt; a permanent one (5xx), or
    ``max_attempts`` failures, gives the entry up (it stays in the outbox,
    with its error code, for an operator to see).

    Attributes:
        outbox: Where messages wait.
        mailer: What sends them (e.g. ``SmtpMailer`` with its default of one
            try: the retries are the dispatcher's, on its own schedule).
        clock: Where "now" comes from.
        batch: Entries claimed per round.
        lease: How long a claimed entry is reserved for this dispatcher;
            after that another run may send it again (at least once).
        backoff: Wait before the first retry of an entry.
        max_attempts: Tries before an entry is given up.
    """

    outbox: OutboxStore = attrs.field(validator=_OUTBOX)
    mailer: Mailer = attrs.field(validator=_checks.implements("send"))
    clock: Clock = attrs.field(default=SystemClock(), validator=_CLOCK)
    batch: int = attrs.field(default=100, validator=_checks.integer(minimum=1))
    lease: timedelta = attrs.field(default=timedelta(minutes=5), validator=_checks.duration())
    backoff: timedelta = attrs.field(default=timedelta(minutes=1), validator=_checks.duration())
    max_attempts: int = attrs.field(default=8, validator=_checks.integer(minimum=1))

    def run_once(self) -> DispatchReport:
        """Claim one batch of due entries and send each."""
        sent = retried = given_up = 0
        now = self.clock.now()
        for entry in self.outbox.claim(now=now, limit=self.batch, lease=self.lease):
            try:
                self.mailer.send(parse_message(entry.message))
            except MailDeliveryError as err:
                retry_at = self._retry_at(entry, err)
                self.outbox.mark_failed(entry.id, retry_at=retry_at, error=err.code)
                retried += retry_at is not None
                given_up += retry_at is None
            else:
                self.outbox.mark_sent(entry.id, now=self.clock.now())
                sent += 1
        return DispatchReport(sent=sent, retried=retried, given_up=given_up)

    def drain(self) -> DispatchReport:
        """Run until a round finds nothing due; the totals of every round."""
        total = DispatchReport()
        while True:
            report = self.run_once()
            if report == DispatchReport():
                return total
            total = total.plus(report)

    def watch(
        self,
        *,
        interval: timedelta = timedelta(seconds=5),
        stop: threading.Event,
        on_round: Callable[[DispatchReport], None] | None = None,
    ) -> DispatchReport:
        """Keep draining: a :meth:`drain`, then a wait of ``interval``, until ``stop`` is set.

        ``stop`` is checked between entries' batches and ends the wait at once,
        so a SIGTERM handler that sets it stops the worker within one send.
        Several workers may watch one outbox: a claimed entry is leased to one
        of them (the SQL store skips rows another transaction holds).

        Returns:
            The totals of every round.
        """
        total = DispatchReport()
        while not stop.is_set():
            report = self.run_once()
            total = total.plus(report)
            if on_round is not None and report != DispatchReport():
                on_round(report)
            if report.sent + report.retried + report.given_up < self.batch:  # none left due
                stop.wait(interval.total_seconds())
        return total

    def watch_in_background(
        self, *, stop: threading.Event, interval: timedelta = timedelta(seconds=5)
    ) -> threading.Thread:
        """:meth:`watch` in a daemon thread of this process, started; set ``stop`` to end it.

        For an app that sends its own mail (a development server, a small
        single-process site); elsewhere run ``provider-identity send-mail
        --watch`` as its own process.
        """
        thread = threading.Thread(
            target=self.watch,
            kwargs={"interval": interval, "stop": stop},
            name="outbox-dispatcher",
            daemon=True,
        )
        thread.start()
        return thread

    def _retry_at(self, entry: OutboxEntry, err: MailDeliveryError) -> datetime | None:
        permanent = err.smtp_code is None or err.smtp_code >= 500
        if permanent or entry.attempts >= self.max_attempts:
            return None
        return self.clock.now() + self.backoff * (1 << max(entry.attempts - 1, 0))


def _folder(value: str | os.PathLike[str]) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ConfigurationError("FileOutboxMailer.folder must be a path (str or os.PathLike).")
    return Path(value)


@attrs.frozen
class FileOutboxMailer:
    """A ``Mailer`` that writes each message to ``folder`` as an ``.eml`` file (development).

    Files are named ``<UTC time>-<random>.eml`` so they sort by time, and are
    written to a temporary name first, so a reader never sees half a message.
    """

    folder: Path = attrs.field(converter=_folder)
    clock: Clock = attrs.field(default=SystemClock(), validator=_CLOCK)

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` as a new ``.eml`` file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{secrets.token_hex(4)}.eml"
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(message.as_bytes())
        os.replace(partial, self.folder / name)

    def messages(self) -> dict[str, EmailMessage]:
        """The messages written so far, by file name, newest first (a local mailbox page)."""
        files = sorted(self.folder.glob("*.eml"), reverse=True)
        return {file.name: parse_message(file.read_bytes()) for file in files}
