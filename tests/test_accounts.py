"""Canonical usernames and email addresses, and the Account record."""

from __future__ import annotations

import bisect
import importlib.util
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from provider_identity import (
    Account,
    AccountStatus,
    InvalidInput,
    UsernameUnavailable,
    _script_table,
    canonical_email,
    canonical_username,
)
from provider_identity.accounts import EMAIL_MAX_LENGTH, canonicalize
from provider_identity.adapters.memory import MemoryAccountRepository
from provider_identity.providers import ProviderType
from provider_identity.testing.strategies import emails, usernames

#: Zero-width, joiner, bidi override and isolate, BOM, soft hyphen, fillers, private
#: use, unassigned, line separator, and controls (C0, DEL, C1).
FORBIDDEN = [
    "\u200b",
    "\u200d",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u00ad",
    "\u3164",
    "\u2800",
    "\ue000",
    "\u0378",
    "\u2028",
    "\x00",
    "\x1b",
    "\x7f",
    "\u0085",
]
#: Text a person might really type: letters, digits, marks, punctuation, symbols.
typed_text = st.text(
    st.one_of(st.characters(categories=("L", "M", "N", "P", "S")), st.sampled_from("ǅﬁﬀ²ＡᾈİßΣς")),
    min_size=1,
    max_size=24,
)
Canonicaliser = Callable[[object], object]


def error_codes(canon: Canonicaliser, value: object) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        canon(value)
    return [error.code for error in caught.value.errors]


def accepted(canon: Callable[[str], str], value: str) -> str:
    """``canon(value)``; generated values it refuses are discarded, not failures."""
    try:
        return canon(value)
    except InvalidInput:
        reject()


def email_key(value: str) -> str:
    return canonical_email(value).key


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that opens a socket or resolves a name (email-validator must not)."""
    calls: list[str] = []
    monkeypatch.setattr(socket.socket, "__init__", lambda *args, **kw: calls.append("socket"))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kw: calls.append("getaddrinfo"))
    yield
    assert calls == []


# --- canonicalize ----------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.text(max_size=24))
@example("ǅ")
@example("İ")
@example("ﬀ")
def test_canonicalize_is_idempotent(text: str) -> None:
    """canon(canon(x)) == canon(x) for any text, including compatibility and special folds."""
    once = canonicalize(text)
    assert canonicalize(once) == once


# --- usernames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("jdoe", "jdoe"),
        ("JDoe", "jdoe"),
        ("ＪＤｏｅ", "jdoe"),
        ("  jdoe\u3000", "jdoe"),
        ("Straße", "strasse"),
        ("ǅemo", "džemo"),
        ("ﬁnn", "finn"),
        ("mvr-admin", "mvr-admin"),
    ],
)
def test_username_canonical_form(typed: str, key: str) -> None:
    """Usernames are NFKC-normalised, case-folded and stripped of surrounding space."""
    assert canonical_username(typed) == key


#: Usernames in one writing system, with the characters every script may use.
one_script_text = st.sampled_from(
    [
        "abcxyzǅﬁﬀ²ＡİßÉ",
        "абвгдеёжИЙЯ",
        "αβγδΣςᾈΐ",
        "山田漢字たろうカタカナー",
        "김철수한글金",
        "नमस्तेक्षि",
        "علي٤٢ﻻ",
    ]
).flatmap(lambda letters: st.text(letters + "0123456789._-́", min_size=3, max_size=24))


@settings(max_examples=200)
@given(typed_text | one_script_text)
def test_username_canonical_form_is_idempotent(typed: str) -> None:
    """An accepted username's key is accepted again and maps to itself."""
    key = accepted(canonical_username, typed)
    assert canonical_username(key) == key
    assert canonicalize(key) == key or "@" in key  # an email-shaped key is the email's key


@pytest.mark.parametrize("char", FORBIDDEN)
def test_username_with_invisible_or_control_characters_is_refused(char: str) -> None:
    """Invisible, bidi, format and control characters refuse the username, stable code."""
    assert error_codes(canonical_username, f"jd{char}oe") == ["invalid_characters"]


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u2003", "\u3000", "\t"])
def test_username_with_inner_whitespace_is_refused(space: str) -> None:
    """Whitespace inside a username is refused, whatever its kind."""
    assert error_codes(canonical_username, f"j{space}doe") == ["invalid_characters"]


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [("abc", True), ("ab", False), ("a" * 64, True), ("a" * 65, False), ("ﬀ" * 32, True)],
)
def test_username_length_is_3_to_64_in_canonical_form(typed: str, accepted: bool) -> None:
    """Length bounds apply to the canonical key ('ﬀ' counts as two)."""
    if accepted:
        assert len(canonical_username(typed)) == len(typed.replace("ﬀ", "ff"))
    else:
        assert error_codes(canonical_username, typed) == ["invalid_length"]


