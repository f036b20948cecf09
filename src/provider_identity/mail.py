"""The portal's messages, as stdlib ``EmailMessage`` objects with text and HTML parts.

Defaults reproduce the seed: "The activation email will come from a sender
titled webmaster and will have the subject Activate Your Provider Portal
Account"; "The reset password email will come from a sender titled webmaster
and will have the subject CareSource Provider Portal Password". Links come
from configured URL templates, never from a request's Host header.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from provider_identity.errors import ConfigurationError

__all__ = [
    "Branding",
    "activation_message",
    "email_verification_message",
    "password_changed_message",
    "password_reset_message",
]

_TOKEN = "{token}"


def _no_line_breaks(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"Branding.{attribute.name} must be non-blank text.")
    if any(char in value for char in "\r\n\0"):
        raise ConfigurationError(f"Branding.{attribute.name} may not contain CR, LF or NUL.")


def _url(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    _no_line_breaks(instance, attribute, value)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError(f"Branding.{attribute.name} must be an absolute http(s) URL.")


def _token_url(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    _url(instance, attribute, value)
    if value.count(_TOKEN) != 1:
        raise ConfigurationError(f"Branding.{attribute.name} must contain {_TOKEN} exactly once.")


def _text(default: str) -> Any:
    return attrs.field(default=default, validator=_no_line_breaks)


def _template(default: str) -> Any:
    return attrs.field(default=default, validator=[_no_line_breaks, _known_placeholders])


def _known_placeholders(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        value.format(organisation="", portal_name="")
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigurationError(
            f"Branding.{attribute.name} may use only {{organisation}} and {{portal_name}}."
        ) from err


@attrs.frozen(kw_only=True)
class Branding:
    """Who the mail is from, what it is called and where its links point.

    Subjects are templates in which ``{organisation}`` and ``{portal_name}``
    are filled in when a message is built, so the defaults reproduce the seed's
    wording for any organisation; set any of them to override.
    """

    organisation: str = _text("CareSource")
    portal_name: str = _text("Provider Portal")
    sender_name: str = _text("webmaster")
    sender_address: str = _text("webmaster@provider-portal.example")
    activation_url: str = attrs.field(
        default="https://provider-portal.example/activate?token={token}", validator=_token_url
    )
    reset_url: str = attrs.field(
        default="https://provider-portal.example/reset-password?token={token}", validator=_token_url
    )
    login_url: str = attrs.field(default="https://provider-portal.example/login", validator=_url)
    activation_subject: str = _template("Activate Your {portal_name} Account")
    verification_subject: str = _template("Email Verification")
    reset_subject: str = _template("{organisation} {portal_name} Password")
    password_changed_subject: str = _template("Your {portal_name} Password Was Changed")

    @property
    def sender(self) -> str:
        """The From header: ``webmaster <address>``."""
        return formataddr((self.sender_name, self.sender_address))

    def subject(self, template: str) -> str:
        """A subject template with ``{organisation}`` and ``{portal_name}`` filled in."""
        return template.format(organisation=self.organisation, portal_name=self.portal_name)

    def link(self, template: str, token: str) -> str:
        """A link built from a configured template, the token URL-quoted."""
        return template.replace(_TOKEN, quote(token, safe=""))


def _message(
    branding: Branding,
    *,
    to: str,
    subject: str,
    now: datetime,
    paragraphs: tuple[str, ...],
    link: tuple[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = branding.sender
    message["To"] = to
    message["Subject"] = branding.subject(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=branding.sender_address.rpartition("@")[2])
    text = list(paragraphs)
    markup = [f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs]
    if link is not None:
        label, url = link
        text.append(f"{label}: {url}")
        markup.append(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>')
    text.append(f"-- {branding.sender_name}, {branding.organisation} {branding.portal_name}")
    message.set_content("\n\n".join(text) + "\n")
    message.add_alternative(
        "<!DOCTYPE html>\n<html><body>\n" + "\n".join(markup) + "\n</body></html>\n", subtype="html"
    )
    return message


def activation_message(
    branding: Branding, *, to: str, username: str, token: str, now: datetime
) -> EmailMessage:
    """The activation email, with its Activate Account link."""
    return _message(
        branding,
        to=to,
        subject=branding.activation_subject,
        now=now,
        paragraphs=(
            f"Hello {username},",
            f"Thank you for registering for the {branding.organisation} {branding.portal_name}. "
            "Click Activate Account to activate your user account.",
        ),
        link=("Activate Account", branding.link(branding.activation_url, token)),
    )


def email_verification_message(
    branding: Branding, *, to: str, username: str, now: datetime
) -> EmailMessage:
    """The Email Verification message sent once the account is active, with a Login link."""
    return _message(
        branding,
        to=to,
        subject=branding.verification_subject,
        now=now,
        paragraphs=(
            f"Hello {username},",
            f"Your email address is verified and your {branding.portal_name} account is active. "
            "Click Login to access the Provider Portal.",
        ),
        link=("Login", branding.login_url),
    )


def password_reset_message(
    branding: Branding, *, to: str, username: str, token: str, now: datetime
) -> EmailMessage:
    """The reset password email, with its reset link."""
    return _message(
        branding,
        to=to,
        subject=branding.reset_subject,
        now=now,
        paragraphs=(
            f"Hello {username},",
            f"We received a request to reset your {branding.portal_name} password. "
            "If you did not ask for it, ignore this message; your password stays as it is.",
        ),
        link=("Reset Password", branding.link(branding.reset_url, token)),
    )


def password_changed_message(
    branding: Branding, *, to: str, username: str, now: datetime
) -> EmailMessage:
    """The notice that the password was changed (after a reset or a change)."""
    return _message(
        branding,
        to=to,
        subject=branding.password_changed_subject,
        now=now,
        paragraphs=(
            f"Hello {username},",
            f"The password of your {branding.portal_name} account was just changed. "
            "If this was not you, use the Forgot password? link on the login page at once "
            "and call the help line.",
        ),
        link=("Login", branding.login_url),
    )
