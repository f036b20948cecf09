"""TokenIssuer: signed, purpose-bound, expiring tokens and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zlib
from datetime import timedelta

import itsdangerous
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from provider_identity import (
    ConfigurationError,
    IdentityService,
    TokenClaims,
    TokenExpired,
    TokenInvalid,
    TokenIssuer,
    TokenPurpose,
    TokenWrongPurpose,
)
from provider_identity.errors import TokenError
from provider_identity.testing import ManualClock, RecordingMailer
from provider_identity.tokens import MAX_CLOCK_SKEW, MAX_TOKEN_LENGTH
from tests.helpers import KEY, practitioner

ACTIVATION, RESET = TokenPurpose.ACTIVATION, TokenPurpose.PASSWORD_RESET
EMAIL_CHANGE = TokenPurpose.EMAIL_CHANGE
OTHER = {
    ACTIVATION: RESET,
    RESET: EMAIL_CHANGE,
    EMAIL_CHANGE: ACTIVATION,
    TokenPurpose.DEVICE: ACTIVATION,
}
OLD, NEW = b"o" * 32, b"n" * 32

purposes = st.sampled_from(TokenPurpose)
account_ids = st.text(st.characters(codec="utf-8"), max_size=16)
versions = st.integers(min_value=0, max_value=2**53)
keys = st.binary(min_size=32, max_size=64)
#: Characters a mutation may write: the token alphabet, its separators and some strays.
token_chars = st.sampled_from("AZaz09-_.=!+/ é") | st.characters(codec="utf-8")


def issuer(
    key: str | bytes = KEY, clock: ManualClock | None = None, **kwargs: object
) -> TokenIssuer:
    return TokenIssuer(current=key, clock=clock or ManualClock(), **kwargs)  # type: ignore[arg-type]


def outcome(tokens: TokenIssuer, token: object, purpose: TokenPurpose) -> object:
    """The claims, or the class of the TokenError raised."""
    try:
        return tokens.verify(token, purpose)
    except TokenError as err:
        return type(err)


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def payload_text(token: str) -> str:
    """The JSON a token carries in clear (zlib-compressed when that is shorter)."""
    compressed, segment = token.startswith("."), token.lstrip(".").split(".")[0]
    raw = b64decode(segment)
    return (zlib.decompress(raw) if compressed else raw).decode()


def forge(payload: object, purpose: TokenPurpose, clock: ManualClock, key: bytes = KEY) -> str:
    """Sign any payload exactly as TokenIssuer does (salt ``namespace/purpose``)."""

    class ClockSigner(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    serializer = itsdangerous.URLSafeTimedSerializer(
        key,
        salt=f"provider-identity/{purpose.value}",
        signer=ClockSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    return serializer.dumps(payload)


@given(purpose=purposes, account_id=account_ids, version=versions)
def test_issue_verify_round_trip(purpose: TokenPurpose, account_id: str, version: int) -> None:
    """Whatever is issued verifies to the same claims, stamped with the clock's time."""
    clock = ManualClock()
    tokens = issuer(clock=clock)
    token = tokens.issue(purpose, account_id=account_id, credential_version=version)
    assert tokens.verify(token, purpose) == TokenClaims(
        account_id=account_id, purpose=purpose, credential_version=version, issued_at=clock.now()
    )


@pytest.mark.parametrize("purpose", TokenPurpose)
def test_signature_is_hmac_sha256_with_a_salt_per_purpose(purpose: TokenPurpose) -> None:
    """The last segment is HMAC-SHA-256 (43 base64 characters) under a per-purpose derived key."""
    token = issuer().issue(purpose, account_id="a1", credential_version=1)
    signed, _, signature = token.rpartition(".")
    assert len(signature) == 43
    derived = hashlib.sha256(f"provider-identity/{purpose.value}".encode() + b"signer" + KEY)
    expected = hmac.new(derived.digest(), signed.encode(), hashlib.sha256).digest()
    assert b64decode(signature) == expected


@pytest.mark.parametrize("purpose", TokenPurpose)
def test_token_for_one_purpose_is_refused_for_the_other(purpose: TokenPurpose) -> None:
    """An activation token is no reset token, a reset token no email change token, and so on."""
    tokens = issuer()
    token = tokens.issue(purpose, account_id="a1", credential_version=1)
    with pytest.raises(TokenWrongPurpose):
        tokens.verify(token, OTHER[purpose])