@pytest.mark.parametrize(
    ("typed", "code"),
    [("ﬀ" * 33, "invalid_length"), ("a" * 257, "too_long"), ("", "required"), ("   ", "required")],
)
def test_username_length_errors(typed: str, code: str) -> None:
    """Too long after NFKC, oversized raw input and blank input each have their code."""
    assert error_codes(canonical_username, typed) == [code]


@pytest.mark.parametrize("canon", [canonical_username, canonical_email])
@pytest.mark.parametrize("value", [None, 123, b"jdoe", ["jdoe"]])
def test_non_text_is_invalid_input_not_type_error(canon: Canonicaliser, value: object) -> None:
    """Anything but str is reported as a wrong_type field error."""
    assert error_codes(canon, value) == ["wrong_type"]


@pytest.mark.parametrize(
    ("canon", "field"), [(canonical_username, "username"), (canonical_email, "email")]
)
def test_errors_name_the_field(canon: Callable[..., object], field: str) -> None:
    """Errors carry the default field name, or the one the caller gives."""
    for name in (field, "other"):
        with pytest.raises(InvalidInput) as caught:
            canon(None, **({} if name == field else {"field": name}))
        assert caught.value.fields == {name}


@pytest.mark.parametrize(
    "typed", ["\u0301\u0301\u0301", "_jdoe", ".jdoe", "-jdoe", "@jdoe", "\u2603jdoe", "\u00b7jdoe"]
)
def test_username_must_start_with_a_letter_or_digit(typed: str) -> None:
    """A username whose key starts with a mark, punctuation or symbol is refused: invalid_start."""
    assert error_codes(canonical_username, typed) == ["invalid_start"]


@pytest.mark.parametrize(
    "typed",
    [
        "jd\u043e\u0435",  # Latin j, d; Cyrillic o, ie: looks like "jdoe"
        "\u0440aypal",  # Cyrillic er, then Latin
        "j\u03bfhn",  # Greek omicron inside Latin
        "jdoe\u6f22",  # Latin and Han (UTS #39 single script allows no such mix)
        "\u0438\u0432\u0430\u043d\u03b1",  # Cyrillic and Greek
        "abc\u0967",  # Latin letters, Devanagari digit
        "\uae40\u3072\u3072",  # Hangul and Hiragana
    ],
)
def test_mixed_script_username_is_refused(typed: str) -> None:
    """Letters (or digits) from scripts that never share a word refuse the name: mixed_script."""
    assert error_codes(canonical_username, typed) == ["mixed_script"]


@pytest.mark.parametrize(
    "typed",
    [
        "jdoe",
        "jdoe42",
        "4jdoe",
        "jos\u0065\u0301",  # decomposed e-acute
        "\u0438\u0432\u0430\u043d_42",  # Cyrillic, Common punctuation and digits
        "\u03b5\u03bb\u03ad\u03bd\u03b7",  # Greek
        "\u5c71\u7530\u305f\u308d\u3046",  # Han + Hiragana: Japanese
        "\u30ab\u30bf\u30ab\u30ca\u30fc\u6f22",  # Katakana, prolonged sound mark, Han
        "\uae40\ucca0\uc218\u91d1",  # Hangul + Han: Korean
        "\u3105\u3106\u6f22",  # Bopomofo + Han
        "\u0928\u092e\u0938\u094d\u0924\u0947",  # Devanagari with virama and vowel signs
        "\u0639\u0644\u064a\u0664\u0662",  # Arabic letters and Arabic-Indic digits
        "jane@stra\u00dfe.example",
    ],
)
def test_single_script_username_is_accepted(typed: str) -> None:
    """One script, with Common and Inherited characters and the CJK mixes UTS #39 allows, passes."""
    assert canonical_username(typed) == canonical_username(canonical_username(typed))


_LATIN = "abcdefghijklmnopqrstuvwxyz"
_CYRILLIC = "\u0430\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u043e\u0440\u0441\u0445"
_GREEK = "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b9\u03ba\u03bf\u03c1\u03c4\u03c5"


@given(
    st.lists(st.sampled_from([_LATIN, _CYRILLIC, _GREEK]), min_size=2, max_size=2, unique=True),
    st.text(_LATIN + "0123456789._-", max_size=6),
    st.data(),
)
def test_any_two_scripts_in_one_username_are_refused(
    scripts: list[str], filler: str, data: st.DataObject
) -> None:
    """A letter of one alphabet anywhere among another's is refused, whatever the rest."""
    first, second = (data.draw(st.text(script, min_size=2, max_size=6)) for script in scripts)
    position = data.draw(st.integers(0, len(first)))
    typed = first[:position] + second + filler + first[position:]
    assert "mixed_script" in error_codes(canonical_username, typed)


