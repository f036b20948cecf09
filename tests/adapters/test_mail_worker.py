"""send-mail --watch: real worker processes on one PostgreSQL outbox, a real SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from provider_identity.adapters.outbox import Dispatcher, DispatchReport, MemoryOutbox
from provider_identity.adapters.sql import SqlOutboxStore
from provider_identity.testing import ManualClock, RecordingMailer
from tests.adapters.conftest import Target
from tests.test_smtp import free_port

MESSAGES = 30
WORKERS = 3


class CountingInbox:
    """Keeps each arriving message's Message-ID; ``full`` is set once ``expected`` arrived."""

    def __init__(self, expected: int) -> None:
        self.ids: list[str] = []
        self.expected = expected
        self.full = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = (envelope.original_content or b"").decode()
        self.ids += [line for line in content.splitlines() if line.startswith("Message-ID:")]
        if len(self.ids) >= self.expected:
            self.full.set()
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[CountingInbox, int]]:
    """An SMTP server on a free loopback port."""
    handler, port = CountingInbox(MESSAGES), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def note(number: int) -> bytes:
    """A small message with a Message-ID of its own."""
    message = EmailMessage()
    message["From"], message["To"] = "webmaster@example.org", "jane@example.org"
    message["Subject"], message["Message-ID"] = f"note {number}", f"<note-{number}@example.org>"
    message.set_content("hello")
    return message.as_bytes()


def worker(target: Target, port: int) -> subprocess.Popen[str]:
    """A ``send-mail --watch`` process on the test schema."""
    url = target.database.url
    if target.database.schema:
        separator = "&" if "?" in url else "?"
        url += f"{separator}options={quote(f'-csearch_path={target.database.schema}')}"
    command = [sys.executable, "-m", "provider_identity", "send-mail", "--watch"]
    command += ["--interval", "0.2", "--database", url, "--smtp-host", "127.0.0.1"]
    command += ["--smtp-port", str(port), "--smtp-security", "none"]
    return subprocess.Popen(  # noqa: S603  # our own command, no shell
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def test_several_workers_send_each_row_once_and_stop_on_sigterm(
    postgres: Target, inbox: tuple[CountingInbox, int]
) -> None:
    """Three watching workers deliver 30 queued messages once each; SIGTERM stops each cleanly."""
    handler, port = inbox
    outbox = SqlOutboxStore(postgres.engine)
    now = datetime.now(UTC)
    processes = [worker(postgres, port) for _ in range(WORKERS)]
    try:
        for process in processes:  # each has its SIGTERM handler once it says so
            assert process.stdout is not None
            assert process.stdout.readline().startswith("watching the outbox")
        for number in range(MESSAGES):
            outbox.add(note(number), now=now)
        assert handler.full.wait(timeout=60), f"{len(handler.ids)} of {MESSAGES} arrived"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert "stopped" in out.splitlines()
    assert len(handler.ids) == MESSAGES
    assert len(set(handler.ids)) == MESSAGES
    assert outbox.pending() == 0


def test_watch_drains_then_waits_and_stops_when_told() -> None:
    """watch() sends what is due each round and returns its totals once stop is set."""
    clock, mailer, outbox = ManualClock(), RecordingMailer(), MemoryOutbox()
    for number in range(3):
        outbox.add(note(number), now=clock.now())
    stop = threading.Event()
    rounds: list[DispatchReport] = []

    def after(report: DispatchReport) -> None:
        rounds.append(report)
        stop.set()

    dispatcher = Dispatcher(outbox=outbox, mailer=mailer, clock=clock, batch=2)
    total = dispatcher.watch(interval=timedelta(hours=1), stop=stop, on_round=after)
    assert rounds == [DispatchReport(sent=2)]
    assert total == DispatchReport(sent=2)
    assert outbox.pending() == 1


def test_watch_with_stop_already_set_sends_nothing() -> None:
    """A worker told to stop before it began claims nothing."""
    outbox = MemoryOutbox()
    outbox.add(note(1), now=ManualClock().now())
    stop = threading.Event()
    stop.set()
    Dispatcher(outbox=outbox, mailer=RecordingMailer()).watch(stop=stop)
    assert outbox.pending() == 1


class StopOnWait(threading.Event):
    """A stop event that, instead of waiting, notes after how many rounds and stops."""

    def __init__(self, rounds: list[DispatchReport]) -> None:
        super().__init__()
        self.rounds, self.waited_after = rounds, []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited_after.append(len(self.rounds))
        self.set()
        return True


def test_a_full_batch_is_followed_at_once_by_the_next_round() -> None:
    """After a round that filled its batch, watch() claims again; it waits after a short one."""
    clock, mailer, outbox = ManualClock(), RecordingMailer(), MemoryOutbox()
    for number in range(3):
        outbox.add(note(number), now=clock.now())
    rounds: list[DispatchReport] = []
    stop = StopOnWait(rounds)
    dispatcher = Dispatcher(outbox=outbox, mailer=mailer, clock=clock, batch=2)
    dispatcher.watch(interval=timedelta(hours=1), stop=stop, on_round=rounds.append)
    assert rounds == [DispatchReport(sent=2), DispatchReport(sent=1)]
    assert stop.waited_after == [2]
    assert outbox.pending() == 0
