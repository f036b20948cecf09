"""Canonical usernames and email addresses, and the Account record."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from provider_identity import (
    Account,
    AccountStatus,
    InvalidInput,
    canonical_email,
    canonical_username,
)
from provider_identity.accounts import EMAIL_MAX_LENGTH, canonicalize
from provider_identity.providers import ProviderType

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


@settings(max_examples=200)
@given(typed_text)
def test_username_canonical_form_is_idempotent(typed: str) -> None:
    """An accepted username's key is accepted again and maps to itself."""
    key = accepted(canonical_username, typed)
    assert canonical_username(key) == key
    assert canonicalize(key) == key


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
