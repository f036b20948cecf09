"""SmtpMailer against a real SMTP server on loopback (aiosmtpd), plain, STARTTLS and TLS."""

from __future__ import annotations

import contextlib
import email
import email.policy
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from provider_identity import IdentityService, MailDeliveryError
from provider_identity.adapters.outbox import Dispatcher, DispatchReport, MemoryOutbox, OutboxMailer
from provider_identity.adapters.smtp import SmtpMailer, SmtpSecurity, UnsafeHeader
from provider_identity.testing import ManualClock, message_link
from tests.helpers import PASSWORD, practitioner


class Inbox:
    """An aiosmtpd handler keeping what arrives; can answer with a canned failure."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.replies: list[str] = []  # consumed one per DATA, before accepting
        self.quit_reply = "221 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.quit_reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[Callable[..., tuple[Inbox, int]]]:
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Inbox, int]:
        inbox, port = Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


def server_tls(ca: trustme.CA, *, legacy: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if legacy:  # TLS 1.0 and 1.1 only, as an old relay would offer
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    return context


def trusting(ca: trustme.CA) -> Callable[[], ssl.SSLContext]:
    def context() -> ssl.SSLContext:
        from provider_identity.adapters.smtp import tls_context

        client = tls_context()
        ca.configure_trust(client)
        return client

    return context


def mailer(port: int, **options: Any) -> SmtpMailer:
    options.setdefault("security", SmtpSecurity.NONE)
    options.setdefault("sleep", lambda delay: None)  # tests never sleep
    return SmtpMailer(host="127.0.0.1", port=port, timeout=5, **options)


def note(subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "webmaster <webmaster@provider-portal.example>"
    message["To"] = "jane.doe@example.org"
    message["Subject"] = subject
    message.set_content("secret link https://provider-portal.example/reset?token=abc\n")
    return message


def test_the_seed_messages_arrive_parse_and_their_links_work(
    server: Callable[..., tuple[Inbox, int]], make_service: Callable[..., IdentityService]
) -> None:
    """Every seed message arrives over SMTP as text plus HTML, and its links work."""
    inbox, port = server()
    service = make_service(mailer=mailer(port))

    service.register(practitioner())
    activation = inbox.messages[-1]
    service.activate(message_link(activation).rpartition("token=")[2])
    verification = inbox.messages[-1]
    service.request_password_reset("jdoe")
    reset = inbox.messages[-1]
    service.reset_password(message_link(reset).rpartition("token=")[2], PASSWORD + "x")

    assert [m["Subject"] for m in inbox.messages] == [
        "Activate Your Provider Portal Account",
        "Email Verification",
        "CareSource Provider Portal Password",
        "Your Provider Portal Password Was Changed",
    ]
    for message in (activation, verification, reset):
        assert message["From"].addresses[0].display_name == "webmaster"
        assert message["Date"] is not None
        assert message["Message-ID"] is not None
        kinds = [part.get_content_type() for part in message.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
    assert "Activate Account" in activation.get_body(("html",)).get_content()
    assert "Login" in verification.get_body(("plain",)).get_content()


def test_starttls_with_a_trusted_certificate(
    server: Callable[..., tuple[Inbox, int]], ca: trustme.CA
) -> None:
    """STARTTLS to a relay with a trusted certificate delivers the message."""
    inbox, port = server(tls_context=server_tls(ca), require_starttls=True)
    mailer(port, security=SmtpSecurity.STARTTLS, ssl_context=trusting(ca)).send(note())
    assert [m["Subject"] for m in inbox.messages] == ["Hello"]


def test_implicit_tls(server: Callable[..., tuple[Inbox, int]], ca: trustme.CA) -> None:
    """Implicit TLS to a relay with a trusted certificate delivers the message."""
    inbox, port = server(server_hostname="127.0.0.1", ssl_context=server_tls(ca))
    mailer(port, security=SmtpSecurity.TLS, ssl_context=trusting(ca)).send(note())
    assert len(inbox.messages) == 1


def test_an_untrusted_certificate_is_refused_and_not_retried(
    server: Callable[..., tuple[Inbox, int]], ca: trustme.CA
) -> None:
    """An untrusted certificate fails at once: nothing is delivered and nothing retried."""
    inbox, port = server(tls_context=server_tls(ca), require_starttls=True)
    waits: list[timedelta] = []
    with pytest.raises(MailDeliveryError) as caught:
        mailer(port, security=SmtpSecurity.STARTTLS, sleep=waits.append).send(note())
    assert caught.value.smtp_code is None
    assert (inbox.messages, waits) == ([], [])


def test_a_server_offering_only_tls_1_0_or_1_1_is_refused(
    server: Callable[..., tuple[Inbox, int]], ca: trustme.CA
) -> None:
    """A relay that only speaks TLS 1.0 or 1.1 gets no message."""
    inbox, port = server(tls_context=server_tls(ca, legacy=True), require_starttls=True)
    with pytest.raises(MailDeliveryError):
        mailer(port, security=SmtpSecurity.STARTTLS, ssl_context=trusting(ca)).send(note())
    assert inbox.messages == []
    # Control: the server does speak TLS 1.1 to a client that allows it.
    permissive = trusting(ca)()
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        try:
            smtp.starttls(context=permissive)
        except ssl.SSLError:
            pytest.skip("this OpenSSL cannot speak TLS 1.1 at all; the refusal proves less")
        assert smtp.sock is not None
        assert smtp.sock.version() in ("TLSv1", "TLSv1.1")


def test_temporary_failures_are_retried_with_back_off(
    server: Callable[..., tuple[Inbox, int]],
) -> None:
    """Temporary SMTP replies are retried after waits that double, then the message is sent."""
    inbox, port = server()
    inbox.replies = ["451 Try again later", "421 Busy"]
    waits: list[timedelta] = []
    mailer(port, retries=2, backoff=timedelta(seconds=3), sleep=waits.append).send(note())
    assert waits == [timedelta(seconds=3), timedelta(seconds=6)]
    assert len(inbox.messages) == 1


def test_permanent_failures_are_not_retried_and_say_only_the_code(
    server: Callable[..., tuple[Inbox, int]],
) -> None:
    """A permanent SMTP reply is not retried; the error keeps its code but none of the message."""
    inbox, port = server()
    inbox.replies = ["554 Rejected: contains https://provider-portal.example/reset?token=abc"]
    waits: list[timedelta] = []
    with pytest.raises(MailDeliveryError) as caught:
        mailer(port, sleep=waits.append).send(note())
    assert caught.value.smtp_code == 554
    assert "token" not in linked(caught.value)  # the relay's reply is not chained either
    assert "jane" not in linked(caught.value)
    assert waits == []


def linked(err: BaseException) -> str:
    """The text of ``err`` and of every exception chained to it, shown in tracebacks or not."""
    texts: list[str] = []
    current: BaseException | None = err
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


@pytest.mark.parametrize("reply", ["421 Closing", "554 Go away"])
def test_an_error_answering_quit_after_the_message_was_accepted_is_no_failure(
    server: Callable[..., tuple[Inbox, int]], reply: str
) -> None:
    """Once the relay said 250 to the message it is sent: a bad QUIT reply sends no second copy."""
    inbox, port = server()
    inbox.quit_reply = reply
    waits: list[timedelta] = []
    mailer(port, retries=2, sleep=waits.append).send(note())
    assert (len(inbox.messages), waits) == (1, [])


def test_the_dispatcher_sends_one_copy_when_the_relay_fails_quit(
    server: Callable[..., tuple[Inbox, int]], clock: ManualClock
) -> None:
    """Behind the outbox too, a message the relay accepted is marked sent, not sent again."""
    inbox, port = server()
    inbox.quit_reply = "421 Closing"
    outbox = MemoryOutbox()
    OutboxMailer(outbox, clock).send(note())
    run = Dispatcher(outbox=outbox, mailer=mailer(port), clock=clock)
    reports = []
    for _ in range(3):
        reports.append(run.drain())
        clock.advance(hours=1)
    assert reports == [DispatchReport(sent=1), DispatchReport(), DispatchReport()]
    assert (len(inbox.messages), outbox.pending()) == (1, 0)


def test_by_default_a_stalled_relay_costs_one_timeout_and_no_retry() -> None:
    """Used directly, the mailer does not retry or sleep inside a request unless told to."""
    waits: list[timedelta] = []
    with socket.socket() as tarpit:  # accepts connections, never greets
        tarpit.bind(("127.0.0.1", 0))
        tarpit.listen(8)
        stalled = SmtpMailer(
            host="127.0.0.1",
            port=tarpit.getsockname()[1],
            security=SmtpSecurity.NONE,
            timeout=0.2,
            sleep=waits.append,
        )
        with pytest.raises(MailDeliveryError):
            stalled.send(note())
        tarpit.setblocking(False)
        connections = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                tarpit.accept()[0].close()
                connections += 1
    assert (connections, waits) == (1, [])


def test_the_defaults_bound_a_request_on_a_stalled_relay_to_ten_seconds() -> None:
    """One stalled reply per try, with every default: the request waits at most 10 s in all."""
    defaults = SmtpMailer(host="relay.example")
    waits = sum((defaults.backoff * 2**n for n in range(defaults.retries)), timedelta())
    worst = timedelta(seconds=defaults.timeout) * (defaults.retries + 1) + waits
    assert worst <= timedelta(seconds=10)


def test_an_unreachable_relay_is_retried_then_reported() -> None:
    """An unreachable relay is retried as told, then reported as a 421 failure."""
    waits: list[timedelta] = []
    with pytest.raises(MailDeliveryError) as caught:
        mailer(free_port(), retries=1, sleep=waits.append).send(note())
    assert caught.value.smtp_code == 421
    assert len(waits) == 1


@pytest.mark.parametrize("header", ["Subject", "To", "From"])
def test_a_header_with_a_line_break_sends_nothing(
    server: Callable[..., tuple[Inbox, int]], header: str
) -> None:
    """A header carrying a line break is refused and nothing reaches the relay."""
    inbox, port = server()
    message = note()
    # EmailMessage refuses CR/LF on assignment; a message parsed or built
    # elsewhere may still carry one, so the mailer checks again.
    message._headers = [
        (name, value + "\r\nBcc: victim@example.org" if name == header else value)
        for name, value in message._headers
    ]
    with pytest.raises(UnsafeHeader):
        mailer(port).send(message)
    assert inbox.messages == []


def test_the_password_never_shows_in_repr() -> None:
    """The relay password never appears in the mailer's repr."""
    assert "hunter2-secret" not in repr(
        SmtpMailer(host="relay.example", username="portal", password="hunter2-secret")
    )


def test_login_with_the_relays_credentials(server: Callable[..., tuple[Inbox, int]]) -> None:
    """The mailer logs in to the relay with its configured username and password."""
    seen: list[tuple[str, str]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"relay-secret")

    inbox, port = server(authenticator=authenticator, auth_require_tls=False)
    mailer(port, username="portal", password="relay-secret").send(note())
    assert seen == [("portal", "relay-secret")]
    assert len(inbox.messages) == 1
