"""Refusals in the words their readers see: a user's message, a developer's setting.

Written for mutation testing of accounts.py, passwords.py, tokens.py and
i18n.py: every sentence is written out here, not read from the module, and
each bound is tried on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import pytest

from provider_identity import (
    ConfigurationError,
    FieldError,
    InvalidInput,
    PasswordPolicy,
    TokenIssuer,
)
from provider_identity._fields import checked_text
from provider_identity.accounts import canonical_username
from provider_identity.clock import ensure_utc
from provider_identity.i18n import Text, translate
from provider_identity.providers import normalize_zip
from provider_identity.testing import sample_records

KEY = "k" * 32


def configuration_refusal(build: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        build(**kwargs)
    return str(caught.value)


def only_error(call: Callable[[], object]) -> FieldError:
    with pytest.raises(InvalidInput) as caught:
        call()
    [error] = caught.value.errors
    return error


def username_refusal(typed: str) -> tuple[str, str, str]:
    error = only_error(lambda: canonical_username(typed))
    return error.field, error.code, error.message


def test_a_user_name_of_the_wrong_length_is_told_the_range() -> None:
    """Two characters and 65 are refused with the range 3 to 64; 3 and 64 are taken."""
    expected = ("username", "invalid_length", "User Name must be 3 to 64 characters.")
    assert username_refusal("ab") == expected
    assert username_refusal("a" * 65) == expected
    assert canonical_username("abc") == "abc"
    assert canonical_username("a" * 64) == "a" * 64


def test_a_user_name_starting_with_a_symbol_is_told_how_it_may_start() -> None:
    """'_abc' is refused in words; 'abc_' and '1abc' are taken."""
    assert username_refusal("_abc") == (
        "username",
        "invalid_start",
        "User Name must start with a letter or a digit.",
    )
    assert canonical_username("abc_") == "abc_"
    assert canonical_username("1abc") == "1abc"


def test_context_words_that_are_not_text_are_refused_naming_the_setting() -> None:
    """A number as PasswordPolicy.context_words is refused in words naming it."""
    assert configuration_refusal(PasswordPolicy, context_words=5) == (
        "PasswordPolicy.context_words must be a list of text."
    )


def test_the_second_factor_minimum_may_equal_the_minimum_but_not_exceed_it() -> None:
    """min_length 12: a second-factor minimum of 12 is taken, 13 is refused in words."""
    assert PasswordPolicy(min_length=12, min_length_with_second_factor=12).min_length == 12
    assert configuration_refusal(
        PasswordPolicy, min_length=12, min_length_with_second_factor=13
    ) == ("min_length_with_second_factor may not exceed min_length.")


def test_previous_signing_keys_are_refused_naming_the_previous_setting() -> None:
    """A number, and a key too short, as TokenIssuer.previous: refusals naming 'previous'."""
    assert configuration_refusal(TokenIssuer, current=KEY, previous=5) == (
        "TokenIssuer.previous must be a list of signing keys."
    )
    assert configuration_refusal(TokenIssuer, current=KEY, previous=["short"]) == (
        "TokenIssuer.previous: signing keys must be str or bytes of at least 32 bytes; "
        "use secrets.token_bytes(32)."
    )


def test_a_plural_without_a_whole_count_takes_the_plural_form_in_every_language() -> None:
    """A count that is missing or not a whole number reads as 'not one', in English and Spanish."""
    several = Text("{count} hour", "{count} hours", {"count": "several"})
    assert (str(several), translate(several, "es")) == ("several hours", "several horas")
    missing = Text("{count} hour", "{count} hours")
    assert (str(missing), translate(missing, "es")) == ("{count} hours", "{count} horas")
    one = Text("{count} hour", "{count} hours", {"count": 1})
    assert (str(one), translate(one, "es")) == ("1 hour", "1 hora")


def codes(password: str, **kwargs: Any) -> list[str]:
    return [violation.code for violation in PasswordPolicy().check(password, **kwargs)]


@pytest.mark.parametrize(
    "password",
    ["Kqwepzxc-2031", "Kmqwezxc-2031", "Qwerzxc-2031"],
    ids=["walk-from-2nd-key", "walk-from-3rd-key", "walk-from-1st-key"],
)
def test_a_keyboard_walk_is_found_starting_at_any_of_the_first_three_keys(password: str) -> None:
    """'qwe' then 'zxc' after one or two other keys (or none) is a walk: a common pattern."""
    assert "common_pattern" in codes(password)
    assert "common_pattern" not in codes(password.replace("zxc", "zpc"))


def test_a_season_at_the_start_is_cut_from_the_start() -> None:
    """'Summer' + 'football' is a season and a common word; with a season at the end, too."""
    assert "common_pattern" in codes("Summerfootball-2031")
    assert "common_pattern" in codes("Football-Summer-2031")
    assert "common_pattern" not in codes("Summerfoxtrotted-2031")


def test_a_second_factor_minimum_is_the_one_stated() -> None:
    """min_length 12, 8 with a second factor: a 7-character password is told 8, or else 12."""
    policy = PasswordPolicy(min_length=12, min_length_with_second_factor=8)
    [short] = policy.check("Ab1!xyz", second_factor=True)
    assert (short.code, short.message, short.params) == (
        "too_short",
        "Must be a minimum of 8 characters.",
        {"min": 8},
    )
    [short] = policy.check("Ab1!xyz")
    assert (short.message, short.params) == ("Must be a minimum of 12 characters.", {"min": 12})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"username": 7}, ("username", "wrong_type", "User name must be text.")),
        ({"email": b"x"}, ("email", "wrong_type", "Email must be text.")),
    ],
)
def test_identifiers_that_are_not_text_are_refused_by_label(
    changes: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    """A password check given a username or email that is not text names it in words."""
    error = only_error(lambda: PasswordPolicy().check("Blue-Heron-2031", **changes))
    assert (error.field, error.code, error.message) == expected


def test_a_user_name_mixing_alphabets_is_told_so_with_an_example() -> None:
    """'pаypal' with a Cyrillic 'а' is refused in words naming Latin and Cyrillic."""
    assert username_refusal("p\u0430ypal") == (
        "username",
        "mixed_script",
        "User Name may not mix letters of different alphabets (such as Latin and Cyrillic).",
    )


def test_a_moment_that_is_not_a_datetime_is_refused_in_words() -> None:
    """ensure_utc of a date string: the field's words and the developer's hint."""
    with pytest.raises(InvalidInput) as caught:
        ensure_utc("2026-01-05")  # type: ignore[arg-type]
    [error] = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "moment",
        "wrong_type",
        "A datetime is required.",
    )
    assert str(caught.value) == "not a datetime: pass an aware datetime (e.g. tzinfo=UTC)"


def test_a_single_field_error_keeps_its_parameters() -> None:
    """InvalidInput.single with params keeps them on the one FieldError; without, it has none."""
    [error] = InvalidInput.single("name", "too_long", "Too long.", {"max": 5}).errors
    assert error.params == {"max": 5}
    [error] = InvalidInput.single("name", "required", "Required.").errors
    assert error.params == {}


def test_token_lifetimes_that_are_no_mapping_are_refused_naming_the_setting() -> None:
    """A number as TokenIssuer.lifetimes: refused in words naming it and what it maps."""
    assert configuration_refusal(TokenIssuer, current=KEY, lifetimes=5) == (
        "TokenIssuer.lifetimes must map TokenPurpose members to timedelta values."
    )


def test_a_record_end_date_is_blank_or_ten_characters_of_iso_date() -> None:
    """'' is no end date; '2026-06-30' is one; with a space after it (11 characters), refused."""
    record = sample_records()[0]
    assert attrs.evolve(record, end_date="").end_date is None
    assert attrs.evolve(record, end_date="2026-06-30").end_date == date(2026, 6, 30)
    error = only_error(lambda: attrs.evolve(record, end_date="2026-06-30 "))
    assert (error.field, error.code, error.message) == (
        "end_date",
        "invalid_date",
        "End date must be a date: YYYY-MM-DD.",
    )


def test_a_zip_of_nine_plain_digits_is_zip_plus_four_and_ten_are_refused() -> None:
    """'454021234' is ZIP+4 as NPPES prints it; '4540212345' is no ZIP Code."""
    assert normalize_zip("454021234") == "45402"
    error = only_error(lambda: normalize_zip("4540212345"))
    assert (error.field, error.code) == ("zip_code", "invalid_format")


def test_text_too_long_states_its_maximum_as_a_parameter() -> None:
    """Eleven characters for a field of ten: too_long, in words and with max=10."""
    error = only_error(lambda: checked_text("note", "x" * 11, label="Note", max_length=10))
    assert (error.code, error.message, error.params) == (
        "too_long",
        "Note must be at most 10 characters.",
        {"max": 10},
    )
