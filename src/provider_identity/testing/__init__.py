"""Fakes for test suites: a manual clock, recording mailer and event sink, inline delivery, records.

Everything here is deterministic and does no I/O, so tests never sleep and
never reach the network.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from provider_identity.adapters.memory import (
    MemoryAccountRepository,
    MemoryEventLog,
    MemoryFactorStore,
    MemoryLockoutStore,
    MemoryProviderDirectory,
)
from provider_identity.clock import Clock, ensure_utc
from provider_identity.delivery import run_job
from provider_identity.errors import MailDeliveryError
from provider_identity.events import AuditEvent
from provider_identity.mfa._extras import need
from provider_identity.mfa.totp import TotpEnrolment
from provider_identity.passwords import TEST_ONLY_CHEAPEST, PasswordHasher
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
)

__all__ = [
    "FailingMailer",
    "FakeAuthenticator",
    "FakeHumanCheck",
    "InlineDelivery",
    "ManualClock",
    "MemoryAccountRepository",
    "MemoryEventLog",
    "MemoryFactorStore",
    "MemoryLockoutStore",
    "MemoryProviderDirectory",
    "RecordingEventSink",
    "RecordingMailer",
    "cheapest_hasher",
    "message_link",
    "message_text",
    "sample_records",
]

_LINK = re.compile(r"https?://\S+")


@attrs.define(eq=False)
class ManualClock:
    """A clock that moves only when told to. Starts at 2026-01-05 09:00 UTC by default."""

    current: datetime = attrs.field(
        factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC), converter=ensure_utc
    )

    def now(self) -> datetime:
        """The time set, in UTC."""
        return self.current

    def advance(self, delta: timedelta | float = 0, /, **units: float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds) or ``timedelta(**units)``."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        self.current += step + timedelta(**units)
        return self.current

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware)."""
        self.current = ensure_utc(moment)


@attrs.define(eq=False)
class FakeAuthenticator:
    """An authenticator app whose time is a (manual) clock: it shows the code of "now".

    Made from what the set-up page shows (the ``otpauth://`` URI, read with
    pyotp), so a test also proves that the URI works in an app. Needs the
    ``mfa`` extra.

    Attributes:
        uri: The enrolment's ``otpauth://`` URI.
        clock: The service's clock (a :class:`ManualClock` in tests).
    """

    uri: str = attrs.field(repr=False)
    clock: Clock

    @classmethod
    def from_enrolment(cls, enrolment: TotpEnrolment, clock: Clock) -> FakeAuthenticator:
        """The app that scanned ``enrolment``'s QR code."""
        return cls(uri=enrolment.uri, clock=clock)

    def code(self, *, steps: int = 0) -> str:
        """The code shown now, or ``steps`` time steps later (earlier if negative)."""
        totp = need("pyotp", "mfa").parse_uri(self.uri)
        step = int(self.clock.now().timestamp()) // totp.interval + steps
        code: str = totp.generate_otp(step)
        return code


def message_text(message: EmailMessage) -> str:
    """The plain-text part of a message built by :mod:`provider_identity.mail`."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None  # noqa: S101  # every message we build has one
    return str(part.get_content())


def message_link(message: EmailMessage) -> str:
    """The first link in the plain-text part."""
    match = _LINK.search(message_text(message))
    if match is None:
        raise LookupError("the message has no link")
    return match.group(0)


@attrs.define(eq=False)
class RecordingMailer:
    """A Mailer that keeps every message in ``messages``, in order."""

    messages: list[EmailMessage] = attrs.Factory(list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def send(self, message: EmailMessage) -> None:
        """Keep ``message``."""
        with self._lock:
            self.messages.append(message)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to ``address`` (case-insensitive), oldest first."""
        return [m for m in self.messages if str(m["To"]).casefold() == address.casefold()]

    def last(self, address: str | None = None, *, subject: str | None = None) -> EmailMessage:
        """The newest message, optionally to ``address`` and with ``subject``."""
        candidates: list[EmailMessage] = self.messages if address is None else self.to(address)
        for message in candidates[::-1]:  # reversed() would type it as Any
            if subject is None or str(message["Subject"]) == subject:
                return message
        raise LookupError("no such message")

    def last_link(self, address: str | None = None, *, subject: str | None = None) -> str:
        """The first link in the newest matching message (activation, reset or login)."""
        return message_link(self.last(address, subject=subject))

    def last_token(self, address: str | None = None, *, subject: str | None = None) -> str:
        """The token of the newest matching message's link.

        The ``token`` query value (``...?token=X&next=...``), or else the
        link's last path segment (``.../activate/X``).
        """
        parts = urlsplit(self.last_link(address, subject=subject))
        values = parse_qs(parts.query).get("token")
        return values[0] if values else unquote(parts.path.rstrip("/").rpartition("/")[2])

    def clear(self) -> None:
        """Forget every message."""
        self.messages.clear()