@pytest.mark.parametrize("purpose", TokenPurpose)
@pytest.mark.parametrize("verified_as", TokenPurpose)
def test_namespace_separates_deployments(purpose: TokenPurpose, verified_as: TokenPurpose) -> None:
    """Two deployments sharing a key accept none of each other's tokens, for any purpose."""
    token = issuer(namespace="staging").issue(purpose, account_id="a1", credential_version=1)
    with pytest.raises(TokenInvalid):
        issuer(namespace="production").verify(token, verified_as)


@pytest.mark.parametrize(
    ("purpose", "lifetimes", "lifetime"),
    [
        (ACTIVATION, {}, timedelta(hours=72)),
        (RESET, {}, timedelta(hours=1)),
        (RESET, {RESET: timedelta(minutes=30)}, timedelta(minutes=30)),
        (ACTIVATION, {ACTIVATION: timedelta(seconds=1)}, timedelta(seconds=1)),
    ],
)
def test_valid_at_exactly_its_lifetime_and_expired_a_second_later(
    purpose: TokenPurpose, lifetimes: dict[TokenPurpose, timedelta], lifetime: timedelta
) -> None:
    """Defaults 72 h / 1 h; the last valid instant is issue time + lifetime."""
    clock = ManualClock()
    tokens = issuer(clock=clock, lifetimes=lifetimes)
    token = tokens.issue(purpose, account_id="a1", credential_version=1)
    clock.advance(lifetime)
    assert tokens.verify(token, purpose).account_id == "a1"
    clock.advance(1)
    with pytest.raises(TokenExpired):
        tokens.verify(token, purpose)


@given(
    purpose=purposes,
    lifetime=st.integers(min_value=1, max_value=10**6),
    elapsed=st.integers(min_value=0, max_value=2 * 10**6),
    start_micros=st.integers(min_value=0, max_value=999_999),
)
def test_expiry_policy(
    purpose: TokenPurpose, lifetime: int, elapsed: int, start_micros: int
) -> None:
    """Accepted iff at most ``lifetime`` whole seconds passed, even when issued mid-second."""
    clock = ManualClock()
    clock.advance(microseconds=start_micros)
    tokens = issuer(clock=clock, lifetimes={purpose: timedelta(seconds=lifetime)})
    token = tokens.issue(purpose, account_id="a1", credential_version=1)
    clock.advance(elapsed)
    result = outcome(tokens, token, purpose)
    assert isinstance(result, TokenClaims) if elapsed <= lifetime else result is TokenExpired


@given(skew=st.integers(min_value=0, max_value=10 * 86_400))
def test_future_dated_tokens_are_invalid_beyond_the_clock_skew(skew: int) -> None:
    """A token stamped up to 60 s ahead is accepted; further ahead it is forged, not early."""
    clock = ManualClock()
    ahead = ManualClock(clock.now() + timedelta(seconds=skew))
    token = issuer(clock=ahead).issue(RESET, account_id="a1", credential_version=1)
    result = outcome(issuer(clock=clock), token, RESET)
    if skew <= MAX_CLOCK_SKEW.total_seconds():
        assert isinstance(result, TokenClaims)
    else:
        assert result is TokenInvalid


def test_token_from_an_hour_ahead_is_invalid() -> None:
    """The lead's example: an issuer whose clock runs an hour fast makes invalid tokens."""
    clock = ManualClock()
    ahead = ManualClock(clock.now() + timedelta(hours=1))
    token = issuer(clock=ahead).issue(ACTIVATION, account_id="a1", credential_version=1)
    with pytest.raises(TokenInvalid):
        issuer(clock=clock).verify(token, ACTIVATION)


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """One edit of ``token``: replace, delete, insert, truncate or extend."""
    index = draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = draw(token_chars)
    return draw(
        st.sampled_from(
            [
                token[:index] + char + token[index + 1 :],
                token[:index] + token[index + 1 :],
                token[:index] + char + token[index:],
                token[:index],
                token + draw(st.text(token_chars, min_size=1, max_size=8)),
            ]
        )
    )


