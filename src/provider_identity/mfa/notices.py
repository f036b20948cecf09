"""Security notices about second factors, mailed to the account's stored address."""

from __future__ import annotations

import enum
import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from provider_identity.mail import Branding

__all__ = ["FactorNotice", "factor_notice"]


class FactorNotice(enum.Enum):
    """What happened to an account's second factors."""

    TOTP_ENROLLED = "An authenticator app was added to your account."
    PASSKEY_ADDED = "A passkey was added to your account."
    FACTOR_REMOVED = "A sign-in method was removed from your account."
    RECOVERY_CODE_USED = "A recovery code was used to sign in to your account."
    RECOVERY_CODES_REGENERATED = (
        "New recovery codes were made for your account; the old ones no longer work."
    )
    FACTORS_RESET = "The support desk removed the two-step sign-in methods of your account."


_WARNING = (
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
) -> EmailMessage:
    """The notice of ``notice`` for ``username`` (``remaining``: recovery codes left)."""
    paragraphs = [f"Hello {username},", notice.value]
    if remaining is not None:
        paragraphs.append(f"Recovery codes left: {remaining}.")
    signature = f"-- {branding.sender_name}, {branding.organisation} {branding.portal_name}"
    paragraphs += [_WARNING, f"Login: {branding.login_url}", signature]
    message = EmailMessage()
    message["From"] = branding.sender
    message["To"] = to
    message["Subject"] = branding.subject("$portal_name Security Notice")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=branding.sender_address.rpartition("@")[2])
    message.set_content("\n\n".join(paragraphs) + "\n")
    markup = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    message.add_alternative(
        f"<!DOCTYPE html>\n<html><body>{markup}</body></html>\n", subtype="html"
    )
    return message
