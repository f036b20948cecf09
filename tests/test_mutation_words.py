"""Refusals in the words their readers see: a user's message, a developer's setting.

Written for mutation testing of accounts.py, passwords.py, tokens.py and
i18n.py: every sentence is written out here, not read from the module, and
each bound is tried on both sides.
"""

from __future__ import annotations

from typing import Any

import pytest

from provider_identity import ConfigurationError, InvalidInput, PasswordPolicy, TokenIssuer
from provider_identity.accounts import canonical_username
from provider_identity.i18n import Text, translate

KEY = "k" * 32


def configuration_refusal(build: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        build(**kwargs)
    return str(caught.value)


def username_refusal(typed: str) -> tuple[str, str, str]:
    with pytest.raises(InvalidInput) as caught:
        canonical_username(typed)
    [error] = caught.value.errors
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
