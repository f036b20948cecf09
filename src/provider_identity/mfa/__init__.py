"""Second factors: authenticator apps (TOTP), recovery codes and passkeys (WebAuthn).

With ``IdentityService(second_factors=SecondFactors(mode="optional", ...))`` a
login of an account that has a factor returns :class:`SecondFactorDue`
instead of logging in, and :meth:`~provider_identity.IdentityService.complete_login`
finishes it. See the MFA guide for the portal pages and the threat model.

pyotp and segno (extra ``mfa``) and webauthn (extra ``webauthn``) are
imported only when a factor of theirs is used.
"""

from __future__ import annotations

from provider_identity.mfa.challenge import ChallengeClaims, LoginChallenges
from provider_identity.mfa.notices import FactorNotice, factor_notice
from provider_identity.mfa.records import FactorRecord, Passkey, RecoveryCodes, TotpFactor
from provider_identity.mfa.recovery import RecoveryCodeSet, new_recovery_codes, normalize_code
from provider_identity.mfa.results import PasskeyRegistration, SecondFactorDue, TotpConfirmed
from provider_identity.mfa.secretbox import MIN_SECRET_KEY_BYTES, SecretBox
from provider_identity.mfa.settings import MfaMode, RelyingParty, SecondFactors
from provider_identity.mfa.totp import TotpEnrolment, TotpSettings

__all__ = [
    "MIN_SECRET_KEY_BYTES",
    "ChallengeClaims",
    "FactorNotice",
    "FactorRecord",
    "LoginChallenges",
    "MfaMode",
    "Passkey",
    "PasskeyRegistration",
    "RecoveryCodeSet",
    "RecoveryCodes",
    "RelyingParty",
    "SecondFactorDue",
    "SecondFactors",
    "SecretBox",
    "TotpConfirmed",
    "TotpEnrolment",
    "TotpFactor",
    "TotpSettings",
    "factor_notice",
    "new_recovery_codes",
    "normalize_code",
]
