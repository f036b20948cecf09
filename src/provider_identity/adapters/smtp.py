"""Mail through an SMTP relay, on the standard library's ``smtplib``.

One connection per message: simple, no state shared between threads or
requests, and a broken connection can never hold a later message hostage. For
volume, put an outbox in front (:mod:`provider_identity.adapters.outbox`) and
let one dispatcher send.

TLS is verified against the system's certificate authorities and requires
TLS 1.2 or newer, the seed's browser requirement applied to mail.
"""

from __future__ import annotations

import contextlib
import enum
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import attrs

from provider_identity import _checks
from provider_identity.errors import MailDeliveryError

__all__ = ["SmtpMailer", "SmtpSecurity", "UnsafeHeader", "check_headers", "tls_context"]

#: Headers whose values are checked for CR/LF before anything is sent.
_CHECKED_HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Sender")


class SmtpSecurity(enum.Enum):
    """How the connection to the relay is protected."""

    STARTTLS = "starttls"
    """Plain connect, then STARTTLS before anything else (port 587)."""
    TLS = "tls"
    """TLS from the first byte (port 465)."""
    NONE = "none"
    """No TLS at all: only for a relay on loopback or a test server."""


class UnsafeHeader(MailDeliveryError):
    """A header of the message holds CR or LF (header injection); nothing was sent."""

    code = "unsafe_header"
    default_message = "The message has a header with a line break; it was not sent."


def tls_context() -> ssl.SSLContext:
    """Certificate and host name verification on, TLS 1.2 the minimum."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def check_headers(message: EmailMessage) -> None:
    """Raise :class:`UnsafeHeader` if an address or subject header holds CR or LF."""
    # The values as stored: reading them through the policy would unfold them.
    for name, value in message.raw_items():
        if name.title() in _CHECKED_HEADERS and any(char in str(value) for char in "\r\n"):
            raise UnsafeHeader


def _sleep(delay: timedelta) -> None:
    time.sleep(delay.total_seconds())


@attrs.frozen(kw_only=True)
class SmtpMailer:
    """A :class:`~provider_identity.ports.Mailer` that hands messages to an SMTP relay.

    One try by default: a mailer used directly runs inside the request, and a
    stalled relay must cost that request one ``timeout``, not a series of
    retries and sleeps. Behind the outbox, the
    :class:`~provider_identity.adapters.outbox.Dispatcher` retries on its own
    schedule. With ``retries`` set, temporary failures (a 4xx reply, a refused
    or dropped connection, a timeout) are retried that many times, waiting
    ``backoff``, then twice that, and so on; permanent ones (5xx, a TLS
    failure) never are. Once the relay has answered 250 to the end of DATA
    the message is sent, whatever it answers to QUIT. What is raised is a
    :class:`MailDeliveryError` carrying the SMTP code, never the message, its
    recipients or its link (the relay's reply is not chained either).

    Attributes:
        host: The relay's host name.
        port: 587 for STARTTLS, 465 for TLS.
        security: STARTTLS (default), TLS, or NONE (loopback and tests only).
        username: Login name, if the relay wants one.
        password: Its password (never in ``repr``).
        timeout: Seconds for connecting and for each reply (5 by default,
            short enough for a request; behind a ``Dispatcher`` a longer one,
            such as 30, means fewer duplicates from a slow relay).
        retries: Further tries after a temporary failure (none by default;
            leave it at 0 behind a ``Dispatcher``).
        backoff: Wait before the first retry; doubled after each.
        ssl_context: Builds the TLS context (:func:`tls_context` by default);
            trust a private CA here, never switch verification off.
        sleep: Waits between retries (``time.sleep`` by default; inject a
            fake in tests).
    """

    host: str = attrs.field(validator=_checks.text())
    port: int = attrs.field(default=587, validator=_checks.integer(minimum=1, maximum=65535))
    security: SmtpSecurity = attrs.field(
        default=SmtpSecurity.STARTTLS, validator=_checks.instance_of(SmtpSecurity)
    )
    username: str | None = attrs.field(default=None, validator=_checks.optional(_checks.text()))
    password: str | None = attrs.field(
        default=None, repr=False, validator=_checks.optional(_checks.text(blank=True))
    )
    timeout: float = attrs.field(default=5.0, validator=_checks.number(above=0))
    retries: int = attrs.field(default=0, validator=_checks.integer(minimum=0))
    backoff: timedelta = attrs.field(
        default=timedelta(seconds=1), validator=_checks.duration(inclusive=True)
    )
    ssl_context: Callable[[], ssl.SSLContext] = attrs.field(
        default=tls_context, validator=_checks.callable_()
    )
    sleep: Callable[[timedelta], None] = attrs.field(default=_sleep, validator=_checks.callable_())

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``, retrying temporary failures if ``retries`` says so.

        Raises:
            UnsafeHeader: a header holds CR or LF; nothing was sent.
            MailDeliveryError: the relay refused the message, or could not be
                reached (on every try).
        """
        check_headers(message)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                self._send_once(message)
            except MailDeliveryError as err:
                if not _temporary(err.smtp_code) or attempt == self.retries:
                    raise
            else:
                return
            self.sleep(delay)
            delay *= 2

    def _send_once(self, message: EmailMessage) -> None:
        try:
            smtp = self._connect()
            try:
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
            finally:
                _quit(smtp)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            refused = _failure(max(codes, default=None), "The relay refused every recipient.")
        except smtplib.SMTPResponseException as err:
            refused = _failure(err.smtp_code, "The relay refused the message.")
        except ssl.SSLError as err:
            raise _failure(None, "The TLS handshake with the relay failed.") from err
        except (smtplib.SMTPException, OSError) as err:  # refused, dropped, timed out
            raise _failure(421, "The relay could not be reached.") from err
        else:
            return
        # Raised outside the except block, so neither chained: the relay's
        # reply may quote the message, its recipients or its link.
        raise refused

    def _connect(self) -> smtplib.SMTP:
        if self.security is SmtpSecurity.TLS:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context()
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security is SmtpSecurity.STARTTLS:
            try:
                smtp.starttls(context=self.ssl_context())
            except BaseException:
                smtp.close()
                raise
        return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye and close, whatever the relay answers.

    After the relay's 250 to the end of DATA the message is its own: an error
    answering QUIT (or a dropped connection) must not make it a failure, which
    would send it again.
    """
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()


def _temporary(code: int | None) -> bool:
    return code is not None and 400 <= code < 500


def _failure(code: int | None, message: str) -> MailDeliveryError:
    # TLS failures pass no code: they are permanent until someone fixes the setup.
    text = message if code is None else f"{message} (SMTP {code})"
    return MailDeliveryError(code, text)
