"""The service's second-factor configuration: the policy and what it needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

import attrs

from provider_identity import _checks
from provider_identity.errors import ConfigurationError
from provider_identity.mfa.secretbox import SecretBox
from provider_identity.mfa.totp import TotpSettings
from provider_identity.ports import FactorStore

__all__ = ["MfaMode", "RelyingParty", "SecondFactors"]

#: ``"off"``: no factor is enrolled or asked for. ``"optional"``: accounts may
#: enrol and are then asked at each login. ``"required"``: as optional, and a
#: login without a factor says that enrolment is due.
MfaMode = Literal["off", "optional", "required"]


def _origins(values: object) -> tuple[str, ...]:
    origins = _checks.text_tuple("RelyingParty.origins", values)  # type: ignore[arg-type]  # checked here
    if not origins:
        raise ConfigurationError("RelyingParty.origins must list at least one origin.")
    return origins


@attrs.frozen(kw_only=True)
class RelyingParty:
    """Who passkeys are registered with (WebAuthn's relying party).

    Attributes:
        id: The registrable domain, e.g. ``"provider-portal.example"``.
        name: What the browser shows.
        origins: The page origins the browser may report, e.g. ``"https://provider-portal.example"``.
    """

    id: str = attrs.field(validator=_checks.text())
    name: str = attrs.field(default="Provider Portal", validator=_checks.text())
    origins: tuple[str, ...] = attrs.field(converter=_origins)


def _mode(instance: object, attribute: object, value: object) -> None:
    if value not in get_args(MfaMode):
        raise ConfigurationError('SecondFactors.mode must be "off", "optional" or "required".')


@attrs.frozen(kw_only=True)
class SecondFactors:
    """Second factors for :class:`~provider_identity.IdentityService` (``second_factors=``).

    Attributes:
        mode: ``"off"`` (the default), ``"optional"`` or ``"required"``.
        store: Where factor records live (required unless ``mode`` is off).
        secrets: Seals TOTP secrets and digests recovery codes (required unless off).
        totp: Code settings and the issuer name apps show.
        recovery_codes: Codes per set (10).
        challenge_lifetime: How long the second step may take (5 minutes).
        relying_party: Enables passkeys (WebAuthn); ``None``: no passkeys.
    """

    mode: MfaMode = attrs.field(default="off", validator=_mode)
    store: FactorStore | None = attrs.field(
        default=None, validator=_checks.optional(_checks.implements("get", "put"))
    )
    secrets: SecretBox | None = attrs.field(
        default=None, validator=_checks.optional(_checks.instance_of(SecretBox))
    )
    totp: TotpSettings = attrs.field(
        default=TotpSettings(), validator=_checks.instance_of(TotpSettings)
    )
    recovery_codes: int = attrs.field(default=10, validator=_checks.integer(minimum=1, maximum=50))
    challenge_lifetime: timedelta = attrs.field(
        default=timedelta(minutes=5), validator=_checks.duration()
    )
    relying_party: RelyingParty | None = attrs.field(
        default=None, validator=_checks.optional(_checks.instance_of(RelyingParty))
    )

    def __attrs_post_init__(self) -> None:
        if self.mode != "off" and (self.store is None or self.secrets is None):
            raise ConfigurationError(
                f'SecondFactors(mode="{self.mode}") needs a store and a SecretBox (secrets=).'
            )

    @property
    def enabled(self) -> bool:
        """True unless ``mode`` is off."""
        return self.mode != "off"
