"""The wire format of links: a link mailed by one release still verifies in the next.

The tokens below were issued with key ``b"k" * 32`` at 2025-01-01T00:00:00Z
for account ``acct-1``, credential version 3. If one of these tests fails, the
format changed and every link already in a mailbox dies with the upgrade.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from provider_identity import (
    InvalidInput,
    TokenInvalid,
    TokenIssuer,
    TokenPurpose,
    TokenWrongPurpose,
)
from provider_identity.testing import ManualClock

ISSUED = datetime(2025, 1, 1, tzinfo=UTC)
MAILED = {
    TokenPurpose.ACTIVATION: (
        "eyJhIjoiYWNjdC0xIiwicCI6ImFjdGl2YXRpb24iLCJ2IjozfQ.Z3SFgA."
        "foYo0fQxMnfLKmFC0uTsVKYxIBoEbmttIxWHlP2dwq8"
    ),
    TokenPurpose.PASSWORD_RESET: (
        "eyJhIjoiYWNjdC0xIiwicCI6InBhc3N3b3JkLXJlc2V0IiwidiI6M30.Z3SFgA."
        "lFDw09rbwome7TOgBeGavDVhsJwAljwfLbt-3t3kkmM"
    ),
    TokenPurpose.DEVICE: (
        "eyJhIjoiYWNjdC0xIiwicCI6ImRldmljZSIsInYiOjN9.Z3SFgA."
        "X3On8h9oIxJCI_am-GzDm3nnTxVaC2hiONPyd-0wdsw"
    ),
    TokenPurpose.EMAIL_CHANGE: (
        "eyJhIjoiYWNjdC0xIiwicCI6ImVtYWlsLWNoYW5nZSIsInYiOjN9.Z3SFgA."
        "YDuBaS5gHOtFAttYUUXtO4FMwkUnDTbaLQ5FrJflbOI"
    ),
}
#: An email change link as mailed: it carries the request's nonce (``n-1``), never an address.
MAILED_WITH_NONCE = (
    "eyJhIjoiYWNjdC0xIiwicCI6ImVtYWlsLWNoYW5nZSIsInYiOjMsIm4iOiJuLTEifQ.Z3SFgA."
    "bpHwT7Yv03rATn1dNyADJroOi7tPiUvmw23gEFVHoA8"
)
OTHER_NAMESPACE_ACTIVATION = (
    "eyJhIjoiYWNjdC0xIiwicCI6ImFjdGl2YXRpb24iLCJ2IjozfQ.Z3SFgA."
    "uix9YWyohf5lOJycD-_tJPkeGR8er9xxTBFYab0C32s"
)


def issuer(*, at: datetime = ISSUED, namespace: str = "provider-identity") -> TokenIssuer:
    """The issuer that made the tokens above, reading a clock stopped at ``at``."""
    return TokenIssuer(current=b"k" * 32, clock=ManualClock(at), namespace=namespace)


@pytest.mark.parametrize("purpose", list(MAILED))  # the purposes whose links are mailed
def test_issuing_gives_the_mailed_token_exactly(purpose: TokenPurpose) -> None:
    """Same key, clock and claims: the same token, byte for byte."""
    assert issuer().issue(purpose, account_id="acct-1", credential_version=3) == MAILED[purpose]


@pytest.mark.parametrize("purpose", list(MAILED))  # the purposes whose links are mailed
def test_mailed_tokens_verify_with_their_claims(purpose: TokenPurpose) -> None:
    """A mailed link, opened a minute later, yields the claims it was issued with."""
    claims = issuer(at=ISSUED + timedelta(minutes=1)).verify(MAILED[purpose], purpose)
    assert (claims.account_id, claims.purpose, claims.credential_version, claims.issued_at) == (
        "acct-1",
        purpose,
        3,
        ISSUED,
    )


def test_an_email_change_link_keeps_its_nonce_and_names_no_address() -> None:
    """The nonce round-trips; the payload holds account, purpose, version and nonce only."""
    tokens = issuer()
    issued = tokens.issue(
        TokenPurpose.EMAIL_CHANGE, account_id="acct-1", credential_version=3, nonce="n-1"
    )
    assert issued == MAILED_WITH_NONCE
    claims = tokens.verify(MAILED_WITH_NONCE, TokenPurpose.EMAIL_CHANGE)
    assert claims.nonce == "n-1"
    assert "n-1" not in repr(claims)
    payload = base64.urlsafe_b64decode(MAILED_WITH_NONCE.split(".", maxsplit=1)[0] + "==")
    assert json.loads(payload) == {"a": "acct-1", "p": "email-change", "v": 3, "n": "n-1"}


def test_mailed_tokens_are_bound_to_their_purpose() -> None:
    """The activation link is not a reset link, and the refusal says so."""
    with pytest.raises(TokenWrongPurpose):
        issuer().verify(MAILED[TokenPurpose.ACTIVATION], TokenPurpose.PASSWORD_RESET)
    with pytest.raises(TokenWrongPurpose):
        issuer().verify(MAILED[TokenPurpose.PASSWORD_RESET], TokenPurpose.ACTIVATION)


def test_the_namespace_is_part_of_the_signature() -> None:
    """Another deployment's link (same key) is refused, and its own issuer makes it."""
    other = issuer(namespace="other")
    assert (
        other.issue(TokenPurpose.ACTIVATION, account_id="acct-1", credential_version=3)
        == OTHER_NAMESPACE_ACTIVATION
    )
    with pytest.raises(TokenInvalid):
        issuer().verify(OTHER_NAMESPACE_ACTIVATION, TokenPurpose.ACTIVATION)


def test_a_purpose_that_is_not_a_token_purpose_is_refused_in_words() -> None:
    """Issuing or verifying for "activation" (text, not the enum): the field and its words."""
    for call in (
        lambda: issuer().issue("activation", account_id="a1", credential_version=1),  # type: ignore[arg-type]
        lambda: issuer().verify("token", "activation"),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        (error,) = caught.value.errors
        assert (error.field, error.code, error.message) == (
            "purpose",
            "wrong_type",
            "purpose must be a TokenPurpose.",
        )
