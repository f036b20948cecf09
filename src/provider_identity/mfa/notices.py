"""Security notices about second factors, mailed to the account's stored address."""

from __future__ import annotations

import enum
import html
import string
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from provider_identity.i18n import msg, msg_plural, translate
from provider_identity.mail import Branding

__all__ = ["FactorNotice", "factor_notice"]


class FactorNotice(enum.Enum):
    """What happened to an account's second factors."""

    TOTP_ENROLLED = msg("An authenticator app was added to your account.")
    PASSKEY_ADDED = msg("A passkey was added to your account.")
    FACTOR_REMOVED = msg("A sign-in method was removed from your account.")
    RECOVERY_CODE_USED = msg("A recovery code was used to sign in to your account.")
    RECOVERY_CODES_REGENERATED = msg(
        "New recovery codes were made for your account; the old ones no longer work."
    )
    FACTORS_RESET = msg("The support desk removed the two-step sign-in methods of your account.")


_WARNING = msg(
    "If this was not you, use the Forgot password? link on the login page at once "
    "and call the help line."
)


def factor_notice(
    branding: Branding,
    notice: FactorNotice,
    *,
    to: str,
    username: str,
    now: datetime,
    remaining: int | None = None,
    locale: str | None = None,
) -> EmailMessage:
    """The notice of ``notice`` for ``username`` (``remaining``: recovery codes left).

    ``locale``: the language (``None``: the current locale).
    """
    texts = [msg("Hello $username,"), notice.value]
    if remaining is not None:
        texts.append(
            msg_plural(
                "Recovery codes left: {count}.", "Recovery codes left: {count}.", count=remaining
            )
        )
    texts += [_WARNING, msg("Login: $link")]
    values = {"username": username, "link": branding.login_url}
    paragraphs = [
        string.Template(translate(text, locale)).safe_substitute(values) for text in texts
    ]
    paragraphs.append(f"-- {branding.sender_name}, {branding.organisation} {branding.portal_name}")
    message = EmailMessage()
    message["From"] = branding.sender
    message["To"] = to
    message["Subject"] = branding.subject(msg("$portal_name Security Notice"), locale=locale)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=branding.sender_address.rpartition("@")[2])
    message.set_content("\n\n".join(paragraphs) + "\n")
    markup = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    message.add_alternative(
        f"<!DOCTYPE html>\n<html><body>{markup}</body></html>\n", subtype="html"
    )
    return message
