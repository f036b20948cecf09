"""Time-based one-time passwords (RFC 6238) through pyotp, and their QR codes through segno.

Both come with the ``mfa`` extra and are imported only when used.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import attrs

from provider_identity import _checks
from provider_identity.mfa._extras import need

__all__ = ["TotpEnrolment", "TotpSettings"]


@attrs.frozen(kw_only=True)
class TotpSettings:
    """How codes are made and checked.

    Attributes:
        issuer: The name authenticator apps show beside the account.
        digits: Digits per code (6, what every app supports).
        period: Seconds per time step (30).
        window: Steps accepted either side of now (1: the previous and next
            code too, for clock drift and typing time).
    """

    issuer: str = attrs.field(default="Provider Portal", validator=_checks.text())
    digits: int = attrs.field(default=6, validator=_checks.integer(minimum=6, maximum=8))
    period: int = attrs.field(default=30, validator=_checks.integer(minimum=15, maximum=120))
    window: int = attrs.field(default=1, validator=_checks.integer(minimum=0, maximum=2))

    def _totp(self, secret: str, name: str | None = None) -> Any:
        pyotp = need("pyotp", "mfa")
        return pyotp.TOTP(
            secret, digits=self.digits, interval=self.period, issuer=self.issuer, name=name
        )

    def new_secret(self) -> str:
        """A fresh random base32 secret (160 bits, as RFC 4226 recommends)."""
        pyotp = need("pyotp", "mfa")
        secret: str = pyotp.random_base32(32)
        return secret

    def step(self, now: datetime) -> int:
        """The time step ``now`` falls in."""
        return int(now.timestamp()) // self.period

    def code(self, secret: str, step: int) -> str:
        """The code of ``step``."""
        code: str = self._totp(secret).generate_otp(step)
        return code

    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        """The latest step within the window whose code is ``code``, or ``None``.

        Every step of the window is computed and compared in constant time, so
        the work does not depend on which (if any) matched.
        """
        totp = self._totp(secret)
        current = self.step(now)
        found = None
        for step in range(current - self.window, current + self.window + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                found = step
        return found

    def uri(self, secret: str, account_name: str) -> str:
        """The ``otpauth://`` URI an authenticator app scans."""
        uri: str = self._totp(secret, account_name).provisioning_uri()
        return uri


@attrs.frozen(kw_only=True)
class TotpEnrolment:
    """What the set-up page shows; confirm with the first code the app makes.

    Every field holds the secret: show it to the user, never log or store it.

    Attributes:
        secret: The base32 secret, for typing into an app by hand.
        uri: The ``otpauth://`` URI.
        qr_svg: The URI as an inline SVG QR code.
    """

    secret: str = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)
    qr_svg: str = attrs.field(repr=False)

    @classmethod
    def of(cls, secret: str, uri: str) -> TotpEnrolment:
        """The enrolment of ``secret`` with its QR code drawn by segno."""
        segno = need("segno", "mfa")
        svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="Authenticator set-up")
        return cls(secret=secret, uri=uri, qr_svg=svg)