_STRASSE = "jane@stra\u00dfe.example"


@pytest.mark.parametrize(
    "typed",
    [
        _STRASSE,
        "Jane@Stra\u00dfe.Example",
        "jane@xn--strae-oqa.example",
        "JANE@XN--STRAE-OQA.EXAMPLE",
        "jane\uff20stra\u00dfe.example",  # fullwidth commercial at
        "\uff4a\uff41\uff4e\uff45@xn--strae-oqa.example",  # fullwidth local part
    ],
)
def test_email_shaped_username_has_the_email_key(typed: str) -> None:
    """A username that is an email address gets that address's key: ß stays, xn-- is decoded."""
    assert canonical_username(typed) == email_key(_STRASSE)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("jane@stra\u00dfe.example", "jane@strasse.example"),
        (
            "\u03b5\u03bb\u03b1@\u03c2\u03b1.\u03b5\u03bb",
            "\u03b5\u03bb\u03b1@\u03c3\u03b1.\u03b5\u03bb",
        ),
    ],
)
def test_idn_domains_that_differ_keep_different_keys(first: str, second: str) -> None:
    """Distinct IDNA 2008 domains (ß vs ss, ς vs σ) stay distinct as usernames and as emails."""
    assert canonical_username(first) == email_key(first)
    assert canonical_username(second) == email_key(second)
    assert email_key(first) != email_key(second)


def test_username_equal_to_another_accounts_idn_email_is_unavailable() -> None:
    """The repository refuses a username whose key is an existing account's IDN email key."""
    accounts = MemoryAccountRepository()
    email = canonical_email(_STRASSE)
    accounts.add(
        attrs.evolve(make_account(AccountStatus.ACTIVE), email=email.address, email_key=email.key)
    )
    key = canonical_username("jane@xn--strae-oqa.example")
    with pytest.raises(UsernameUnavailable) as caught:
        accounts.add(
            attrs.evolve(
                make_account(AccountStatus.ACTIVE),
                id="acc-2",
                username_key=key,
                provider_id="P1000002",
                email_key="other@example.org",
            )
        )
    assert caught.value.field == "username"


def _punycode(label: str) -> str:
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def username_or_codes(value: str) -> str | set[str]:
    """The username key, or the codes of the errors that refused it."""
    try:
        return canonical_username(value)
    except InvalidInput as error:
        return {e.code for e in error.errors}


#: One script's letters (with ß, ς, σ) and the top-level domains to go with them.
_IDN_SCRIPTS = [
    ("abcz\u00df\u00fc\u00e9", ["example", "EXAMPLE"]),
    ("\u03b1\u03c3\u03c2\u03a3", ["\u03b5\u03bb"]),
]


@settings(max_examples=300)
@given(st.sampled_from(_IDN_SCRIPTS), st.data())
def test_usernames_and_emails_share_one_canonical_form_over_idn_domains(
    script: tuple[str, list[str]], data: st.DataObject
) -> None:
    """For IDN addresses (ß, ς, punycode) the username key is the email key, a fixed point."""
    letters, tlds = script
    local = data.draw(st.text(letters + "09._", min_size=1, max_size=10), label="local")
    labels = data.draw(
        st.lists(
            st.tuples(st.text(letters + "-", min_size=1, max_size=8), st.booleans()),
            min_size=1,
            max_size=3,
        ),
        label="labels",
    )
    domain = ".".join(_punycode(label) if encode else label for label, encode in labels)
    address = f"{local}@{domain}.{data.draw(st.sampled_from(tlds))}"
    key = accepted(email_key, address)
    assert email_key(key) == key
    username = username_or_codes(address)
    if isinstance(username, set):
        assert username <= {"invalid_length", "invalid_start"}
        reject()
    assert username == key
    assert canonical_username(username) == username


@given(usernames() | emails())
def test_plain_username_and_ascii_email_keys_are_unchanged(typed: str) -> None:
    """Plain usernames and ASCII email-shaped ones keep the key they had before: lower case."""
    assert canonical_username(typed) == typed.lower()


