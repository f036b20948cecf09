"""PasswordPolicy (seed and NIST presets), StaticBlocklist and PasswordHasher."""

from __future__ import annotations

import dataclasses
import importlib.resources
import logging
import operator
import string
import subprocess
import sys
import unicodedata

import argon2
import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from provider_identity import (
    NIST_POLICY,
    SEED_POLICY,
    IdentityService,
    InvalidCredentials,
    PasswordRejected,
)
from provider_identity import passwords as passwords_module
from provider_identity.adapters.memory import MemoryAccountRepository
from provider_identity.errors import ConfigurationError, FieldError
from provider_identity.passwords import (
    COMMON_PASSWORDS,
    DEFAULT_CONTEXT_WORDS,
    OWASP_MINIMUM,
    RFC_9106_LOW_MEMORY,
    TEST_ONLY_CHEAPEST,
    PasswordHasher,
    PasswordPolicy,
    StaticBlocklist,
    Violation,
    normalize_password,
)
from tests.helpers import PASSWORD, practitioner

SEED = PasswordPolicy()
NIST = NIST_POLICY
#: Only the length and composition rules ("Abcdefghijk" would be an alphabet walk).
COMPOSITION = PasswordPolicy(
    context_words=(), reject_identifiers=False, reject_common_patterns=False
)
composition_flags = operator.attrgetter(
    "require_lowercase", "require_uppercase", "require_digit", "require_symbol"
)
#: Characters whose class or length changes under NFKC, and controls.
TRICKY = "ǅᾈ²¹Ａａ１！ﬁﷺ\u2003\u00a0e\u0301\x00\x07\x1f\x7f\u0085\u200b"
#: Letters and the common swaps a person types for them, as the policy documents.
SWAPS = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1!|", "l": "1!|", "o": "0", "s": "5$"}


def codes(violations: tuple[Violation, ...]) -> list[str]:
    return [violation.code for violation in violations]


def expected_codes(policy: PasswordPolicy, password: str) -> list[str]:
    """An independent reading of the length and composition rules (no words, identifiers, lists)."""
    normal = unicodedata.normalize("NFKC", password)
    if len(password) > 4 * policy.max_length or len(normal) > policy.max_length:
        return ["too_long"]
    categories = {unicodedata.category(char) for char in normal}
    found = {
        "lower": "Ll" in categories,
        "upper": bool(categories & {"Lu", "Lt"}),
        "digit": "Nd" in categories,
        "symbol": any(category[0] in "PSZ" for category in categories),
    }
    required = {
        "lower": policy.require_lowercase,
        "upper": policy.require_uppercase,
        "digit": policy.require_digit,
        "symbol": policy.require_symbol,
    }
    wanted = {"lower": "lowercase", "upper": "uppercase", "digit": "digit", "symbol": "symbol"}
    result = ["too_short"] if len(normal) < policy.min_length else []
    if {"Cc", "Cs"} & categories:  # controls, and lone surrogates (cannot be encoded)
        result.append("control_character")
    result += [f"missing_{wanted[name]}" for name in wanted if required[name] and not found[name]]
    return result


composition_policies = st.builds(
    PasswordPolicy,
    min_length=st.integers(1, 64),
    max_length=st.integers(64, 100),
    require_lowercase=st.booleans(),
    require_uppercase=st.booleans(),
    require_digit=st.booleans(),
    require_symbol=st.booleans(),
    context_words=st.just(()),
    reject_identifiers=st.just(False),
    reject_common_patterns=st.just(False),
)
passwords = st.text(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=90)


@st.composite
def swapped(draw: st.DrawFn, word: str) -> str:
    """``word`` with random case changes and letter/digit swaps, inside random text."""
    spelled = "".join(
        draw(st.sampled_from([char.lower(), char.upper(), *SWAPS.get(char.lower(), "")]))
        for char in word
    )
    around = st.text(string.ascii_letters + string.digits + "-!", max_size=6)
    return draw(around) + spelled + draw(around)


# --- configuration and presets ---------------------------------------------------------------


def test_seed_defaults() -> None:
    """The default policy is the seed's: 12+ characters, all four classes, max 128."""
    assert SEED_POLICY == SEED
    assert (SEED.min_length, SEED.max_length) == (12, 128)
    assert composition_flags(SEED) == (True, True, True, True)
    assert SEED.context_words == DEFAULT_CONTEXT_WORDS
    assert SEED.reject_identifiers
    assert SEED.history >= 0