@given(purpose=purposes, account_id=account_ids, version=versions, data=st.data())
def test_edited_token_is_never_accepted_with_other_claims(
    purpose: TokenPurpose, account_id: str, version: int, data: st.DataObject
) -> None:
    """Any single edit is TokenInvalid, or (a re-spelling of the signature) the same claims."""
    tokens = issuer()
    token = tokens.issue(purpose, account_id=account_id, credential_version=version)
    mutated = data.draw(mutations(token))
    assume(mutated != token)
    assert outcome(tokens, mutated, purpose) in (TokenInvalid, tokens.verify(token, purpose))


@given(purpose=purposes, first=account_ids, second=account_ids, data=st.data())
def test_spliced_tokens_never_yield_new_claims(
    purpose: TokenPurpose, first: str, second: str, data: st.DataObject
) -> None:
    """A prefix of one token joined to a suffix of another is invalid or one of the two."""
    tokens = issuer()
    a = tokens.issue(purpose, account_id=first, credential_version=1)
    b = tokens.issue(purpose, account_id=second, credential_version=2)
    cut_a = data.draw(st.integers(min_value=0, max_value=len(a)))
    cut_b = data.draw(st.integers(min_value=0, max_value=len(b)))
    result = outcome(tokens, a[:cut_a] + b[cut_b:], purpose)
    assert result in (TokenInvalid, tokens.verify(a, purpose), tokens.verify(b, purpose))


def test_payload_of_one_token_with_signature_of_another_is_invalid() -> None:
    """Swapping the signed segments between two genuine tokens breaks both."""
    tokens = issuer()
    a = tokens.issue(RESET, account_id="victim", credential_version=1).split(".")
    b = tokens.issue(RESET, account_id="attacker", credential_version=1).split(".")
    with pytest.raises(TokenInvalid):
        tokens.verify(".".join([a[0], b[1], b[2]]), RESET)