def test_shipped_script_table_matches_fonttools() -> None:
    """The shipped script table is what scripts/generate_script_table.py builds from fontTools."""
    pytest.importorskip("fontTools.unicodedata")
    path = Path(__file__).resolve().parent.parent / "scripts" / "generate_script_table.py"
    spec = importlib.util.spec_from_file_location("generate_script_table", path)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.unicode_version() == _script_table.UNICODE_VERSION, "rerun the generator"
    starts, indexes, names = generator.build()
    assert (starts, indexes, names) == (
        _script_table.STARTS,
        _script_table.INDEXES,
        _script_table.NAMES,
    ), "rerun scripts/generate_script_table.py"


@given(st.characters(codec=None))
def test_script_table_lookup_agrees_with_fonttools_per_character(char: str) -> None:
    """Looking a character up in the shipped table gives fontTools' Script_Extensions."""
    unicodedata = pytest.importorskip("fontTools.unicodedata")
    found = _script_table.NAMES[
        _script_table.INDEXES[bisect.bisect_right(_script_table.STARTS, ord(char)) - 1]
    ]
    assert set(found.split()) == set(unicodedata.script_extension(char))


# --- email addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "address", "key"),
    [
        ("jane.doe@example.org", "jane.doe@example.org", "jane.doe@example.org"),
        ("Jane.Doe@Example.ORG", "Jane.Doe@example.org", "jane.doe@example.org"),
        (" jane.doe@example.org ", "jane.doe@example.org", "jane.doe@example.org"),
        ("ＪＡＮＥ@example.org", "ＪＡＮＥ@example.org", "jane@example.org"),
        ("jane@bücher.example", "jane@bücher.example", "jane@bücher.example"),
    ],
)
def test_email_address_and_key(typed: str, address: str, key: str) -> None:
    """The stored address keeps the local part's case; the key is NFKC and case-folded."""
    email = canonical_email(typed)
    assert (email.address, email.key) == (address, key)
    assert canonical_email(email.key).key == key


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("jane", "invalid_email"),
        ("jane@", "invalid_email"),
        ("@example.org", "invalid_email"),
        ("a@b", "invalid_email"),
        ("jane@localhost", "invalid_email"),
        ("jane@exa mple.org", "invalid_email"),
        ("jane..doe@example.org", "invalid_email"),
        ("jane@example..org", "invalid_email"),
        ("jane@[192.0.2.1]", "invalid_email"),
        ("a" * 64 + "@" + "b" * (EMAIL_MAX_LENGTH - 68) + ".org", "too_long"),
        ("", "required"),
        ("  ", "required"),
    ],
)
def test_bad_email_is_invalid_input(typed: str, code: str) -> None:
    """Malformed addresses give InvalidInput with a stable code (and no DNS lookup)."""
    assert error_codes(canonical_email, typed) == [code]


@pytest.mark.parametrize("char", FORBIDDEN)
def test_email_with_invisible_or_control_characters_is_refused(char: str) -> None:
    """Invisible, bidi, format and control characters refuse the address."""
    assert error_codes(canonical_email, f"ja{char}ne@example.org") == ["invalid_characters"]


@settings(max_examples=200)
@given(typed_text, st.sampled_from(["example.org", "Example.ORG", "bücher.example"]))
@example("¯", "example.org")
def test_email_canonical_form_is_idempotent(local: str, domain: str) -> None:
    """An accepted address's key is accepted again and maps to itself."""
    key = accepted(email_key, f"{local}@{domain}")
    assert email_key(key) == key


# --- accounts -----------------------------------------------------------------------------


def make_account(status: AccountStatus) -> Account:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Account(
        id="acc-1",
        username="jdoe",
        username_key="jdoe",
        email="jane.doe@example.org",
        email_key="jane.doe@example.org",
        status=status,
        provider_type=ProviderType.PRACTITIONER,
        provider_id="P1000001",
        password_hash="$argon2id$SECRET-PASSWORD-HASH",
        password_history=("$argon2id$OLD-PASSWORD-HASH",),
        security_question="What is the name of your first pet?",
        security_answer_hash="$argon2id$SECRET-ANSWER-HASH",
        agreement_version="2025-01",
        agreement_accepted_at=now,
        created_at=now,
    )


def test_account_repr_shows_no_hash() -> None:
    """repr(Account) names the account but no password, history or answer hash."""
    text = repr(make_account(AccountStatus.ACTIVE))
    assert "jdoe" in text
    assert "HASH" not in text
    assert "$argon2" not in text


@pytest.mark.parametrize(
    ("status", "active"), [(AccountStatus.PENDING, False), (AccountStatus.ACTIVE, True)]
)
def test_account_is_active_only_once_activated(status: AccountStatus, active: bool) -> None:
    """A pending account is not active; an activated one is."""
    account = make_account(status)
    assert account.is_active is active
    assert account.credential_version == 0
