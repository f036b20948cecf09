"""The outbox: requests only queue mail; a dispatcher delivers it at least once."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from provider_identity import ConfigurationError, IdentityService, MailDeliveryError
from provider_identity.adapters.outbox import (
    Dispatcher,
    DispatchReport,
    FileOutboxMailer,
    MemoryOutbox,
    OutboxMailer,
)
from provider_identity.testing import ManualClock, RecordingMailer, message_link
from tests.helpers import practitioner


class Relay:
    """A Mailer that fails with the queued SMTP codes, then accepts."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.accepted: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        if self.codes:
            raise MailDeliveryError(self.codes.pop(0))
        self.accepted.append(message)


class Unplugged:
    """A relay that must not be touched while a request runs."""

    def send(self, message: EmailMessage) -> None:
        raise AssertionError("a request waited on the relay")


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture
def queued(
    make_service: Callable[..., IdentityService], outbox: MemoryOutbox, clock: ManualClock
) -> IdentityService:
    return make_service(mailer=OutboxMailer(outbox, clock))


def dispatcher(
    outbox: MemoryOutbox, relay: object, clock: ManualClock, **options: object
) -> Dispatcher:
    return Dispatcher(outbox=outbox, mailer=relay, clock=clock, **options)  # type: ignore[arg-type]


def test_requests_only_queue_and_never_touch_the_relay(
    queued: IdentityService, outbox: MemoryOutbox
) -> None:
    """Service requests only queue mail (none for an unknown user); nothing is sent inline."""
    queued.register(practitioner())
    queued.request_password_reset("nobody")
    queued.request_password_reset("jdoe")
    assert outbox.pending() == 2  # activation and reset; nothing for the unknown user


def test_a_crash_between_saving_and_sending_loses_no_mail(
    queued: IdentityService, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    """A message claimed by a dispatcher that died is sent once its lease runs out."""
    queued.register(practitioner())  # the account and its activation mail are saved
    claimed = outbox.claim(now=clock.now(), limit=10, lease=timedelta(minutes=5))
    assert len(claimed) == 1  # ... and a dispatcher took it, then died before sending

    relay = Relay()
    assert dispatcher(outbox, relay, clock).run_once() == DispatchReport()  # still leased
    clock.advance(minutes=5)
    assert dispatcher(outbox, relay, clock).run_once() == DispatchReport(sent=1)

    assert [m["Subject"] for m in relay.accepted] == ["Activate Your Provider Portal Account"]
    queued.activate(message_link(relay.accepted[0]).rpartition("token=")[2])
    assert outbox.pending() == 1  # the Email Verification message, queued in turn


def test_temporary_failures_are_retried_later_with_back_off(
    outbox: MemoryOutbox, clock: ManualClock
) -> None:
    """A temporary relay failure is retried only after a wait that doubles each time."""
    OutboxMailer(outbox, clock).send(note())
    relay = Relay(451, 421)
    run = dispatcher(outbox, relay, clock, backoff=timedelta(minutes=1))
    assert run.run_once() == DispatchReport(retried=1)
    clock.advance(seconds=59)
    assert run.run_once() == DispatchReport()
    clock.advance(seconds=1)
    assert run.run_once() == DispatchReport(retried=1)
    clock.advance(minutes=2)  # the second wait is twice the first
    assert run.drain() == DispatchReport(sent=1)
    assert (len(relay.accepted), outbox.pending()) == (1, 0)


@pytest.mark.parametrize(("codes", "max_attempts"), [((550,), 8), ((451, 451, 451), 3)])
def test_permanent_failures_and_exhausted_retries_give_up(
    outbox: MemoryOutbox, clock: ManualClock, codes: tuple[int, ...], max_attempts: int
) -> None:
    """A permanent failure or the last allowed attempt ends retries; the message stays unsent."""
    OutboxMailer(outbox, clock).send(note())
    run = dispatcher(outbox, Relay(*codes), clock, max_attempts=max_attempts)
    for _ in codes:
        run.drain()
        clock.advance(hours=1)
    assert run.drain() == DispatchReport()
    assert outbox.pending() == 1  # kept, with its error, for an operator
    assert outbox.sent() == []


def test_a_message_is_marked_sent_only_after_the_relay_accepted_it(
    outbox: MemoryOutbox, clock: ManualClock
) -> None:
    """A send that blows up leaves the message unsent, and a later dispatch delivers it."""
    OutboxMailer(outbox, clock).send(note())
    with pytest.raises(AssertionError):
        dispatcher(outbox, Unplugged(), clock).run_once()
    assert outbox.sent() == []
    clock.advance(minutes=5)
    relay = RecordingMailer()
    assert dispatcher(outbox, relay, clock).drain() == DispatchReport(sent=1)
    assert [m["Subject"] for m in outbox.sent()] == ["Hello"]


def test_dispatcher_settings_are_validated(outbox: MemoryOutbox, clock: ManualClock) -> None:
    """A zero batch, lease or attempt limit is refused when the dispatcher is built."""
    for bad in ({"batch": 0}, {"lease": timedelta(0)}, {"max_attempts": 0}):
        with pytest.raises((ConfigurationError, ValueError)):
            dispatcher(outbox, Relay(), clock, **bad)


def test_file_outbox_writes_one_parseable_eml_file_per_message(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The file outbox writes each message as its own .eml file that parses back, in order."""
    mailer = FileOutboxMailer(tmp_path / "outbox", clock)
    mailer.send(note("First"))
    clock.advance(seconds=1)
    mailer.send(note("Second"))
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert [m["Subject"] for m in parsed] == ["First", "Second"]


def test_file_outbox_reads_its_messages_back_newest_first(
    tmp_path: Path, clock: ManualClock
) -> None:
    """messages(): every .eml file by name, newest first; an unwritten folder has none."""
    mailer = FileOutboxMailer(tmp_path / "outbox", clock)
    assert mailer.messages() == {}
    mailer.send(note("First"))
    clock.advance(seconds=1)
    mailer.send(note("Second"))
    messages = mailer.messages()
    assert [message["Subject"] for message in messages.values()] == ["Second", "First"]
    assert sorted(messages) == sorted(file.name for file in (tmp_path / "outbox").iterdir())


class Announcing(Relay):
    """A relay that says when it has accepted ``expected`` messages."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected, self.done = expected, threading.Event()

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        if len(self.accepted) == self.expected:
            self.done.set()


def test_watching_in_background_delivers_until_stopped(clock: ManualClock) -> None:
    """watch_in_background drains in its own daemon thread; setting stop ends the thread."""
    outbox, relay, stop = MemoryOutbox(), Announcing(expected=2), threading.Event()
    mailer = OutboxMailer(outbox, clock)
    mailer.send(note("First"))
    thread = dispatcher(outbox, relay, clock).watch_in_background(
        stop=stop, interval=timedelta(milliseconds=10)
    )
    assert thread.daemon
    mailer.send(note("Second"))  # queued while the worker watches
    assert relay.done.wait(timeout=10)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [message["Subject"] for message in relay.accepted] == ["First", "Second"]


def note(subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "webmaster <webmaster@provider-portal.example>"
    message["To"] = "jane.doe@example.org"
    message["Subject"] = subject
    message.set_content("Hello\n")
    return message