@pytest.mark.parametrize(
    "changes",
    [{"max_length": 63}, {"min_length": 0}, {"min_length": 129}, {"history": -1}],
    ids=["max-below-64", "min-below-1", "min-above-max", "negative-history"],
)
def test_unsafe_settings_are_refused(changes: dict[str, int]) -> None:
    """max_length under 64, min_length under 1 or above max, negative history: refused."""
    with pytest.raises(ConfigurationError):
        PasswordPolicy(**changes)  # type: ignore[arg-type]


def test_edge_settings_are_accepted() -> None:
    """max_length exactly 64, min_length equal to max_length and history 0 are fine."""
    policy = PasswordPolicy(min_length=64, max_length=64, history=0)
    assert (policy.min_length, policy.max_length, policy.history) == (64, 64, 0)


def test_nist_preset() -> None:
    """NIST: 15+ characters, no composition rules, a blocklist, context words kept."""
    assert NIST.min_length == 15
    assert composition_flags(NIST) == (False, False, False, False)
    assert NIST.blocklist is not None
    assert NIST.context_words == DEFAULT_CONTEXT_WORDS
    assert NIST.check("purple monkey dishwasher") == ()
    assert codes(NIST.check("purple monkeys")) == ["too_short"]


def test_nist_preset_accepts_changes_and_a_blocklist() -> None:
    """attrs.evolve(NIST_POLICY, min_length=16, blocklist=...) overrides the preset."""
    policy = attrs.evolve(
        NIST_POLICY, min_length=16, blocklist=StaticBlocklist(["tangerine-orbit-42"])
    )
    assert policy.min_length == 16
    assert codes(policy.check("Tangerine-Orbit-42")) == ["blocklisted"]
    assert policy.check("Password123456!x") == ()


def test_describe_uses_the_seed_wording() -> None:
    """The seed's two requirement lines come first, word for word."""
    assert SEED.describe()[:2] == (
        "Must be a minimum of 12 characters",
        "Must contain one lowercase letter, one uppercase letter, one digit and one "
        "non-alphanumeric character.",
    )
    assert "Must not be one of your last 5 passwords" in SEED.describe()


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            {"require_symbol": False, "require_uppercase": False},
            "one lowercase letter and one digit",
        ),
        (
            {"require_lowercase": False, "require_uppercase": False, "require_digit": False},
            "one non-alphanumeric character",
        ),
    ],
)
def test_describe_lists_only_required_classes(flags: dict[str, bool], line: str) -> None:
    """The 'Must contain' line names exactly the required classes."""
    assert f"Must contain {line}." in PasswordPolicy(**flags).describe()  # type: ignore[arg-type]


def test_nist_describe_has_no_composition_line() -> None:
    """The NIST preset describes its length, context words and blocklist, no composition."""
    lines = NIST.describe()
    assert lines[0] == "Must be a minimum of 15 characters"
    assert not any(line.startswith("Must contain") for line in lines)
    assert "Must not be a commonly used password" in lines


# --- composition and length -------------------------------------------------------------------


@settings(max_examples=300)
@given(composition_policies, passwords)
@example(COMPOSITION, "Ab1!" + "ǅ" * 8)
@example(COMPOSITION, "ab1!" + "ᾈ" * 8)
@example(COMPOSITION, "Abcdefghijk²!")
@example(COMPOSITION, "ＡＢＣ１２３！ｄｅｆｇｈｉ")
@example(COMPOSITION, "Abcdefghij1!\x7f\u0085")
@example(COMPOSITION, "ﷺ" * 8)
def test_check_matches_an_independent_oracle(policy: PasswordPolicy, password: str) -> None:
    """check() codes equal a straightforward reading of the rules on the NFKC form."""
    assert sorted(codes(policy.check(password))) == sorted(expected_codes(policy, password))


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("abcdefghij1!ᾈ", None),  # titlecase survives NFKC and is upper; isupper() says no
        ("abcdefghij1!ǅ", None),  # NFKC turns it into 'Dž', which has an upper letter
        ("Abcdefghijk!²", None),  # NFKC turns '²' into the digit '2'
        ("Abcdefghijk!٣", None),  # Arabic-Indic three is Nd
        ("Abcdefghijk!Ⅻ", "missing_digit"),  # Roman numeral twelve is Nl, and NFKC gives 'XII'
        ("ABCDEFGHIJ1!", "missing_lowercase"),
        ("Abcdefghijk1", "missing_symbol"),
        ("Abcdefghijk\u30001", None),  # ideographic space is Zs, so non-alphanumeric
    ],
)
def test_character_classes_are_decided_on_the_nfkc_form(password: str, missing: str | None) -> None:
    """Classes follow Unicode categories after NFKC, not str.isdigit()/isupper()."""
    assert codes(COMPOSITION.check(password)) == ([missing] if missing else [])


