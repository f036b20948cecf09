"""Passkeys and security keys: the WebAuthn ceremonies, through the ``webauthn`` package.

Imported only when a passkey is registered or used (extra ``webauthn``). The
library checks the challenge, origin, relying party, signature and the sign
counter (a counter that does not move forward is refused: a cloned
authenticator); this module maps its answers onto :class:`Passkey` records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from provider_identity.mfa._extras import need
from provider_identity.mfa.records import Passkey
from provider_identity.mfa.settings import RelyingParty

__all__ = [
    "MAX_CREDENTIAL_JSON",
    "authentication_options",
    "credential_id_of",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]

#: Browser answers longer than this are refused before parsing.
MAX_CREDENTIAL_JSON = 16_384


def _webauthn() -> Any:
    return need("webauthn", "webauthn")


def _descriptors(passkeys: Sequence[Passkey]) -> list[Any]:
    webauthn = _webauthn()
    structs = webauthn.helpers.structs
    return [
        structs.PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(key.credential_id))
        for key in passkeys
    ]


def registration_options(
    party: RelyingParty,
    *,
    account_id: str,
    username: str,
    existing: Sequence[Passkey],
    challenge: bytes,
) -> str:
    """Creation options (JSON) for a new credential, excluding those registered already."""
    webauthn = _webauthn()
    options = webauthn.generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        user_name=username,
        user_id=account_id.encode("utf-8"),
        challenge=challenge,
        exclude_credentials=_descriptors(existing),
    )
    text: str = webauthn.options_to_json(options)
    return text


def authentication_options(
    party: RelyingParty, *, passkeys: Sequence[Passkey], challenge: bytes
) -> str:
    """Request options (JSON) allowing the account's credentials."""
    webauthn = _webauthn()
    options = webauthn.generate_authentication_options(
        rp_id=party.id, challenge=challenge, allow_credentials=_descriptors(passkeys)
    )
    text: str = webauthn.options_to_json(options)
    return text


def _checked_json(credential: object) -> dict[str, Any] | None:
    if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_JSON:
        return None
    try:
        data = json.loads(credential)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def credential_id_of(credential: object) -> str | None:
    """The ``id`` a browser's answer names, or ``None`` if it is not a usable answer."""
    data = _checked_json(credential)
    value = None if data is None else data.get("id")
    return value if isinstance(value, str) and value.isascii() else None


def verify_registration(
    party: RelyingParty, credential: str, *, challenge: bytes, name: str, now: datetime
) -> Passkey | None:
    """The new passkey, or ``None`` if the browser's answer does not verify."""
    webauthn = _webauthn()
    if _checked_json(credential) is None:
        return None
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
        )
    except (webauthn.helpers.exceptions.WebAuthnException, ValueError, KeyError, TypeError):
        return None
    helpers = webauthn.helpers
    return Passkey(
        credential_id=helpers.bytes_to_base64url(verified.credential_id),
        public_key=helpers.bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        name=name,
        created_at=now,
    )


def verify_authentication(
    party: RelyingParty, credential: str, *, passkey: Passkey, challenge: bytes
) -> int | None:
    """The new sign count if the answer verifies for ``passkey``, else ``None``."""
    webauthn = _webauthn()
    if _checked_json(credential) is None:
        return None
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
            credential_public_key=webauthn.base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except (webauthn.helpers.exceptions.WebAuthnException, ValueError, KeyError, TypeError):
        return None
    count: int = verified.new_sign_count
    return count