def test_signature_has_several_spellings_so_single_use_lives_on_the_account() -> None:
    """itsdangerous ignores the last character's spare bits: why tokens are never stored as used."""
    tokens = issuer()
    token = tokens.issue(RESET, account_id="a1", credential_version=1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(token[-1])
    variant = token[:-1] + alphabet[value ^ 1]
    assert tokens.verify(variant, RESET) == tokens.verify(token, RESET)


@given(purpose=purposes, account_id=account_ids, version=versions)
def test_payload_holds_only_account_purpose_and_version(
    purpose: TokenPurpose, account_id: str, version: int
) -> None:
    """The readable payload is exactly {a, p, v}: nothing else travels in a link."""
    token = issuer().issue(purpose, account_id=account_id, credential_version=version)
    assert json.loads(payload_text(token)) == {"a": account_id, "p": purpose.value, "v": version}


def test_activation_link_carries_no_personal_data(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """A real activation link names an opaque account id, not the registrant."""
    account = service.register(practitioner()).account
    payload = payload_text(mailer.last_token())
    assert json.loads(payload) == {"a": account.id, "p": "activation", "v": 0}
    assert re.fullmatch(r"[0-9a-f]{32}", account.id)
    for personal in ("jdoe", "Jane", "Doe", "jane.doe", "45402", "P1000001", "1234567"):
        assert personal not in payload


def test_forged_payloads_signed_with_the_real_key_are_invalid() -> None:
    """Even a correctly signed payload must have the right shape and purpose inside."""
    clock = ManualClock()
    tokens = issuer(clock=clock)
    good = {"a": "a1", "p": "activation", "v": 1}
    assert tokens.verify(forge(good, ACTIVATION, clock), ACTIVATION).account_id == "a1"
    for bad in (
        {**good, "p": "password-reset"},
        {**good, "a": 1},
        {**good, "v": True},
        {**good, "v": "1"},
        {"a": "a1", "p": "activation"},
        ["a1", "activation", 1],
    ):
        with pytest.raises(TokenInvalid):
            tokens.verify(forge(bad, ACTIVATION, clock), ACTIVATION)


@pytest.mark.parametrize(
    "token",
    [None, 123, b"bytes.token.value", "", "a" * (MAX_TOKEN_LENGTH + 1), "..", "not-a-token"],
)
def test_non_str_empty_oversized_or_garbled_tokens_are_invalid(token: object) -> None:
    """Anything that is not a short string of the right shape is invalid, not an exception leak."""
    with pytest.raises(TokenInvalid):
        issuer().verify(token, ACTIVATION)


def test_genuine_token_as_bytes_is_invalid() -> None:
    """Only str tokens are accepted, even when the bytes are a genuine token."""
    tokens = issuer()
    token = tokens.issue(ACTIVATION, account_id="a1", credential_version=1)
    with pytest.raises(TokenInvalid):
        tokens.verify(token.encode(), ACTIVATION)


def test_rotation_verifies_tokens_signed_with_previous_keys() -> None:
    """``previous`` keys (a list or a single key) still verify after rotation."""
    clock = ManualClock()
    older = b"x" * 32
    old_token = issuer(OLD, clock).issue(RESET, account_id="a1", credential_version=3)
    older_token = issuer(older, clock).issue(RESET, account_id="a2", credential_version=4)
    rotated = TokenIssuer(current=NEW, previous=[older, OLD], clock=clock)
    assert rotated.verify(old_token, RESET).credential_version == 3
    assert rotated.verify(older_token, RESET).credential_version == 4
    single = TokenIssuer(current=NEW, previous=OLD, clock=clock)
    assert single.verify(old_token, RESET).account_id == "a1"


@given(old=keys, new=keys, purpose=purposes, account_id=account_ids)
def test_rotated_issuer_signs_with_current_only(
    old: bytes, new: bytes, purpose: TokenPurpose, account_id: str
) -> None:
    """Tokens from ``TokenIssuer(current=new, previous=[old])`` need ``new``, not ``old``."""
    assume(old != new)
    clock = ManualClock()
    token = TokenIssuer(current=new, previous=[old], clock=clock).issue(
        purpose, account_id=account_id, credential_version=1
    )
    assert issuer(new, clock).verify(token, purpose).account_id == account_id
    assert outcome(issuer(old, clock), token, purpose) is TokenInvalid


def test_str_and_bytes_keys_with_the_same_bytes_are_the_same_key() -> None:
    """A str key is its UTF-8 bytes."""
    clock = ManualClock()
    token = issuer("k" * 32, clock).issue(ACTIVATION, account_id="a1", credential_version=1)
    assert issuer(KEY, clock).verify(token, ACTIVATION).account_id == "a1"


@pytest.mark.parametrize("key", [b"k" * 31, "k" * 31, b"", "é" * 15, 12345, bytearray(32)])
@pytest.mark.parametrize("where", ["current", "previous"])
def test_short_or_ill_typed_keys_are_refused(key: object, where: str) -> None:
    """Keys need 32 bytes (UTF-8 for str) whether they sign or only verify."""
    kwargs = {"current": key} if where == "current" else {"current": KEY, "previous": [key]}
    with pytest.raises(ConfigurationError):
        TokenIssuer(**kwargs)


def test_key_length_is_counted_in_bytes() -> None:
    """Sixteen two-byte characters make a 32-byte key."""
    assert issuer("é" * 16).issue(ACTIVATION, account_id="a1", credential_version=1)


def test_keys_stay_out_of_repr() -> None:
    """Neither the signing nor the retired keys show in repr."""
    text = repr(TokenIssuer(current=NEW, previous=[OLD]))
    assert "nnnn" not in text
    assert "oooo" not in text


@pytest.mark.parametrize("purpose", TokenPurpose)
@pytest.mark.parametrize(
    "lifetime", [timedelta(0), timedelta(milliseconds=999), timedelta(seconds=-1)]
)
def test_lifetimes_below_one_second_are_refused(purpose: TokenPurpose, lifetime: timedelta) -> None:
    """Every purpose needs a lifetime of at least a second."""
    with pytest.raises(ConfigurationError):
        TokenIssuer(current=KEY, lifetimes={purpose: lifetime})


def test_partial_lifetimes_are_merged_with_the_defaults() -> None:
    """Overriding one purpose keeps the others' defaults."""
    tokens = TokenIssuer(current=KEY, lifetimes={RESET: timedelta(minutes=15)})
    assert tokens.lifetimes == {
        ACTIVATION: timedelta(hours=72),
        RESET: timedelta(minutes=15),
        TokenPurpose.DEVICE: timedelta(days=30),
        EMAIL_CHANGE: timedelta(hours=24),
    }
