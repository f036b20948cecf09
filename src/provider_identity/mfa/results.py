"""What the second-factor flows return."""

from __future__ import annotations

from datetime import datetime

import attrs

from provider_identity.mfa.recovery import RecoveryCodeSet

__all__ = ["PasskeyRegistration", "SecondFactorDue", "TotpConfirmed"]


@attrs.frozen(kw_only=True)
class SecondFactorDue:
    """The password was right; :meth:`~provider_identity.IdentityService.complete_login` is due.

    Nothing here logs anyone in: keep ``challenge`` in the page (a hidden
    field) or the pre-login session, and show the code form.

    Attributes:
        challenge: Signed, short-lived, single use; pass it back with the code.
        methods: What the second step accepts: ``"totp"``, ``"recovery_code"``, ``"passkey"``.
        expires_at: When ``challenge`` stops working.
        passkey_options: WebAuthn request options (JSON for
            ``navigator.credentials.get``) when the account has passkeys.
    """

    challenge: str = attrs.field(repr=False)
    methods: frozenset[str]
    expires_at: datetime
    passkey_options: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class TotpConfirmed:
    """An authenticator app is active.

    Attributes:
        recovery_codes: The first set of recovery codes, to show once; ``None``
            if the account had a set already.
    """

    recovery_codes: RecoveryCodeSet | None


@attrs.frozen(kw_only=True)
class PasskeyRegistration:
    """The first half of adding a passkey.

    Attributes:
        options: WebAuthn creation options, JSON for ``navigator.credentials.create``.
        state: Signed and short-lived; pass it back with the browser's answer.
    """

    options: str
    state: str = attrs.field(repr=False)