def test_check_reports_every_violation_at_once() -> None:
    """An empty password breaks the length rule and all four composition rules."""
    assert codes(SEED.check("")) == [
        "too_short",
        "missing_lowercase",
        "missing_uppercase",
        "missing_digit",
        "missing_symbol",
    ]


def test_validate_raises_with_every_violation() -> None:
    """validate() raises PasswordRejected whose errors are check()'s violations."""
    password = "portal\x00"
    with pytest.raises(PasswordRejected) as caught:
        SEED.validate(password)
    assert caught.value.errors == tuple(v.as_field_error() for v in SEED.check(password))
    assert {error.code for error in caught.value.errors} == {
        "too_short",
        "control_character",
        "missing_uppercase",
        "missing_digit",
        "missing_symbol",
        "contains_context_word",
    }
    assert caught.value.fields == {"password"}
    SEED.validate(PASSWORD)  # an acceptable password raises nothing


@pytest.mark.parametrize("value", [None, 123, b"Blue-Heron-2031", ["Blue-Heron-2031"]])
def test_non_text_is_wrong_type(value: object) -> None:
    """Anything but str gives the single wrong_type violation, and validate() raises."""
    assert codes(SEED.check(value)) == ["wrong_type"]
    with pytest.raises(PasswordRejected, match="does not meet"):
        SEED.validate(value)


def test_violation_as_field_error() -> None:
    """A violation turns into a FieldError for the password field (or another)."""
    violation = Violation("too_short", "Must be a minimum of 12 characters.")
    assert violation.as_field_error("new_password") == FieldError(
        field="new_password", code="too_short", message="Must be a minimum of 12 characters."
    )


GREEK = unicodedata.normalize("NFD", "ᾏ")  # 4 code points that NFKC composes into 1


@pytest.mark.parametrize(
    ("password", "too_long"),
    [
        ("A1!" + "a" * 125, False),  # 128
        ("A1!" + "a" * 126, True),  # 129
        ("A1!a" + "ﬁ" * 62, False),  # 66 raw, 128 after NFKC
        ("A1!a" + "ﬁ" * 63, True),  # 67 raw, 130 after NFKC
        ("A1!" + "e\u0301" * 125, False),  # 253 raw, 128 after NFKC
        ("A1!" + "e\u0301" * 126, True),  # 255 raw, 129 after NFKC
        (GREEK * 128, False),  # 512 raw (4 x max_length), 128 after NFKC
    ],
)
def test_max_length_counts_code_points_after_nfkc(password: str, too_long: bool) -> None:
    """Exactly max_length code points after NFKC is accepted, one more is too_long."""
    assert ("too_long" in codes(SEED.check(password))) is too_long


