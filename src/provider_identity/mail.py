"""The portal's messages, as stdlib ``EmailMessage`` objects with text and HTML parts.

Defaults reproduce the seed: "The activation email will come from a sender
titled webmaster and will have the subject Activate Your Provider Portal
Account"; "The reset password email will come from a sender titled webmaster
and will have the subject CareSource Provider Portal Password". Links come
from configured URL templates, never from a request's Host header.
"""

from __future__ import annotations

import html
import os
import string
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import attrs

from provider_identity.errors import ConfigurationError
from provider_identity.i18n import msg, translate
from provider_identity.ports import MessageKind, Renderer

__all__ = [
    "PLACEHOLDERS",
    "Branding",
    "MessageKind",
    "Renderer",
    "Templates",
    "account_locked_message",
    "activation_message",
    "email_change_message",
    "email_change_notice_message",
    "email_verification_message",
    "password_changed_message",
    "password_reset_message",
    "security_answer_changed_message",
    "username_reminder_message",
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
    _check_template(f"Branding.{attribute.name}", value)


def _check_template(name: str, text: str) -> None:
    template = string.Template(text)
    unknown = set(template.get_identifiers()) - PLACEHOLDERS
    if not template.is_valid() or unknown:
        raise ConfigurationError(
            f"{name}: placeholders must be among ${', $'.join(sorted(PLACEHOLDERS))}."
        )


#: What a template may use: ``$username``, ``$link``, the branding's names, and
#: ``$wait`` (the lock notice's "24 hours"; empty in the other messages).
PLACEHOLDERS: Final = frozenset(
    {"username", "link", "organisation", "portal_name", "sender_name", "wait"}
)

_SIGNATURE = "-- $sender_name, $organisation $portal_name"

_DEFAULT_TEXTS: Final = {
    MessageKind.ACTIVATION: (
        msg("Hello $username,"),
        msg(
            "Thank you for registering for the $organisation $portal_name. "
            "Click Activate Account to activate your user account."
        ),
        msg("Activate Account: $link"),
    ),
    MessageKind.VERIFICATION: (
        msg("Hello $username,"),
        msg(
            "Your email address is verified and your $portal_name account is active. "
            "Click Login to access the $portal_name."
        ),
        msg("Login: $link"),
    ),
    MessageKind.PASSWORD_RESET: (
        msg("Hello $username,"),
        msg(
            "We received a request to reset your $portal_name password. "
            "If you did not ask for it, ignore this message; your password stays as it is."
        ),
        msg("Reset Password: $link"),
    ),
    MessageKind.PASSWORD_CHANGED: (
        msg("Hello $username,"),
        msg(
            "The password of your $portal_name account was just changed. "
            "If this was not you, use the Forgot password? link on the login page at once "
            "and call the help line."
        ),
        msg("Login: $link"),
    ),
    MessageKind.EMAIL_CHANGE: (
        msg("Hello $username,"),
        msg(
            "You asked to use this address for your $portal_name account. "
            "Click Confirm Email Address to make the change; until then the old address stays."
        ),
        msg("Confirm Email Address: $link"),
    ),
    MessageKind.EMAIL_CHANGE_NOTICE: (
        msg("Hello $username,"),
        msg(
            "Someone asked to change the email address of your $portal_name account; "
            "a confirmation link went to the new address. If this was not you, change your "
            "password at once and call the help line."
        ),
        msg("Login: $link"),
    ),
    MessageKind.SECURITY_ANSWER_CHANGED: (
        msg("Hello $username,"),
        msg(
            "The security question and answer of your $portal_name account were just changed. "
            "If this was not you, change your password at once and call the help line."
        ),
        msg("Login: $link"),
    ),
    MessageKind.ACCOUNT_LOCKED: (
        msg("Hello $username,"),
        msg(
            "Your $portal_name account is locked due to too many incorrect login attempts. "
            "Use the Forgot password? link to reset your password, or wait $wait and attempt "
            "to log in again."
        ),
        msg("Login: $link"),
    ),
    MessageKind.USERNAME_REMINDER: (
        msg("Hello,"),
        msg(
            "You asked for the user name of your $organisation $portal_name account: $username. "
            "If you did not ask for it, ignore this message; your account stays as it is. "
            "If you do not remember your password either, use the Forgot password? link "
            "on the login page."
        ),
        msg("Login: $link"),
    ),
}


def _paragraphs(kind: MessageKind, locale: str | None) -> list[str]:
    return [translate(paragraph, locale) for paragraph in _DEFAULT_TEXTS[kind]]


def _default_text(kind: MessageKind, locale: str | None = "en") -> str:
    return "\n\n".join((*_paragraphs(kind, locale), _SIGNATURE)) + "\n"


def _default_html(kind: MessageKind, locale: str | None = "en") -> str:
    *paragraphs, link_line = _paragraphs(kind, locale)
    label = link_line.partition(":")[0]
    body = [f"<p>{paragraph}</p>" for paragraph in paragraphs]
    body.append(f'<p><a href="$link">{label}</a></p>')
    body.append(f"<p>{_SIGNATURE}</p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(body) + "\n</body></html>\n"


def _templates(
    instance: object, attribute: attrs.Attribute[Any], value: Mapping[MessageKind, str]
) -> None:
    for kind, text in value.items():
        _check_template(f"Templates.{attribute.name}[{kind.value}]", text)


def _merge(
    overrides: Mapping[MessageKind | str, str], default: Callable[[MessageKind], str]
) -> Mapping[MessageKind, str]:
    merged = {kind: default(kind) for kind in MessageKind}
    merged.update({MessageKind(kind): text for kind, text in overrides.items()})
    return MappingProxyType(merged)


def _text_bodies(overrides: Mapping[MessageKind | str, str]) -> Mapping[MessageKind, str]:
    return _merge(overrides, _default_text)


def _html_bodies(overrides: Mapping[MessageKind | str, str]) -> Mapping[MessageKind, str]:
    return _merge(overrides, _default_html)


@attrs.frozen
class Templates:
    """The bodies of the portal's messages, as :class:`string.Template` text.

    Each message has a plain-text and an HTML body. Placeholders are
    ``$username``, ``$link``, ``$organisation``, ``$portal_name`` and
    ``$sender_name``; in HTML every value is escaped before it is filled in.
    Give only the bodies you change; the others keep the default wording,
    which is translated (:mod:`provider_identity.i18n`); a body you give is
    yours and is used as it is, whatever the locale.

    Attributes:
        text: Plain-text body per message kind.
        html: HTML body per message kind.
    """

    text: Mapping[MessageKind, str] = attrs.field(
        factory=dict, converter=_text_bodies, validator=_templates
    )
    html: Mapping[MessageKind, str] = attrs.field(
        factory=dict, converter=_html_bodies, validator=_templates
    )

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> Templates:
        """Load ``<kind>.txt`` and ``<kind>.html`` (UTF-8) from a folder; absent ones stay default.

        Kinds: ``activation``, ``verification``, ``password_reset``, ``password_changed``,
        ``email_change``, ``email_change_notice``, ``security_answer_changed``, ``account_locked``,
        ``username_reminder``.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigurationError(f"template folder {folder.name!r} does not exist.")
        found: dict[str, dict[MessageKind | str, str]] = {"txt": {}, "html": {}}
        for kind in MessageKind:
            for suffix, bodies in found.items():
                file = folder / f"{kind.value}.{suffix}"
                if file.is_file():
                    bodies[kind] = file.read_text(encoding="utf-8")
        return cls(text=found["txt"], html=found["html"])

    def render(
        self, kind: MessageKind, values: Mapping[str, str], *, locale: str | None = None
    ) -> tuple[str, str]:
        """The text and HTML bodies of ``kind`` with ``values`` filled in.

        ``locale``: the language of the default bodies (``None``: the current locale).
        """
        text, markup = self.text[kind], self.html[kind]
        if text == _default_text(kind):
            text = _default_text(kind, locale)
        if markup == _default_html(kind):
            markup = _default_html(kind, locale)
        escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
        return (
            string.Template(text).substitute(values),
            string.Template(markup).substitute(escaped),
        )


def _renderer(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Templates) and not callable(value):
        raise ConfigurationError(f"Branding.{attribute.name} must be a Templates or a callable.")


@attrs.frozen(kw_only=True)
class Branding:
    """Who the mail is from, what it is called and where its links point.

    Subjects are :class:`string.Template` text in which ``$organisation`` and
    ``$portal_name`` (and the other :data:`PLACEHOLDERS`) are filled in when a
    message is built, so the defaults reproduce the seed's wording for any
    organisation; set any of them to override. ``templates`` renders the
    bodies: a :class:`Templates` (the default wording) or your own callable
    (which may call :func:`~provider_identity.i18n.current_locale` for the
    language). The default subjects are translated; a subject you set is used
    as it is.
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
    email_change_url: str = attrs.field(
        default="https://provider-portal.example/confirm-email?token={token}", validator=_token_url
    )
    login_url: str = attrs.field(default="https://provider-portal.example/login", validator=_url)
    activation_subject: str = _template(msg("Activate Your $portal_name Account"))
    verification_subject: str = _template(msg("Email Verification"))
    reset_subject: str = _template(msg("$organisation $portal_name Password"))
    password_changed_subject: str = _template(msg("Your $portal_name Password Was Changed"))
    email_change_subject: str = _template(msg("Confirm Your New $portal_name Email Address"))
    email_change_notice_subject: str = _template(msg("Your $portal_name Email Address Is Changing"))
    security_answer_changed_subject: str = _template(
        msg("Your $portal_name Security Question Was Changed")
    )
    account_locked_subject: str = _template(msg("Your $portal_name Account Is Locked"))
    username_reminder_subject: str = _template(msg("$organisation $portal_name User Name"))
    templates: Templates | Renderer = attrs.field(default=Templates(), validator=_renderer)

    @property
    def sender(self) -> str:
        """The From header: ``webmaster <address>``."""
        return formataddr((self.sender_name, self.sender_address))

    def subject(self, template: str, *, locale: str | None = None, **values: str) -> str:
        """A subject template, translated to ``locale``, with the branding's names filled in."""
        names = {"organisation": self.organisation, "portal_name": self.portal_name}
        names["sender_name"] = self.sender_name
        return string.Template(translate(template, locale)).safe_substitute(names | values)

    def render(
        self, kind: MessageKind, values: Mapping[str, str], *, locale: str | None = None
    ) -> tuple[str, str]:
        """The text and HTML bodies of a message, from ``templates``."""
        if isinstance(self.templates, Templates):
            return self.templates.render(kind, values, locale=locale)
        return self.templates(kind, values)

    def link(self, template: str, token: str) -> str:
        """A link built from a configured template, the token URL-quoted."""
        return template.replace(_TOKEN, quote(token, safe=""))

    @classmethod
    def at(cls, base_url: str, **fields: Any) -> Branding:
        """The default links' paths under ``base_url`` (``https://portal.example.org``).

        ``/activate``, ``/reset-password`` and ``/confirm-email`` (each with
        ``?token={token}``) and ``/login``; ``fields`` sets any other field.
        """
        base = base_url.rstrip("/")
        links = {
            "activation_url": f"{base}/activate?token={_TOKEN}",
            "reset_url": f"{base}/reset-password?token={_TOKEN}",
            "email_change_url": f"{base}/confirm-email?token={_TOKEN}",
            "login_url": f"{base}/login",
        }
        return cls(**(links | fields))


_SUBJECTS: Final = {
    MessageKind.ACTIVATION: "activation_subject",
    MessageKind.VERIFICATION: "verification_subject",
    MessageKind.PASSWORD_RESET: "reset_subject",
    MessageKind.PASSWORD_CHANGED: "password_changed_subject",
    MessageKind.EMAIL_CHANGE: "email_change_subject",
    MessageKind.EMAIL_CHANGE_NOTICE: "email_change_notice_subject",
    MessageKind.SECURITY_ANSWER_CHANGED: "security_answer_changed_subject",
    MessageKind.ACCOUNT_LOCKED: "account_locked_subject",
    MessageKind.USERNAME_REMINDER: "username_reminder_subject",
}


def _message(
    branding: Branding,
    kind: MessageKind,
    to: str,
    username: str,
    now: datetime,
    *,
    link: str | None = None,
    wait: str = "",
    locale: str | None = None,
) -> EmailMessage:
    """The message of ``kind``; ``link``: the login page unless given."""
    link = branding.login_url if link is None else link
    values = {
        "username": username,
        "link": link,
        "organisation": branding.organisation,
        "portal_name": branding.portal_name,
        "sender_name": branding.sender_name,
        "wait": translate(wait, locale),
    }
    text, markup = branding.render(kind, values, locale=locale)
    subject = branding.subject(getattr(branding, _SUBJECTS[kind]), locale=locale, **values)
    if any(char in subject for char in "\r\n"):
        raise ConfigurationError(f"the {kind.value} subject may not contain CR or LF.")
    message = EmailMessage()
    message["From"] = branding.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=branding.sender_address.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    return message


def activation_message(
    branding: Branding,
    *,
    to: str,
    username: str,
    token: str,
    now: datetime,
    locale: str | None = None,
) -> EmailMessage:
    """The activation email, with its Activate Account link."""
    link = branding.link(branding.activation_url, token)
    return _message(branding, MessageKind.ACTIVATION, to, username, now, link=link, locale=locale)


def email_verification_message(
    branding: Branding, *, to: str, username: str, now: datetime, locale: str | None = None
) -> EmailMessage:
    """The Email Verification message sent once the account is active, with a Login link."""
    return _message(branding, MessageKind.VERIFICATION, to, username, now, locale=locale)


def password_reset_message(
    branding: Branding,
    *,
    to: str,
    username: str,
    token: str,
    now: datetime,
    locale: str | None = None,
) -> EmailMessage:
    """The reset password email, with its reset link."""
    link = branding.link(branding.reset_url, token)
    return _message(
        branding, MessageKind.PASSWORD_RESET, to, username, now, link=link, locale=locale
    )


def password_changed_message(
    branding: Branding, *, to: str, username: str, now: datetime, locale: str | None = None
) -> EmailMessage:
    """The notice that the password was changed (after a reset or a change)."""
    return _message(branding, MessageKind.PASSWORD_CHANGED, to, username, now, locale=locale)


def email_change_message(
    branding: Branding,
    *,
    to: str,
    username: str,
    token: str,
    now: datetime,
    locale: str | None = None,
) -> EmailMessage:
    """The confirmation link of an email change, sent to the *new* address."""
    link = branding.link(branding.email_change_url, token)
    return _message(branding, MessageKind.EMAIL_CHANGE, to, username, now, link=link, locale=locale)


def email_change_notice_message(
    branding: Branding, *, to: str, username: str, now: datetime, locale: str | None = None
) -> EmailMessage:
    """The notice to the *old* address that a change of address was asked for."""
    return _message(branding, MessageKind.EMAIL_CHANGE_NOTICE, to, username, now, locale=locale)


def security_answer_changed_message(
    branding: Branding, *, to: str, username: str, now: datetime, locale: str | None = None
) -> EmailMessage:
    """The notice that the security question and answer were changed."""
    return _message(branding, MessageKind.SECURITY_ANSWER_CHANGED, to, username, now, locale=locale)


def account_locked_message(
    branding: Branding,
    *,
    to: str,
    username: str,
    now: datetime,
    wait: str,
    locale: str | None = None,
) -> EmailMessage:
    """The notice that a lock started, with the seed's advice (Forgot password? or wait)."""
    return _message(
        branding, MessageKind.ACCOUNT_LOCKED, to, username, now, wait=wait, locale=locale
    )


def username_reminder_message(
    branding: Branding, *, to: str, username: str, now: datetime, locale: str | None = None
) -> EmailMessage:
    """The forgotten user name reminder: the account's user name, with a Login link."""
    return _message(branding, MessageKind.USERNAME_REMINDER, to, username, now, locale=locale)
