"""Second-factor secrets at rest: sealed with a key the caller provides.

A TOTP secret is sealed with AES-256-GCM (the ``cryptography`` package, extra
``mfa``) under a key derived from the caller's; the account id is the
associated data, so a sealed secret copied to another account's row does not
open. Recovery codes are kept as HMAC-SHA-256 digests under another key
derived from the same one, so a stolen database alone cannot test guesses.

Rotation works as for :class:`~provider_identity.TokenIssuer`: ``current``
seals and digests, ``previous`` only opens and checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

import attrs

from provider_identity.errors import ConfigurationError
from provider_identity.mfa._extras import need

__all__ = ["MIN_SECRET_KEY_BYTES", "SecretBox"]

#: Shortest key accepted: 256 bits.
MIN_SECRET_KEY_BYTES = 32
_NONCE_BYTES = 12


def _key(value: str | bytes, field: str = "current") -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if not isinstance(raw, bytes) or len(raw) < MIN_SECRET_KEY_BYTES:
        raise ConfigurationError(
            f"SecretBox.{field}: keys must be str or bytes of at least {MIN_SECRET_KEY_BYTES} "
            "bytes; use secrets.token_bytes(32)."
        )
    return raw


def _keys(values: Iterable[str | bytes]) -> tuple[bytes, ...]:
    if isinstance(values, str | bytes):
        values = (values,)
    elif not isinstance(values, list | tuple):
        raise ConfigurationError("SecretBox.previous must be a list of keys.")
    return tuple(_key(value, "previous") for value in values)


def _derived(key: bytes, use: bytes) -> bytes:
    return hmac.new(key, b"provider-identity/" + use, hashlib.sha256).digest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(_derived(key, b"key-id")).hexdigest()[:8]


@attrs.frozen(kw_only=True)
class SecretBox:
    """Seals TOTP secrets and digests recovery codes.

    Attributes:
        current: The key that seals and digests (32+ bytes). Keep it out of the database.
        previous: Retired keys that still open and check, never seal.
    """

    current: bytes = attrs.field(repr=False, converter=_key)
    previous: tuple[bytes, ...] = attrs.field(default=(), repr=False, converter=_keys)

    @property
    def _all(self) -> tuple[bytes, ...]:
        return (self.current, *self.previous)

    def seal(self, secret: str, *, context: str) -> str:
        """``secret`` encrypted and bound to ``context`` (the account id)."""
        aead = need("cryptography.hazmat.primitives.ciphers.aead", "mfa")
        nonce = secrets.token_bytes(_NONCE_BYTES)
        box = aead.AESGCM(_derived(self.current, b"seal"))
        sealed = nonce + box.encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8"))
        text = base64.urlsafe_b64encode(sealed).decode("ascii")
        return f"v1.{_key_id(self.current)}.{text}"

    def open(self, sealed: str, *, context: str) -> str:
        """The secret :meth:`seal` sealed for ``context``.

        Raises:
            ConfigurationError: no key of this box sealed it (a key was dropped
                too early), or it was sealed for another context or altered.
        """
        aead = need("cryptography.hazmat.primitives.ciphers.aead", "mfa")
        exceptions = need("cryptography.exceptions", "mfa")
        version, key_id, text = sealed.split(".", 2)
        for key in self._all:
            if version == "v1" and _key_id(key) == key_id:
                raw = base64.urlsafe_b64decode(text)
                box = aead.AESGCM(_derived(key, b"seal"))
                opened = _open(box, raw, context, exceptions.InvalidTag)
                if opened is not None:
                    return opened
        raise ConfigurationError("A stored second-factor secret does not open with these keys.")

    def digest(self, code: str) -> str:
        """The keyed digest of a recovery code under ``current``."""
        return _digest(self.current, code)

    def digests(self, code: str) -> frozenset[str]:
        """The digests of ``code`` under every key (what a stored digest may be)."""
        return frozenset(_digest(key, code) for key in self._all)


def _open(box: object, raw: bytes, context: str, invalid: type[Exception]) -> str | None:
    try:
        plain: bytes = box.decrypt(  # type: ignore[attr-defined]  # AESGCM, imported lazily
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
        )
    except invalid:
        return None
    return plain.decode("utf-8")


def _digest(key: bytes, code: str) -> str:
    mac = hmac.new(_derived(key, b"recovery-code"), code.encode("utf-8"), hashlib.sha256)
    return f"{_key_id(key)}.{mac.hexdigest()}"