@pytest.mark.parametrize("unit", ["A", "é"])
def test_huge_password_is_refused_before_normalisation(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 MB password gives only too_long, without NFKC ever running on it."""
    calls: list[int] = []
    monkeypatch.setattr(passwords_module, "normalize_password", lambda text: calls.append(0))
    assert codes(SEED.check(unit * 10_000_000)) == ["too_long"]
    assert calls == []


def test_huge_password_is_never_hashed(
    service: IdentityService, active_account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering or logging in with a 10 MB password costs no hash nor verification."""
    calls: list[str] = []
    for name in ("hash", "verify", "dummy_verify"):
        monkeypatch.setattr(PasswordHasher, name, lambda *args, name=name: calls.append(name))
    huge = "Aa1!" * 2_500_000
    with pytest.raises(PasswordRejected) as caught:
        service.register(
            practitioner(username="huge-user", email="huge@example.org", password=huge)
        )
    assert [error.code for error in caught.value.errors] == ["too_long"]
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", huge)
    assert calls == []


# --- identifiers, context words, blocklist ------------------------------------------------


@settings(max_examples=100)
@given(st.data(), st.text(string.ascii_lowercase + ".-_", min_size=4, max_size=12))
def test_identifier_with_swaps_is_detected(data: st.DataObject, identifier: str) -> None:
    """A username or email local part of 4+ characters is found despite case and swaps."""
    password = data.draw(swapped(identifier))
    assert "contains_identifier" in codes(SEED.check(password, username=identifier))
    email = f"{identifier}@example.org"
    assert "contains_identifier" in codes(SEED.check(password, email=email))


@pytest.mark.parametrize(
    ("password", "username", "email"),
    [
        ("XJD0E-Blue-Heron1!", "jdoe", None),
        ("Blue-Heron-jdoe-1", "JDoe", None),
        ("J4NE.D0E-Heron-1!", "someone", "jane.doe@example.org"),
        ("Blue-abcd-Heron-1", "abcd", None),
    ],
)
def test_identifier_examples_are_refused(password: str, username: str, email: str | None) -> None:
    """Spelling variants of the username or email local part are refused."""
    assert "contains_identifier" in codes(SEED.check(password, username=username, email=email))


@pytest.mark.parametrize(
    ("policy", "username"),
    [
        (SEED, "abc"),  # shorter than 4: ignored
        (SEED, "heron-x"),  # not in the password
        (PasswordPolicy(reject_identifiers=False), "heron"),  # rule switched off
    ],
)
def test_identifier_rule_limits(policy: PasswordPolicy, username: str) -> None:
    """Short identifiers, absent ones and a disabled rule do not refuse the password."""
    assert policy.check("abcBlue-Heron-2031", username=username) == ()


def test_fullwidth_username_is_matched_like_the_password() -> None:
    """The service passes the username as typed; 'ＪＤｏｅ' must still match 'jdoe'."""
    assert "contains_identifier" in codes(SEED.check("jdoe-Blue-Heron1!", username="ＪＤｏｅ"))


@pytest.mark.parametrize(
    "password",
    [
        "C@reS0urce2024!x",
        "PORTAL-blue-9x",
        "m3dicaid-Heron-7",
        "Pr0v1der-Heron-7!",
        "Ｐｏｒｔａｌ-9xyz",
    ],
)
@pytest.mark.parametrize("policy", [SEED, NIST], ids=["seed", "nist"])
def test_context_words_are_refused(policy: PasswordPolicy, password: str) -> None:
    """Context words are found case-insensitively, with swaps and after NFKC."""
    assert "contains_context_word" in codes(policy.check(password))
    assert "contains_context_word" not in codes(PasswordPolicy(context_words=()).check(password))


@settings(max_examples=100)
@given(st.data(), st.sampled_from(DEFAULT_CONTEXT_WORDS))
def test_context_word_with_swaps_is_detected(data: st.DataObject, word: str) -> None:
    """Every default context word, in any case and with swaps, is refused."""
    assert "contains_context_word" in codes(SEED.check(data.draw(swapped(word))))


@settings(max_examples=100)
@given(st.sampled_from(COMMON_PASSWORDS), st.data())
def test_nist_refuses_common_passwords_in_any_case(password: str, data: st.DataObject) -> None:
    """Each built-in common password is blocklisted whatever its case; a longer one is not."""
    spelled = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in password)
    assert "blocklisted" in codes(NIST.check(spelled))
    assert "blocklisted" not in codes(NIST.check(spelled + "x"))


@pytest.mark.parametrize(
    ("entry", "password", "blocked"),
    [
        ("Straße-Sommer", "STRASSE-SOMMER", True),  # casefold
        ("blue-heron", "ｂｌｕｅ-ｈｅｒｏｎ", True),  # NFKC on the password
        ("ﬁnch-fifteen", "FINCH-FIFTEEN", True),  # NFKC on the entry
        ("blue-heron", "blue-heron-2031", False),  # whole password only
        ("blue-heron-2031", "blue-heron", False),
    ],
)
def test_static_blocklist_matches_whole_normalised_password(
    entry: str, password: str, blocked: bool
) -> None:
    """StaticBlocklist compares whole passwords after NFKC and case folding."""
    assert StaticBlocklist([entry]).is_blocked(password) is blocked


@settings(max_examples=200)
@given(passwords)
def test_normalize_password_is_idempotent_nfkc(password: str) -> None:
    """normalize_password is NFKC, and applying it twice changes nothing."""
    once = normalize_password(password)
    assert once == unicodedata.normalize("NFKC", password)
    assert normalize_password(once) == once


# --- common words, seasons and keyboard walks -------------------------------------------------

