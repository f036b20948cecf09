"""What the factor store keeps per account: TOTP, recovery codes, passkeys, one revision.

All of an account's factors are one :class:`FactorRecord`, written with a
compare-and-set on ``revision``. Every decision that changes a factor (a TOTP
step accepted, a recovery code used, a passkey's sign counter moved) is one
such write, so two parallel logins with one code cannot both succeed: the
second write finds a newer revision and is refused. Secrets are kept sealed
(:class:`~provider_identity.mfa.SecretBox`) and never appear in a ``repr``.
"""

from __future__ import annotations

import json
from datetime import datetime

import attrs

from provider_identity.clock import ensure_utc

__all__ = ["FactorRecord", "Passkey", "RecoveryCodes", "TotpFactor"]


@attrs.frozen(kw_only=True)
class TotpFactor:
    """An authenticator-app secret, sealed.

    Attributes:
        sealed_secret: The base32 secret, encrypted and bound to the account.
        created_at: When enrolment began.
        confirmed_at: When the first code confirmed it; ``None`` while pending.
        last_step: The highest time step accepted (``-1``: none yet); a code
            of this step or an earlier one is a replay.
    """

    sealed_secret: str = attrs.field(repr=False)
    created_at: datetime = attrs.field(converter=ensure_utc)
    confirmed_at: datetime | None = None
    last_step: int = -1


@attrs.frozen(kw_only=True)
class RecoveryCodes:
    """The unused recovery codes of an account, as keyed hashes.

    Attributes:
        digests: One keyed hash per unused code; a used code's is removed.
        issued: How many codes the set had when made.
        created_at: When the set was made (making a new one kills the old).
    """

    digests: tuple[str, ...] = attrs.field(repr=False)
    issued: int
    created_at: datetime = attrs.field(converter=ensure_utc)

    @property
    def remaining(self) -> int:
        """Codes still unused."""
        return len(self.digests)


@attrs.frozen(kw_only=True)
class Passkey:
    """A WebAuthn credential (passkey or security key) registered to an account.

    Attributes:
        credential_id: The credential's id, base64url without padding.
        public_key: Its COSE public key, base64url (public, but long: not in ``repr``).
        sign_count: The last signature counter seen (0: the authenticator keeps none).
        name: What the user called it.
        created_at: When it was registered.
        last_used_at: When it last signed a login.
    """

    credential_id: str
    public_key: str = attrs.field(repr=False)
    sign_count: int
    name: str
    created_at: datetime = attrs.field(converter=ensure_utc)
    last_used_at: datetime | None = None


@attrs.frozen(kw_only=True)
class FactorRecord:
    """Every second factor of one account.

    Attributes:
        account_id: The account's id.
        revision: Bumped by each write; stores compare it atomically.
        totp: The confirmed authenticator app, if any.
        pending_totp: An enrolment waiting for its first code, if any.
        recovery: The recovery codes, if any.
        passkeys: Registered WebAuthn credentials.
    """

    account_id: str
    revision: int = 0
    totp: TotpFactor | None = None
    pending_totp: TotpFactor | None = None
    recovery: RecoveryCodes | None = None
    passkeys: tuple[Passkey, ...] = ()

    @property
    def has_second_factor(self) -> bool:
        """True if a login needs a second step: a confirmed TOTP or a passkey."""
        return self.totp is not None or bool(self.passkeys)

    @property
    def methods(self) -> frozenset[str]:
        """What the second step accepts: ``"totp"``, ``"recovery_code"``, ``"passkey"``."""
        if not self.has_second_factor:
            return frozenset()
        found = {"totp"} if self.totp is not None else set()
        if self.recovery is not None and self.recovery.remaining:
            found.add("recovery_code")
        if self.passkeys:
            found.add("passkey")
        return frozenset(found)

    def next(self, **changes: object) -> FactorRecord:
        """This record with ``changes`` and the next revision (what a store write takes)."""
        return attrs.evolve(self, revision=self.revision + 1, **changes)  # type: ignore[arg-type]  # attrs.evolve takes field names as keywords

    def dumps(self) -> str:
        """The record's fields but ``account_id`` and ``revision``, as JSON (what stores keep)."""
        return json.dumps(
            {
                "totp": _totp_out(self.totp),
                "pending_totp": _totp_out(self.pending_totp),
                "recovery": None
                if self.recovery is None
                else {
                    "digests": list(self.recovery.digests),
                    "issued": self.recovery.issued,
                    "created_at": self.recovery.created_at.isoformat(),
                },
                "passkeys": [
                    {
                        "credential_id": key.credential_id,
                        "public_key": key.public_key,
                        "sign_count": key.sign_count,
                        "name": key.name,
                        "created_at": key.created_at.isoformat(),
                        "last_used_at": _iso(key.last_used_at),
                    }
                    for key in self.passkeys
                ],
            },
            sort_keys=True,
        )

    @classmethod
    def loads(cls, account_id: str, revision: int, text: str | bytes) -> FactorRecord:
        """The record :meth:`dumps` wrote."""
        data = json.loads(text)
        recovery = data.get("recovery")
        return cls(
            account_id=account_id,
            revision=revision,
            totp=_totp_in(data.get("totp")),
            pending_totp=_totp_in(data.get("pending_totp")),
            recovery=None
            if recovery is None
            else RecoveryCodes(
                digests=tuple(recovery["digests"]),
                issued=recovery["issued"],
                created_at=datetime.fromisoformat(recovery["created_at"]),
            ),
            passkeys=tuple(
                Passkey(
                    credential_id=key["credential_id"],
                    public_key=key["public_key"],
                    sign_count=key["sign_count"],
                    name=key["name"],
                    created_at=datetime.fromisoformat(key["created_at"]),
                    last_used_at=_moment(key.get("last_used_at")),
                )
                for key in data.get("passkeys", ())
            ),
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _totp_out(factor: TotpFactor | None) -> dict[str, object] | None:
    if factor is None:
        return None
    return {
        "sealed_secret": factor.sealed_secret,
        "created_at": factor.created_at.isoformat(),
        "confirmed_at": _iso(factor.confirmed_at),
        "last_step": factor.last_step,
    }


def _totp_in(data: dict[str, object] | None) -> TotpFactor | None:
    if data is None:
        return None
    return TotpFactor(
        sealed_secret=str(data["sealed_secret"]),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        confirmed_at=_moment(data["confirmed_at"]),  # type: ignore[arg-type]  # str or None, as dumps wrote
        last_step=int(data["last_step"]),  # type: ignore[call-overload]  # an int, as dumps wrote
    )
