"""Signed, expiring, single-use links: activation and password reset.

Tokens are itsdangerous ``URLSafeTimedSerializer`` payloads signed with
HMAC-SHA-256 and one salt per purpose. The payload is opaque: the account id,
the purpose and the account's *credential version*. The version is bumped on
activation and on every password change, so a link dies as soon as it has
done its work; single use is decided on account state, never on the token
string (itsdangerous accepts several spellings of one token).

Key rotation cannot be mis-ordered: ``current`` signs, ``previous`` only
verifies. (itsdangerous signs with the *last* key of a list; we build that list
ourselves so ``current`` is always last.)
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs
import itsdangerous

from provider_identity import _checks
from provider_identity.clock import Clock, SystemClock
from provider_identity.errors import (
    ConfigurationError,
    InvalidInput,
    TokenExpired,
    TokenInvalid,
    TokenWrongPurpose,
)

__all__ = [
    "MAX_CLOCK_SKEW",
    "MAX_TOKEN_LENGTH",
    "MIN_KEY_BYTES",
    "TokenClaims",
    "TokenIssuer",
    "TokenPurpose",
]

#: Shortest signing key accepted: 256 bits, the size of the HMAC-SHA-256 output.
MIN_KEY_BYTES = 32

#: Tokens longer than this are refused before any decoding.
MAX_TOKEN_LENGTH = 512

#: How far in the future a token's timestamp may be (clock skew between hosts)
#: before it is treated as forged rather than merely early.
MAX_CLOCK_SKEW = timedelta(seconds=60)
_MAX_SKEW_SECONDS = MAX_CLOCK_SKEW.total_seconds()


class TokenPurpose(enum.Enum):
    """What a token may be used for; each has its own salt and lifetime."""

    ACTIVATION = "activation"
    PASSWORD_RESET = "password-reset"
    #: A browser that logged in before (``IdentityService.device_lockout``).
    DEVICE = "device"
    EMAIL_CHANGE = "email-change"


DEFAULT_LIFETIMES: Mapping[TokenPurpose, timedelta] = {
    TokenPurpose.ACTIVATION: timedelta(hours=72),
    TokenPurpose.PASSWORD_RESET: timedelta(hours=1),
    TokenPurpose.DEVICE: timedelta(days=30),
    TokenPurpose.EMAIL_CHANGE: timedelta(hours=24),
}


@attrs.frozen
class TokenClaims:
    """What a verified token says. Compare ``credential_version`` with the account's.

    ``nonce`` (email change links) names the one request the link confirms;
    it is random, never an address.
    """

    account_id: str
    purpose: TokenPurpose
    credential_version: int
    issued_at: datetime
    nonce: str | None = attrs.field(default=None, repr=False)


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def _checked_key(key: str | bytes, field: str = "current") -> str | bytes:
    # A converter, not a validator: the serializers are built from the keys
    # as soon as the fields are set, before any validator runs.
    if not isinstance(key, str | bytes) or len(_key_bytes(key)) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"TokenIssuer.{field}: signing keys must be str or bytes of at least "
            f"{MIN_KEY_BYTES} bytes; use secrets.token_bytes(32)."
        )
    return key


def _keys(keys: str | bytes | Iterable[str | bytes]) -> tuple[str | bytes, ...]:
    if isinstance(keys, str | bytes):
        keys = (keys,)
    elif not isinstance(keys, Iterable) or isinstance(keys, Mapping):
        raise ConfigurationError("TokenIssuer.previous must be a list of signing keys.")
    return tuple(_checked_key(key, "previous") for key in keys)


def _merge_lifetimes(value: Mapping[TokenPurpose, timedelta]) -> Mapping[TokenPurpose, timedelta]:
    if not isinstance(value, Mapping) or not all(
        isinstance(purpose, TokenPurpose) and isinstance(lifetime, timedelta)
        for purpose, lifetime in value.items()
    ):
        raise ConfigurationError(
            "TokenIssuer.lifetimes must map TokenPurpose members to timedelta values."
        )
    merged = {**DEFAULT_LIFETIMES, **value}
    for purpose, lifetime in merged.items():
        if lifetime < timedelta(seconds=1):
            raise ConfigurationError(
                f"TokenIssuer.lifetimes: {purpose.value} tokens need a lifetime of at least "
                "1 second."
            )
    return merged


def _check_purpose(purpose: object) -> None:
    if not isinstance(purpose, TokenPurpose):
        raise InvalidInput.single("purpose", "wrong_type", "purpose must be a TokenPurpose.")


@attrs.frozen(kw_only=True)
class TokenIssuer:
    """Issues and verifies purpose-bound, expiring tokens.

    Attributes:
        current: The key that signs (and verifies). At least 32 bytes.
        previous: Retired keys that still verify, never sign.
        clock: Where "now" comes from for signing and expiry.
        lifetimes: Lifetime per purpose (activation 72 h, reset 1 h by default;
            mail can be delayed, so activation is not short).
        namespace: Mixed into every salt, so two deployments sharing a key
            cannot accept each other's tokens.
    """

    current: str | bytes = attrs.field(repr=False, converter=_checked_key)
    previous: tuple[str | bytes, ...] = attrs.field(default=(), converter=_keys, repr=False)
    clock: Clock = attrs.field(default=SystemClock(), validator=_checks.implements("now"))
    lifetimes: Mapping[TokenPurpose, timedelta] = attrs.field(
        factory=dict, converter=_merge_lifetimes
    )
    namespace: str = attrs.field(default="provider-identity", validator=_checks.text())
    _serializers: Mapping[TokenPurpose, itsdangerous.URLSafeTimedSerializer] = attrs.field(
        init=False, repr=False, eq=False
    )

    @_serializers.default
    def _build_serializers(self) -> Mapping[TokenPurpose, itsdangerous.URLSafeTimedSerializer]:
        clock = self.clock

        class ClockSigner(itsdangerous.TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        # itsdangerous signs with the last key: current goes last, always.
        keys = [_key_bytes(key) for key in (*self.previous, self.current)]
        return {
            purpose: itsdangerous.URLSafeTimedSerializer(
                keys,
                salt=f"{self.namespace}/{purpose.value}",
                signer=ClockSigner,
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for purpose in TokenPurpose
        }

    def issue(
        self,
        purpose: TokenPurpose,
        *,
        account_id: str,
        credential_version: int,
        nonce: str | None = None,
    ) -> str:
        """Sign a token for ``purpose`` bound to the account's credential version (and ``nonce``).

        Raises:
            InvalidInput: ``purpose`` is not a :class:`TokenPurpose`.
        """
        _check_purpose(purpose)
        payload: dict[str, object] = {"a": account_id, "p": purpose.value, "v": credential_version}
        if nonce is not None:
            payload["n"] = nonce
        return self._serializers[purpose].dumps(payload)

    def verify(self, token: object, purpose: TokenPurpose) -> TokenClaims:
        """Check signature, purpose and age; return the claims.

        A token is valid up to exactly its lifetime and expired one second later
        (timestamps have whole seconds). One dated more than :data:`MAX_CLOCK_SKEW`
        in the future is refused as invalid. The caller must still compare
        ``credential_version`` with the account's.

        Raises:
            TokenExpired: genuine, but older than the purpose's lifetime.
            TokenWrongPurpose: genuine, but signed for another purpose.
            TokenInvalid: forged, truncated, garbled, oversized, future-dated or
                not a string.
            InvalidInput: ``purpose`` is not a :class:`TokenPurpose` (whatever the token).
        """
        _check_purpose(purpose)
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_LENGTH
            or not token.isascii()  # a genuine token is URL-safe base64
        ):
            raise TokenInvalid
        loaded = self._load(token, purpose)
        if loaded is None:
            if self._signed_for_another_purpose(token, purpose):
                raise TokenWrongPurpose
            raise TokenInvalid
        payload, signed_at = loaded
        # Whole seconds, as itsdangerous stamps them.
        age = int(self.clock.now().timestamp()) - int(signed_at.timestamp())
        if age < -_MAX_SKEW_SECONDS:
            raise TokenInvalid
        if age > self.lifetimes[purpose].total_seconds():
            raise TokenExpired
        return self._claims(payload, purpose, signed_at)

    def _load(self, token: str, purpose: TokenPurpose) -> tuple[object, datetime] | None:
        """The payload and signing time, or None if the signature does not hold.

        None, not a raise from the ``except`` block: itsdangerous' error quotes
        the signature, and even ``raise ... from None`` keeps it as the new
        error's ``__context__``.
        """
        try:
            payload, signed_at = self._serializers[purpose].loads(token, return_timestamp=True)
        except itsdangerous.BadData:
            return None
        return payload, signed_at

    def _signed_for_another_purpose(self, token: str, purpose: TokenPurpose) -> bool:
        for other, serializer in self._serializers.items():
            if other is purpose:
                continue
            try:
                serializer.loads(token)
            except itsdangerous.BadData:
                continue
            return True
        return False

    @staticmethod
    def _claims(payload: object, purpose: TokenPurpose, signed_at: datetime) -> TokenClaims:
        if not isinstance(payload, dict):
            raise TokenInvalid
        account_id, version, nonce = payload.get("a"), payload.get("v"), payload.get("n")
        if (
            payload.get("p") != purpose.value
            or not isinstance(account_id, str)
            or not isinstance(version, int)
            or isinstance(version, bool)
            or not isinstance(nonce, str | None)
        ):
            raise TokenInvalid
        return TokenClaims(
            account_id=account_id,
            purpose=purpose,
            credential_version=version,
            issued_at=signed_at,
            nonce=nonce,
        )