#: Passwords built the way people meet composition rules: each is refused as a common pattern.
DRESSED_UP = [
    "Welcome2024!",  # word + year + symbol
    "Summer2025!!",  # season + year
    "Password123!",
    "Welcome12345!",
    "P@ssw0rd2024!",  # swaps
    "WeLcOmE2024!",
    "!Welcome2024",  # symbol first
    "2024Welcome!",  # year first
    "WelcomeSummer2024!",  # word + season + year
    "Welcome2024Summer!",
    "Summer2024Summer!",
    "January2025!!",
    "Iloveyou2024!",
    "Dragon1234567!",
    "Qwerty12345678!",  # keyboard walks
    "Asdfghjkl2024!",
    "1qaz2wsx3edc!Q",
    "!@#$QWERasdf1",
    "Zxcvbnm,./123A",
    "Abcdefghijk1!",  # the alphabet
]
#: Passphrases and passwords used across the tests, docs and README: accepted.
ACCEPTED = [
    PASSWORD,
    "Quiet#Meadow-77",
    "Amber+Kettle-58",
    "Wrong-Guess-4096",
    "New-Heron-2032",
    "Welcome-Heron-2031",  # a common word beside another word
    "Xyz-Qwerty-Plum-42!",  # a walk inside a passphrase
    "Dragon!2024xx",  # letters after the digits
]
STRIP = string.digits + string.punctuation + " "


def shipped_words() -> list[str]:
    """The words of the shipped list, read independently of the library's loader."""
    text = importlib.resources.files("provider_identity") / "data" / "common-passwords.txt"
    return [line for line in text.read_text("utf-8").splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("password", DRESSED_UP)
def test_seed_refuses_a_common_word_dressed_up_to_pass_composition(password: str) -> None:
    """A common word, season or walk with capitals, a year, digits and a symbol: common_pattern."""
    assert codes(SEED.check(password)) == ["common_pattern"]


def test_seed_refuses_every_built_in_common_password() -> None:
    """None of the library's own common passwords passes the default (seed) policy."""
    assert [password for password in COMMON_PASSWORDS if SEED.check(password) == ()] == []


@pytest.mark.parametrize("password", ACCEPTED)
def test_passphrases_that_merely_contain_a_common_word_are_accepted(password: str) -> None:
    """Only the whole core is compared: a common word beside other words is fine."""
    assert SEED.check(password) == ()
    assert NIST.check(password + "xyz") == ()


@settings(max_examples=200)
@given(st.data())
def test_any_listed_word_with_a_year_and_symbols_is_refused(data: st.DataObject) -> None:
    """Every shipped word, in any case, with a year and symbols added, is a common pattern."""
    word = data.draw(st.sampled_from([w for w in shipped_words() if w.isascii() and w.isalpha()]))
    spelled = "".join(data.draw(st.sampled_from([c, c.upper()])) for c in word)
    year = str(data.draw(st.integers(1900, 2099)))
    symbols = data.draw(st.text("!@#$%&*?.-_ ", min_size=1, max_size=3))
    password = data.draw(st.sampled_from([spelled + year + symbols, symbols + year + spelled]))
    assert "common_pattern" in codes(SEED.check(password))
    assert "common_pattern" in codes(NIST.check(password))


def test_common_patterns_have_their_own_code_message_and_line() -> None:
    """common_pattern is its own violation, described beside the seed's unchanged lines."""
    (violation,) = SEED.check("Welcome2024!")
    assert violation.code == "common_pattern"
    assert violation.message.startswith("Must not be a common word")
    assert violation.message != "Must not be a commonly used password."
    assert violation.message.rstrip(".") in SEED.describe()
    assert SEED.describe()[:2] == PasswordPolicy(reject_common_patterns=False).describe()[:2]


def test_common_patterns_can_be_turned_off() -> None:
    """reject_common_patterns=False accepts what only that rule refused, and drops its line."""
    policy = PasswordPolicy(reject_common_patterns=False)
    assert policy.check("Welcome2024!") == ()
    assert not any("common word" in line for line in policy.describe())


def test_shipped_list_states_its_source_and_licence() -> None:
    """The package data names Django, its licence and the list's author, and holds base words."""
    data = importlib.resources.files("provider_identity") / "data"
    lines = (data / "common-passwords.txt").read_text("utf-8").splitlines()
    header = " ".join(line for line in lines if line.startswith("#"))
    for named in ("Django", "Royce Williams", "BSD-3-Clause", "common-passwords.LICENSE"):
        assert named in header
    licence = (data / "common-passwords.LICENSE").read_text("utf-8")
    assert "Redistribution and use in source and binary forms" in licence
    words = shipped_words()
    assert len(words) > 5_000
    assert words == sorted(set(words))
    for word in words:
        assert len(word) >= 3
        assert unicodedata.normalize("NFKC", word).casefold().strip(STRIP) == word


def test_the_list_loads_lazily_once_per_process() -> None:
    """Importing and configuring read no data; the first check reads it, later ones reuse it."""
    script = (
        "import provider_identity as p, provider_identity.passwords as m\n"
        "p.PasswordPolicy(); p.NIST_POLICY; before = m.common_words.cache_info().misses\n"
        "p.PasswordPolicy().check('Blue-Heron-2031'); p.PasswordPolicy().check('Welcome2024!')\n"
        "info = m.common_words.cache_info(); print(before, info.misses, info.hits > 0)\n"
    )
    result = subprocess.run(  # noqa: S603  # our own interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "1", "True"]


# --- hashing -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def floor_hasher() -> PasswordHasher:
    return PasswordHasher(parameters=OWASP_MINIMUM)


def test_default_hasher_is_rfc_9106_low_memory_argon2id() -> None:
    """By default hashes are argon2id with m=64 MiB, t=3, p=4, and verify."""
    hasher = PasswordHasher()
    assert hasher.parameters == RFC_9106_LOW_MEMORY
    password_hash = hasher.hash(PASSWORD)
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(password_hash, PASSWORD)
    assert not hasher.needs_rehash(password_hash)


@pytest.mark.parametrize(
    "changes",
    [
        {"memory_cost": 19 * 1024 - 1},
        {"time_cost": 1},
        pytest.param({"parallelism": 0}),
        {"type": argon2.Type.I},
        {"type": argon2.Type.D},
    ],
)
def test_weak_or_wrong_parameters_are_refused(changes: dict[str, object]) -> None:
    """Below the OWASP floor, or not argon2id: refused at construction."""
    with pytest.raises(ConfigurationError):
        PasswordHasher(parameters=dataclasses.replace(OWASP_MINIMUM, **changes))  # type: ignore[arg-type]


def test_cheapest_needs_the_very_test_only_object() -> None:
    """TEST_ONLY_CHEAPEST itself is accepted; an equal copy of it is not."""
    assert PasswordHasher(parameters=TEST_ONLY_CHEAPEST).parameters is TEST_ONLY_CHEAPEST
    with pytest.raises(ConfigurationError):
        PasswordHasher(parameters=dataclasses.replace(TEST_ONLY_CHEAPEST))


def test_owasp_floor_itself_is_accepted(floor_hasher: PasswordHasher) -> None:
    """The OWASP floor itself is accepted (and verifies)."""
    assert floor_hasher.verify(floor_hasher.hash(PASSWORD), PASSWORD)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=65536,t=3,p=4$",
        "$argon2id$v=19$m=x,t=3,p=4$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=8,t=1,p=1$\x00$a",
    ],
    ids=["empty", "garbage", "bcrypt", "truncated", "bad-param", "nul"],
)
def test_verify_fails_closed_on_malformed_hash(hasher: PasswordHasher, stored: str) -> None:
    """A malformed or foreign stored hash verifies nothing and needs a rehash."""
    assert hasher.verify(stored, PASSWORD) is False
    assert hasher.needs_rehash(stored) is True