@attrs.define(eq=False)
class FailingMailer:
    """A Mailer whose relay is down: every send raises :class:`MailDeliveryError`."""

    smtp_code: int = 451
    attempts: int = 0

    def send(self, message: EmailMessage) -> None:
        """Count the attempt and fail."""
        self.attempts += 1
        raise MailDeliveryError(self.smtp_code)


@attrs.define(eq=False)
class InlineDelivery:
    """A DeliveryQueue that runs each job at once, so a test sees the mail right after the call.

    Like the background one, it logs a failing job by type and never raises
    it. ``submitted`` counts the jobs handed over.
    """

    submitted: int = 0

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` now."""
        self.submitted += 1
        run_job(job)


@attrs.define(eq=False)
class RecordingEventSink:
    """An EventSink that keeps every event in ``events``."""

    events: list[AuditEvent] = attrs.Factory(list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def emit(self, event: AuditEvent) -> None:
        """Keep ``event``."""
        with self._lock:
            self.events.append(event)

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(list(self.events))

    def outcomes(self) -> list[tuple[str, str]]:
        """``(action, outcome)`` pairs, oldest first: easy to compare in a test."""
        return [(event.action.value, event.outcome) for event in self.events]


@attrs.define(eq=False)
class FakeHumanCheck:
    """A HumanCheck that passes the answers in ``passing``, each once, and records every call.

    ``calls`` holds ``(response, client_address)`` tuples in order, so a test
    compares values. An answer passes once, as a real provider's token does.
    """

    passing: set[str] = attrs.field(factory=lambda: {"passed"})
    calls: list[tuple[str, str | None]] = attrs.field(factory=list)

    def verify(self, response: str, *, client_address: str | None) -> bool:
        """True the first time a ``passing`` answer is given."""
        self.calls.append((response, client_address))
        if response in self.passing:
            self.passing.discard(response)
            return True
        return False


def cheapest_hasher() -> PasswordHasher:
    """A PasswordHasher with the test-only cheapest parameters. Never use it in production."""
    return PasswordHasher(parameters=TEST_ONLY_CHEAPEST)


def sample_records() -> tuple[ProviderRecord, ...]:
    """A few realistic records: practitioners, a radiology group and its members, a hospital."""
    return (
        ProviderRecord(
            provider_id="P1000001",
            npi="1234567893",
            tax_id="31-1234567",
            name="Jane Q. Doe",
            zip_codes=("45402", "45409-1234"),
            category=ProviderCategory.PRIMARY_CARE,
            payee=Payee.INDIVIDUAL,
            lines_of_business=(LineOfBusiness.MEDICAID,),
        ),
        ProviderRecord(
            provider_id="G2000001",
            tax_id="31-7654321",
            name="Miami Valley Radiology Group",
            zip_codes=("45440",),
            category=ProviderCategory.RADIOLOGY,
            payee=Payee.GROUP,
            lines_of_business=(LineOfBusiness.MEDICAID, LineOfBusiness.MARKETPLACE),
        ),
        ProviderRecord(
            provider_id="P2000002",
            tax_id="31-7654321",
            name="Ravi Patel",
            zip_codes=("45440",),
            category=ProviderCategory.RADIOLOGY,
            payee=Payee.GROUP,
        ),
        ProviderRecord(
            provider_id="P2000003",
            tax_id="31-7654321",
            name="Ana Lopez",
            zip_codes=("45459",),
            category=ProviderCategory.RADIOLOGY,
            payee=Payee.GROUP,
        ),
        ProviderRecord(
            provider_id="G3000001",
            tax_id="31-5550000",
            name="Family Medicine Partners",
            zip_codes=("43215",),
            category=ProviderCategory.PRIMARY_CARE,
            payee=Payee.GROUP,
            lines_of_business=(LineOfBusiness.MARKETPLACE,),
        ),
        ProviderRecord(
            provider_id="H4000001",
            tax_id="31-9990000",
            name="Dayton General Hospital",
            zip_codes=("45409",),
            category=ProviderCategory.HOSPITAL,
            payee=Payee.GROUP,
        ),
    )
