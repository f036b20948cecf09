"""The signed challenge between a login's two steps (and a passkey registration's).

An itsdangerous payload signed with the :class:`~provider_identity.TokenIssuer`'s
keys (rotation included) under a salt of its own, carrying the account id,
its credential version and its factor record's revision. The revision makes
it single use: every accepted second step writes the record, so a challenge
that has done its work no longer matches; a password change kills it through
the credential version.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import attrs
import itsdangerous

from provider_identity.errors import ChallengeExpired, ChallengeInvalid
from provider_identity.tokens import MAX_TOKEN_LENGTH, TokenIssuer

__all__ = ["ChallengeClaims", "LoginChallenges"]


@attrs.frozen(kw_only=True)
class ChallengeClaims:
    """What a verified challenge says; compare versions with the stored ones."""

    account_id: str
    credential_version: int
    revision: int
    webauthn: bytes | None = attrs.field(default=None, repr=False)
    issued_at: datetime


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.urlsafe_b64encode(raw).decode("ascii")


@attrs.frozen(kw_only=True)
class LoginChallenges:
    """Signs and checks challenges of one kind (``purpose``) for ``lifetime``."""

    tokens: TokenIssuer
    lifetime: timedelta
    purpose: str = "login-challenge"
    _serializer: itsdangerous.URLSafeTimedSerializer = attrs.field(init=False, repr=False, eq=False)

    @_serializer.default
    def _build(self) -> itsdangerous.URLSafeTimedSerializer:
        clock = self.tokens.clock

        class ClockSigner(itsdangerous.TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        keys = [
            key.encode("utf-8") if isinstance(key, str) else bytes(key)
            for key in (*self.tokens.previous, self.tokens.current)
        ]
        return itsdangerous.URLSafeTimedSerializer(
            keys,
            salt=f"{self.tokens.namespace}/{self.purpose}",
            signer=ClockSigner,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def expires_at(self) -> datetime:
        """When a challenge signed now expires."""
        return self.tokens.clock.now() + self.lifetime

    def issue(
        self,
        *,
        account_id: str,
        credential_version: int,
        revision: int,
        webauthn: bytes | None = None,
    ) -> str:
        """A challenge for the account as it is now."""
        return self._serializer.dumps(
            {"a": account_id, "v": credential_version, "r": revision, "w": _b64(webauthn)}
        )

    def verify(self, challenge: object) -> ChallengeClaims:
        """The claims of a genuine, unexpired challenge.

        Raises:
            ChallengeExpired: genuine but older than ``lifetime``.
            ChallengeInvalid: forged, garbled, oversized or not text.
        """
        if not isinstance(challenge, str) or not challenge.isascii():
            raise ChallengeInvalid
        if not challenge or len(challenge) > MAX_TOKEN_LENGTH:
            raise ChallengeInvalid
        loaded = self._load(challenge)
        if loaded is None:
            raise ChallengeInvalid
        payload, signed_at = loaded
        age = int(self.tokens.clock.now().timestamp()) - int(signed_at.timestamp())
        if age > self.lifetime.total_seconds():
            raise ChallengeExpired
        if age < -60 or not isinstance(payload, dict):
            raise ChallengeInvalid
        account_id, version, revision, webauthn = (payload.get(k) for k in "avrw")
        if (
            not isinstance(account_id, str)
            or type(version) is not int
            or type(revision) is not int
            or not (webauthn is None or isinstance(webauthn, str))
        ):
            raise ChallengeInvalid
        return ChallengeClaims(
            account_id=account_id,
            credential_version=version,
            revision=revision,
            webauthn=None if webauthn is None else base64.urlsafe_b64decode(webauthn),
            issued_at=signed_at,
        )

    def _load(self, challenge: str) -> tuple[object, datetime] | None:
        # None, not a raise inside ``except``: itsdangerous' error quotes the signature.
        try:
            payload, signed_at = self._serializer.loads(challenge, return_timestamp=True)
        except itsdangerous.BadData:
            return None
        return payload, signed_at