@settings(max_examples=100, deadline=None)
@given(st.text())
@example("$argon2id$v=19$m=8,t=1,p=1$é")
def test_verify_never_raises_on_any_stored_text(hasher: PasswordHasher, stored: str) -> None:
    """Whatever text is stored as the hash, verify() returns False instead of raising."""
    assert hasher.verify(stored, PASSWORD) is False


def test_lone_surrogate_password_is_refused(hasher: PasswordHasher) -> None:
    """json.loads('"\\ud800"') yields a lone surrogate: policy refuses, verify fails closed."""
    password = PASSWORD + "\ud800"
    assert SEED.check(password) != ()
    assert hasher.verify(hasher.hash(PASSWORD), password) is False


@settings(max_examples=100)
@given(st.text())
def test_needs_rehash_never_raises(hasher: PasswordHasher, stored: str) -> None:
    """Any text that is not a current-parameter hash needs a rehash."""
    assert hasher.needs_rehash(stored) is True


@settings(max_examples=25, deadline=None)
@given(passwords)
def test_hash_and_verify_use_nfkc(hasher: PasswordHasher, password: str) -> None:
    """A password verifies against its own hash and its NFKC spelling, both ways."""
    normal = unicodedata.normalize("NFKC", password)
    assert hasher.verify(hasher.hash(password), normal)
    assert hasher.verify(hasher.hash(normal), password)


