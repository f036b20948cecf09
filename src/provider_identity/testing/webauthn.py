"""A software WebAuthn authenticator for tests: passkeys without hardware or a browser.

It answers the options that ``begin_passkey_registration`` and
``SecondFactorDue.passkey_options`` give, as a browser with a platform
authenticator would: ``none`` attestation, an ES256 (P-256) key made with
``cryptography``, CBOR through ``cbor2``, and a sign counter that goes up by
one per signature. Both come with the ``webauthn`` extra.

    authenticator = SoftwareAuthenticator(origin="https://provider-portal.example")
    credential = authenticator.create(registration.options)
    answer = authenticator.get(due.passkey_options)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
from typing import Any

from provider_identity.mfa._extras import need

__all__ = ["SoftwareAuthenticator"]

_FLAGS_UP_UV = 0x01 | 0x04
_FLAG_ATTESTED = 0x40


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    """One authenticator holding one credential per relying party it registered with.

    Args:
        origin: The page origin it reports in ``clientDataJSON``.
    """

    def __init__(self, *, origin: str) -> None:
        self.origin = origin
        self._keys: dict[str, tuple[bytes, Any]] = {}  # rp id -> (credential id, private key)
        self.sign_count = 0

    def clone(self) -> SoftwareAuthenticator:
        """A copy with the same keys and counter (what a cloned authenticator is)."""
        twin = copy.copy(self)
        twin._keys = dict(self._keys)
        return twin

    def credential_id(self, rp_id: str) -> str:
        """The id of the credential made for ``rp_id``, base64url."""
        return _b64(self._keys[rp_id][0])

    def create(self, options: str) -> str:
        """The registration answer (JSON) to creation ``options``."""
        ec = need("cryptography.hazmat.primitives.asymmetric.ec", "webauthn")
        cbor2 = need("cbor2", "webauthn")
        data = json.loads(options)
        rp_id = data["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        credential_id = secrets.token_bytes(16)
        self._keys[rp_id] = (credential_id, key)
        attested = bytes(16) + len(credential_id).to_bytes(2, "big") + credential_id + cose
        auth_data = self._auth_data(rp_id, _FLAGS_UP_UV | _FLAG_ATTESTED) + attested
        client_data = self._client_data("webauthn.create", data["challenge"])
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": _b64(credential_id),
                "rawId": _b64(credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": _b64(client_data),
                    "attestationObject": _b64(attestation),
                },
                "clientExtensionResults": {},
            }
        )

    def get(self, options: str) -> str:
        """The authentication answer (JSON) to request ``options``; the counter goes up."""
        ec = need("cryptography.hazmat.primitives.asymmetric.ec", "webauthn")
        hashes = need("cryptography.hazmat.primitives.hashes", "webauthn")
        data = json.loads(options)
        rp_id = data["rpId"]
        credential_id, key = self._keys[rp_id]
        self.sign_count += 1
        auth_data = self._auth_data(rp_id, _FLAGS_UP_UV)
        client_data = self._client_data("webauthn.get", data["challenge"])
        signature = key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": _b64(credential_id),
                "rawId": _b64(credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": _b64(client_data),
                    "authenticatorData": _b64(auth_data),
                    "signature": _b64(signature),
                },
                "clientExtensionResults": {},
            }
        )

    def _auth_data(self, rp_id: str, flags: int) -> bytes:
        return (
            hashlib.sha256(rp_id.encode("utf-8")).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        _unb64(challenge)  # a well-formed challenge, as a browser would insist
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode("utf-8")
