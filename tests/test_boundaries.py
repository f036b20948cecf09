"""Every documented limit, tried on both sides of its edge.

Each number below is the documented one, written out (not read from the
library's constant), so a moved boundary fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provider_identity import (
    ConfigurationError,
    InvalidInput,
    LineOfBusiness,
    LockoutPolicy,
    PasswordPolicy,
    RegistrationMatcher,
    SecurityQuestions,
    TokenExpired,
    TokenInvalid,
    TokenIssuer,
    TokenPurpose,
)
from provider_identity.lockout import LockoutState
from provider_identity.passwords import identifier_keys
from provider_identity.providers import (
    mask_tax_id,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.testing import ManualClock, MemoryProviderDirectory
from tests.helpers import KEY

NOW = datetime(2025, 1, 1, tzinfo=UTC)


# Lockout -----------------------------------------------------------------------------


@pytest.mark.parametrize("max_failures", [1, 2, 99, 100])
def test_max_failures_from_one_to_a_hundred_is_accepted(max_failures: int) -> None:
    """1 and 100 (NIST's ceiling) are both allowed."""
    assert LockoutPolicy(max_failures=max_failures).max_failures == max_failures


@pytest.mark.parametrize("max_failures", [0, -1, 101])
def test_max_failures_outside_one_to_a_hundred_is_refused(max_failures: int) -> None:
    """0 and 101 are just outside the range."""
    with pytest.raises(ConfigurationError):
        LockoutPolicy(max_failures=max_failures)


def test_the_shortest_lock_is_accepted() -> None:
    """Any positive duration, one microsecond included, is a lock."""
    assert LockoutPolicy(lock_duration=timedelta(microseconds=1)).lock_duration == timedelta(
        microseconds=1
    )


def test_a_state_with_only_a_lock_end_expires_when_the_lock_ends() -> None:
    """Without expires_at (a store that keeps only the lock), the lock's end decides."""
    state = LockoutState(5, locked_until=NOW)
    assert not state.is_expired(NOW - timedelta(microseconds=1))
    assert state.is_expired(NOW)


def test_a_state_expires_at_its_expiry_even_before_the_lock_would_end() -> None:
    """expires_at, when kept, wins over locked_until."""
    state = LockoutState(5, locked_until=NOW + timedelta(hours=1), expires_at=NOW)
    assert state.is_expired(NOW)


def test_a_state_without_any_end_never_expires() -> None:
    """Neither a lock nor an expiry: kept until cleared."""
    assert not LockoutState(3).is_expired(NOW + timedelta(days=10_000))


# Tokens ------------------------------------------------------------------------------


def test_signing_keys_of_32_bytes_are_accepted_31_refused() -> None:
    """256 bits is the shortest key, as str or bytes, current or previous."""
    assert TokenIssuer(current=b"k" * 32, previous=["p" * 32]).current == b"k" * 32
    for short in ({"current": b"k" * 31}, {"current": KEY, "previous": [b"p" * 31]}):
        with pytest.raises(ConfigurationError):
            TokenIssuer(**short)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        TokenIssuer(current="k" * 31)


def test_a_key_is_measured_in_utf8_bytes_not_characters() -> None:
    """16 two-byte characters are 32 bytes: enough."""
    assert TokenIssuer(current="é" * 16).current == "é" * 16


def test_a_lifetime_of_one_second_is_accepted_less_refused() -> None:
    """1 second is the shortest lifetime; 999 ms is refused for either purpose."""
    for purpose in TokenPurpose:
        assert TokenIssuer(current=KEY, lifetimes={purpose: timedelta(seconds=1)}).lifetimes[
            purpose
        ] == timedelta(seconds=1)
        with pytest.raises(ConfigurationError):
            TokenIssuer(current=KEY, lifetimes={purpose: timedelta(milliseconds=999)})


def test_a_token_of_512_characters_is_decoded_513_refused_first() -> None:
    """512 characters reach the signature check; 513 are refused before it."""
    issuer = TokenIssuer(current=KEY, clock=ManualClock(NOW))
    token = issuer.issue(TokenPurpose.ACTIVATION, account_id="a" * 300, credential_version=1)
    assert len(token) <= 512
    padded = token + "A" * (512 - len(token))
    with pytest.raises(TokenInvalid):  # garbled, but looked at
        issuer.verify(padded, TokenPurpose.ACTIVATION)
    seen: list[str] = []

    class Spy(TokenIssuer):
        def _signed_for_another_purpose(self, token: str, purpose: TokenPurpose) -> bool:
            seen.append(token)
            return False

    spy = Spy(current=KEY, clock=ManualClock(NOW))
    for candidate in (padded, padded + "A"):
        with pytest.raises(TokenInvalid):
            spy.verify(candidate, TokenPurpose.ACTIVATION)
    assert seen == [padded]


def test_a_token_is_valid_for_exactly_its_lifetime() -> None:
    """A reset link works for 3,600 seconds and expires at 3,601."""
    clock = ManualClock(NOW)
    issuer = TokenIssuer(current=KEY, clock=clock)
    token = issuer.issue(TokenPurpose.PASSWORD_RESET, account_id="a1", credential_version=2)
    clock.advance(timedelta(seconds=3600))
    assert issuer.verify(token, TokenPurpose.PASSWORD_RESET).credential_version == 2
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        issuer.verify(token, TokenPurpose.PASSWORD_RESET)


def test_a_token_dated_up_to_a_minute_ahead_is_accepted() -> None:
    """Clock skew: 60 seconds in the future is fine, 61 is forged."""
    for ahead, ok in ((60, True), (61, False)):
        signer = TokenIssuer(current=KEY, clock=ManualClock(NOW + timedelta(seconds=ahead)))
        token = signer.issue(TokenPurpose.ACTIVATION, account_id="a1", credential_version=1)
        verifier = TokenIssuer(current=KEY, clock=ManualClock(NOW))
        if ok:
            assert verifier.verify(token, TokenPurpose.ACTIVATION).account_id == "a1"
        else:
            with pytest.raises(TokenInvalid):
                verifier.verify(token, TokenPurpose.ACTIVATION)


# Provider identifiers ----------------------------------------------------------------


def test_identifiers_of_64_raw_characters_are_read_65_refused() -> None:
    """Formatting may pad an identifier to 64 characters; one more is too long."""
    assert normalize_tax_id("12-3456789".ljust(64)) == "123456789"
    assert normalize_zip("45402".ljust(64)) == "45402"
    assert normalize_provider_id("p1".rjust(64)) == "P1"
    assert normalize_npi("1234567893".center(64)) == "1234567893"
    for normalize, typed in (
        (normalize_tax_id, "12-3456789"),
        (normalize_zip, "45402-"),
        (normalize_provider_id, "P1"),
        (normalize_npi, "1234567893"),
    ):
        with pytest.raises(InvalidInput) as caught:
            normalize(typed.ljust(65))
        assert [error.code for error in caught.value.errors] == ["too_long"]


def test_names_of_200_characters_are_read_201_refused() -> None:
    """The name limit is 200 characters, spaces included."""
    assert normalize_name("A" * 200) == "a" * 200
    with pytest.raises(InvalidInput):
        normalize_name("A" * 201)


def test_provider_ids_have_one_to_thirty_characters() -> None:
    """30 letters, digits or hyphens are an ID; 31 are not."""
    assert normalize_provider_id("P" + "1" * 29) == "P" + "1" * 29
    with pytest.raises(InvalidInput):
        normalize_provider_id("P" + "1" * 30)


def test_already_normal_identifiers_come_back_unchanged() -> None:
    """9 and 5 plain digits are returned as typed; 8 or 10 are not taken for them."""
    assert normalize_tax_id("123456789") == "123456789"
    assert normalize_zip("45402") == "45402"
    for normalize, typed in (
        (normalize_tax_id, "12345678"),
        (normalize_tax_id, "1234567890"),
        (normalize_zip, "4540"),
        (normalize_zip, "454021"),
    ):
        with pytest.raises(InvalidInput):
            normalize(typed)


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1679576722", "1003000126"])
def test_real_npis_pass_the_luhn_check(npi: str) -> None:
    """NPIs published by CMS pass; so does the standard's own example."""
    assert normalize_npi(npi) == npi


@pytest.mark.parametrize("npi", ["1234567890", "1245319590", "1679576720", "1003000120"])
def test_npis_with_another_check_digit_fail(npi: str) -> None:
    """The same NPIs with a wrong 10th digit fail the check."""
    with pytest.raises(InvalidInput) as caught:
        normalize_npi(npi)
    assert [error.code for error in caught.value.errors] == ["invalid_check_digit"]


def test_mask_keeps_exactly_the_last_four_digits() -> None:
    """Five stars, then digits 6 to 9."""
    assert mask_tax_id("123456789") == "*****6789"


# Passwords and security answers ------------------------------------------------------


def codes(policy: PasswordPolicy, password: str, **identifiers: str) -> list[str]:
    """The codes of the rules ``password`` breaks."""
    return [violation.code for violation in policy.check(password, **identifiers)]


def test_passwords_of_12_to_128_characters_are_long_enough_and_short_enough() -> None:
    """The seed's minimum is 12 characters and the default maximum 128."""
    assert codes(PasswordPolicy(), "Aa1!" * 3) == []
    assert codes(PasswordPolicy(), "Aa1!" * 3 + "x" * 116) == []
    assert codes(PasswordPolicy(), "Aa1!xxxxxxx") == ["too_short"]
    assert codes(PasswordPolicy(), "Aa1!" * 3 + "x" * 117) == ["too_long"]


def test_password_length_settings_at_their_edges() -> None:
    """max_length 64 and min_length 1 are allowed, 63 and 0 are not; min may equal max."""
    assert PasswordPolicy(min_length=64, max_length=64).max_length == 64
    assert PasswordPolicy(min_length=1).min_length == 1
    assert PasswordPolicy(history=0).history == 0
    for changes in (
        {"max_length": 63},
        {"min_length": 0},
        {"history": -1},
        {"min_length": 65, "max_length": 64},
    ):
        with pytest.raises(ConfigurationError):
            PasswordPolicy(**changes)  # type: ignore[arg-type]


def test_identifiers_of_four_characters_are_looked_for_three_are_not() -> None:
    """A 4-character username may not appear in the password; a 3-character one may."""
    policy = PasswordPolicy()
    assert codes(policy, "Blue-Jdoe-2031x", username="jdoe") == ["contains_identifier"]
    assert codes(policy, "Blue-Abc-2031xy", username="abc") == []
    assert codes(policy, "Blue-Jdoe-2031x", email="jdoe@example.org") == ["contains_identifier"]
    assert codes(policy, "Blue-Abc-2031xy", email="abc@example.org") == []


def test_identifier_keys_come_from_the_username_and_the_whole_local_part() -> None:
    """Both identifiers count; the local part runs to the last "@" (RFC 5321)."""
    assert identifier_keys("jdoe", "jane.doe@example.org") == ("jdoe", "jane.doe")
    assert identifier_keys(None, "jdoe@home@example.org") == ("jdoeahome",)


def test_security_answers_of_128_characters_are_taken_129_refused() -> None:
    """The default answer limit is 128 characters."""
    questions = SecurityQuestions()
    question = questions.questions[0]
    assert questions.validate(question, "A" * 128) == "a" * 128
    with pytest.raises(InvalidInput) as refused:
        questions.validate(question, "A" * 129)
    assert [error.code for error in refused.value.errors] == ["too_long"]


def test_wrong_security_answers_lock_after_three_for_a_day() -> None:
    """The default wrong-answer limit is 3 attempts, then a 24-hour lock."""
    assert SecurityQuestions().attempts == LockoutPolicy(
        max_failures=3, lock_duration=timedelta(hours=24)
    )


# Registration ------------------------------------------------------------------------


def test_help_lines_fall_back_to_all_when_the_line_has_none() -> None:
    """A line of business without its own help line gets every configured line."""
    matcher = RegistrationMatcher(
        directory=MemoryProviderDirectory([]), help_lines={LineOfBusiness.MEDICAID: "1-800-1"}
    )
    assert matcher.help_lines_for(LineOfBusiness.MARKETPLACE) == (("Medicaid", "1-800-1"),)
    assert matcher.help_lines_for(LineOfBusiness.MEDICAID) == (("Medicaid", "1-800-1"),)
    assert matcher.help_lines_for(None) == (("Medicaid", "1-800-1"),)