@pytest.mark.parametrize(
    ("stored", "typed", "matches"),
    [
        ("ﬁne-Heron-2031", "fine-Heron-2031", True),
        ("fine-Heron-2031", "ﬁne-Heron-2031", True),
        ("Ｂlue-Heron-2031", PASSWORD, True),
        (PASSWORD, " " + PASSWORD, False),
        (PASSWORD, PASSWORD + " ", False),
        (PASSWORD, PASSWORD.upper(), False),
        (PASSWORD, PASSWORD[:-1], False),
    ],
)
def test_verify_normalises_but_never_trims_or_folds_case(
    hasher: PasswordHasher, stored: str, typed: str, matches: bool
) -> None:
    """NFKC is applied on set and verify; spaces and case are significant."""
    assert hasher.verify(hasher.hash(stored), typed) is matches


def test_needs_rehash_when_parameters_change(
    hasher: PasswordHasher, floor_hasher: PasswordHasher
) -> None:
    """A hash made with other parameters needs a rehash; one with the current ones does not."""
    cheap = hasher.hash(PASSWORD)
    assert not hasher.needs_rehash(cheap)
    assert floor_hasher.needs_rehash(cheap)
    assert hasher.needs_rehash(floor_hasher.hash(PASSWORD))


def test_verify_any_matches_any_of_the_hashes(hasher: PasswordHasher) -> None:
    """verify_any is True if one hash matches, False for none or an empty history."""
    history = [hasher.hash(old) for old in ("Old-Heron-2029", PASSWORD, "Old-Heron-2030")]
    assert hasher.verify_any(PASSWORD, history)
    assert not hasher.verify_any("New-Heron-2032", history)
    assert not hasher.verify_any(PASSWORD, [])
    assert hasher.verify_any(PASSWORD, ["garbage", history[1]])


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    """Two hashes of one password differ, and the hasher's repr shows no hash."""
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first != second
    assert "$argon2" not in repr(hasher)


# --- stored hashes over the parameter ceiling ----------------------------------------------


def argon2id_hash(
    password: str, *, memory_cost: int = 8, time_cost: int = 1, parallelism: int = 1
) -> str:
    """A real argon2id hash of ``password`` with the given (cheap to make) parameters."""
    return argon2.low_level.hash_secret(
        password.encode(),
        b"somesaltsomesalt",
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=16,
        type=argon2.Type.ID,
    ).decode()


#: The ceiling of a test-only hasher: 4 times the larger of its parameters and RFC 9106 low memory.
CEILING = {"memory_cost": 4 * 65536, "time_cost": 4 * 3, "parallelism": 4 * 4}


def test_stored_hash_at_the_ceiling_still_verifies(hasher: PasswordHasher) -> None:
    """A stored hash whose time cost is exactly the ceiling verifies the right password."""
    assert hasher.verify(argon2id_hash(PASSWORD, time_cost=CEILING["time_cost"]), PASSWORD)


@pytest.mark.parametrize("dimension", ["time_cost", "parallelism"])
def test_stored_hash_over_the_ceiling_is_refused(hasher: PasswordHasher, dimension: str) -> None:
    """One step over the ceiling in any dimension: even the right password is refused."""
    changes = {dimension: CEILING[dimension] + 1}
    if dimension == "parallelism":
        changes["memory_cost"] = 8 * changes[dimension]  # argon2 needs 8 KiB per lane
    assert not hasher.verify(argon2id_hash(PASSWORD, **changes), PASSWORD)


def test_an_over_ceiling_hash_of_the_dummys_own_password_is_refused_too(
    hasher: PasswordHasher,
) -> None:
    """The dummy hash verified in its place answers nothing: even its own password is refused."""
    dummy = "provider-identity dummy"
    assert not hasher.verify(argon2id_hash(dummy, time_cost=CEILING["time_cost"] + 1), dummy)


@pytest.mark.parametrize("factor", [0, -1, 1.5, "4", True])
def test_a_cost_factor_that_is_not_a_whole_number_of_at_least_1_is_refused_in_words(
    factor: object,
) -> None:
    """``max_cost_factor``: the setting's name and what it must be."""
    with pytest.raises(ConfigurationError) as caught:
        PasswordHasher(max_cost_factor=factor)  # type: ignore[arg-type]  # wrong on purpose
    assert caught.value.message == "PasswordHasher.max_cost_factor must be an int of at least 1."


@pytest.mark.parametrize(
    "parameters",
    ["m=8,t=4294967295,p=1", "m=4194304,t=3,p=4", "m=4294967295,t=1,p=1", "m=65536,t=3,p=16777215"],
)
def test_absurd_stored_parameters_fail_closed_at_the_cost_of_one_dummy_verification(
    hasher: PasswordHasher, parameters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Absurd stored parameters are never run: one verification with the hasher's own instead."""
    verified: list[argon2.Parameters] = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        verified.append(argon2.extract_parameters(stored))
        return real_verify(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    stored = f"$argon2id$v=19${parameters}$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA"
    assert hasher.verify(stored, PASSWORD) is False
    assert [(p.memory_cost, p.time_cost, p.parallelism) for p in verified] == [
        (hasher.parameters.memory_cost, hasher.parameters.time_cost, hasher.parameters.parallelism)
    ]


def test_refusal_is_logged_with_parameters_never_the_hash(
    hasher: PasswordHasher, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal is a warning naming the stored and allowed parameters, without salt or hash."""
    stored = argon2id_hash(PASSWORD, time_cost=13)
    with caplog.at_level("WARNING", logger="provider_identity.passwords"):
        assert not hasher.verify(stored, PASSWORD)
    (record,) = caplog.records
    assert "t=13" in record.getMessage()
    assert "t=12" in record.getMessage()  # the ceiling
    salt, digest = stored.split("$")[-2:]
    assert salt not in record.getMessage()
    assert digest not in record.getMessage()
    assert stored not in repr(record.__dict__)


def test_ceiling_follows_the_configured_parameters() -> None:
    """max_cost_factor scales the larger of the configured parameters and RFC 9106 low memory."""
    stronger = dataclasses.replace(OWASP_MINIMUM, time_cost=5)
    exact = PasswordHasher(parameters=stronger, max_cost_factor=1)
    assert exact.verify(argon2id_hash(PASSWORD, time_cost=5), PASSWORD)
    assert not exact.verify(argon2id_hash(PASSWORD, time_cost=6), PASSWORD)
    floor = PasswordHasher(parameters=OWASP_MINIMUM, max_cost_factor=1)
    assert floor.verify(
        argon2id_hash(PASSWORD, time_cost=3, parallelism=4, memory_cost=32), PASSWORD
    )
    assert not floor.verify(argon2id_hash(PASSWORD, parallelism=5, memory_cost=40), PASSWORD)


@pytest.mark.parametrize("factor", [0, -1])
def test_ceiling_factor_below_one_is_refused(factor: int) -> None:
    """A ceiling below the configured parameters would refuse every hash: refused."""
    with pytest.raises(ConfigurationError):
        PasswordHasher(parameters=TEST_ONLY_CHEAPEST, max_cost_factor=factor)


def test_login_against_an_over_ceiling_hash_is_a_wrong_password(
    service: IdentityService,
    active_account: str,
    accounts: MemoryAccountRepository,
) -> None:
    """Login against an over-ceiling hash: InvalidCredentials, counted as a wrong password."""
    account = accounts.get(active_account)
    assert account is not None
    accounts.replace(
        attrs.evolve(account, password_hash=argon2id_hash(PASSWORD, time_cost=13)),
        expected_version=account.credential_version,
    )
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", PASSWORD)
    assert service.lockout_status("jdoe").failures == 1


def test_a_hasher_costs_no_hash_to_build_and_one_dummy_hash_per_parameter_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Construction hashes nothing; the dummy hash is made once, shared by equal hashers."""
    made: list[int] = []
    real_hash = argon2.PasswordHasher.hash

    def counting_hash(self: argon2.PasswordHasher, password: str | bytes, **kw: object) -> str:
        made.append(self.memory_cost)
        return real_hash(self, password)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", counting_hash)
    # A parameter set no other test uses; and an empty cache, in case this
    # process has run the test before (mutmut runs the suite twice in one).
    passwords_module._dummy_hash_of.cache_clear()
    unique = dataclasses.replace(OWASP_MINIMUM, memory_cost=OWASP_MINIMUM.memory_cost + 7)
    hashers = [PasswordHasher(parameters=unique) for _ in range(50)]
    assert made == []
    for hasher in hashers:
        hasher.dummy_verify("anything")
    assert made == [unique.memory_cost]


def test_an_over_ceiling_hash_is_logged_with_both_parameter_sets(
    hasher: PasswordHasher, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the stored parameters and the ceiling they exceed, never the hash."""
    stored = argon2id_hash(PASSWORD, time_cost=CEILING["time_cost"] + 1)
    with caplog.at_level(logging.WARNING, logger="provider_identity"):
        assert not hasher.verify(stored, PASSWORD)
    assert caplog.messages == [
        "stored password hash refused unverified: argon2 parameters m=8,t=13,p=1 "
        "exceed the ceiling m=262144,t=12,p=16"
    ]
