"""Hypothesis strategies for the library's inputs: passwords, identifiers, records, registrations.

Hypothesis is an optional dependency: ``pip install 'provider-identity[test]'``.
Every strategy takes keyword-only options (the password policy may also be
given positionally) and returns a :class:`~hypothesis.strategies.SearchStrategy`.
Impossible requests, such as a too-short password for a policy whose minimum
is one character but which requires a digit and a symbol, raise
:class:`~hypothesis.errors.InvalidArgument` when the strategy is built.

Example::

    from hypothesis import given
    from provider_identity import PasswordPolicy
    from provider_identity.testing.strategies import passwords

    @given(passwords(PasswordPolicy.nist(), valid=False, violating={"too_short"}))
    def test_short_passwords_are_refused(password):
        assert [v.code for v in PasswordPolicy.nist().check(password)] == ["too_short"]
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

import attrs

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as err:  # pragma: no cover  # tested with Hypothesis hidden
    raise ImportError(
        "provider_identity.testing.strategies and .models need Hypothesis: "
        "pip install 'provider-identity[test]' (or pip install hypothesis)."
    ) from err

from provider_identity.errors import InvalidInput
from provider_identity.passwords import (
    PasswordPolicy,
    StaticBlocklist,
    _character_classes,
    _fold,
    _is_common_pattern,
    context_word_keys,
    identifier_keys,
    normalize_password,
)
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    _npi_check_digit_ok,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_zip,
)
from provider_identity.registration import RegistrationRequest
from provider_identity.security_questions import DEFAULT_QUESTIONS

__all__ = [
    "VIOLATION_CODES",
    "emails",
    "npis",
    "passwords",
    "provider_records",
    "registration_requests",
    "tax_ids",
    "usernames",
    "zip_codes",
]

#: Every code :meth:`PasswordPolicy.check` can report.
VIOLATION_CODES: Final = frozenset(
    {
        "too_short",
        "too_long",
        "missing_lowercase",
        "missing_uppercase",
        "missing_digit",
        "missing_symbol",
        "control_character",
        "contains_identifier",
        "contains_context_word",
        "blocklisted",
        "common_pattern",
        "wrong_type",
    }
)

# -- passwords -------------------------------------------------------------------------

# Character classes as PasswordPolicy decides them; "neutral" counts for none
# (Lo: CJK, kana, Arabic letters...), and exists only outside ASCII.
_COMPOSITION: Final = (
    ("lower", "missing_lowercase", "require_lowercase"),
    ("upper", "missing_uppercase", "require_uppercase"),
    ("digit", "missing_digit", "require_digit"),
    ("symbol", "missing_symbol", "require_symbol"),
)
_FILLER_CLASSES: Final = ("lower", "upper", "digit", "symbol", "neutral")
_ASCII_ALPHABETS: Final = {
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "digit": string.digits,
    "symbol": string.punctuation + " ",
    "neutral": "",
    "control": "".join(map(chr, [*range(32), 127])),
}
#: Where the other characters come from: C1 controls, Latin, Greek (with its
#: titlecase letters), Cyrillic, Hebrew, Arabic, Devanagari, punctuation,
#: currency, arrows, maths, kana, some CJK, emoji (beyond the BMP).
_BLOCKS: Final = (
    (0x0080, 0x024F),
    (0x0370, 0x04FF),
    (0x05D0, 0x05EA),
    (0x0620, 0x0669),
    (0x0905, 0x096F),
    (0x1680, 0x1680),
    (0x1F00, 0x1FFF),
    (0x2010, 0x205E),
    (0x20A0, 0x20BF),
    (0x2190, 0x22FF),
    (0x3041, 0x30FA),
    (0x4E00, 0x4EFF),
    (0x1F600, 0x1F64F),
)
#: Categories taken from those blocks. Marks are left out (they combine with
#: their neighbour under NFKC), and so are format and line-separator characters.
_USABLE_CATEGORIES: Final = frozenset(
    {"Ll", "Lu", "Lt", "Lo", "Nd", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}
    | {"Sm", "Sc", "Sk", "So", "Zs", "Cc"}
)
#: Replacements, per class, for a character that completed a forbidden word:
#: the first whose folded form shares no character with any such word is used.
_SAFE_CHARACTERS: Final = {
    "lower": "zqxjwyfhkvnжλπøþ",
    "upper": "ZQXJWYFHKVNЖΛΠØÞ",
    "digit": "26٢٦",
    "symbol": "#%&*^~=_-:;,.?/<>§¶",
    "neutral": "中字文あカ",
    "control": "\x00\x01\x1b\x7f",
}
_PRINTABLE: Final = string.ascii_letters + string.digits + string.punctuation + " "
#: How far above the shortest possible length generated passwords reach.
_LENGTH_SPAN: Final = 128


def _class_of(char: str) -> str:
    return next(iter(_character_classes(char)), "neutral")


def _usable(char: str) -> bool:
    """NFKC leaves ``char`` alone, also next to any other usable character."""
    return (
        unicodedata.category(char) in _USABLE_CATEGORIES
        and unicodedata.normalize("NFKC", char) == char
    )


def _other_alphabets() -> dict[str, str]:
    found: dict[str, list[str]] = {cls: [] for cls in _ASCII_ALPHABETS}
    for low, high in _BLOCKS:
        for char in map(chr, range(low, high + 1)):
            if _usable(char):
                found[_class_of(char)].append(char)
    return {cls: "".join(chars) for cls, chars in found.items()}


_OTHER_ALPHABETS: Final = _other_alphabets()


@functools.cache
def _characters(classes: tuple[str, ...], *, ascii_only: bool) -> st.SearchStrategy[str]:
    """Single characters of ``classes``, ASCII only or from every script above."""
    alphabet = "".join(
        _ASCII_ALPHABETS[cls] + ("" if ascii_only else _OTHER_ALPHABETS[cls]) for cls in classes
    )
    return st.characters(categories=(), include_characters=alphabet)


def _text(classes: tuple[str, ...], size: int, *, ascii_only: bool) -> st.SearchStrategy[str]:
    return st.text(_characters(classes, ascii_only=ascii_only), min_size=size, max_size=size)


#: One word as its positions; each position holds the characters that fold to it.
_Spelling = tuple[str, ...]


def _spelling(folded: str, forbidden: frozenset[str]) -> _Spelling | None:
    """How to type a folded word without characters of ``forbidden`` classes, if possible."""
    positions = []
    for target in folded:
        choices = "".join(
            char
            for char in dict.fromkeys(_PRINTABLE + target + target.upper())
            if _fold(char) == target and _usable(char) and _class_of(char) not in forbidden
        )
        if not choices:
            return None
        positions.append(choices)
    return tuple(positions)


def _typed(spelling: _Spelling) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from(choices) for choices in spelling)).map("".join)


def _identifier_folds(policy: PasswordPolicy, username: str | None, email: str | None) -> list[str]:
    """The folded username and email local part, as ``PasswordPolicy.check`` looks for them."""
    return list(identifier_keys(username, email)) if policy.reject_identifiers else []


def _codes(
    policy: PasswordPolicy, password: str, username: str | None, email: str | None
) -> frozenset[str]:
    return frozenset(v.code for v in policy.check(password, username=username, email=email))


@attrs.frozen(kw_only=True)
class _Recipe:
    """How to assemble passwords that break exactly one set of rules.

    A password is: one character of each ``required`` class, a control
    character if ``control``, one spelling of a context word and of an
    identifier when those are wanted, and filler characters of the ``filler``
    classes; shuffled, then repaired so that no ``banned`` word appears.
    """

    required: tuple[str, ...]
    filler: tuple[str, ...]
    control: bool
    words: tuple[_Spelling, ...]
    identifiers: tuple[_Spelling, ...]
    min_size: int
    max_size: int
    banned: tuple[str, ...]
    safe: Mapping[str, str]

    @property
    def base(self) -> int:
        """Characters every password holds besides words and filler."""
        return len(self.required) + self.control


def _fail(target: frozenset[str], reason: str) -> InvalidArgument:
    wanted = ", ".join(sorted(target)) or "no rule"
    return InvalidArgument(f"passwords(): cannot break exactly {{{wanted}}}: {reason}")


def _candidates(
    folds: Sequence[str], forbidden: frozenset[str], banned: Sequence[str]
) -> tuple[_Spelling, ...]:
    """Spellings of the words in ``folds`` that contain no ``banned`` word, shortest first."""
    found = []
    for folded in sorted(folds, key=len):
        spelling = _spelling(folded, forbidden)
        if spelling is not None and not any(word in folded for word in banned):
            found.append(spelling)
    return tuple(found)


def _wanted(
    target: frozenset[str],
    code: str,
    folds: Sequence[str],
    forbidden: frozenset[str],
    banned: Sequence[str],
) -> tuple[_Spelling, ...]:
    """The spellings to include for ``code`` (none when it is not wanted)."""
    if code not in target:
        return ()
    found = _candidates(folds, forbidden, banned)
    if not found:
        why = "no context word" if code == "contains_context_word" else "no username= or email="
        raise _fail(target, f"{why} of usable length can be typed within the other rules")
    return found


def _shortest(spellings: tuple[_Spelling, ...]) -> int:
    return len(spellings[0]) if spellings else 0


def _safe_characters(
    classes: Iterable[str], banned: Sequence[str], target: frozenset[str]
) -> dict[str, str]:
    used = set("".join(banned))
    safe = {}
    for cls in classes:
        char = next((c for c in _SAFE_CHARACTERS[cls] if used.isdisjoint(_fold(c))), None)
        if char is None:
            raise _fail(target, f"every fallback {cls} character folds into a forbidden word")
        safe[cls] = char
    return safe


def _recipe(
    policy: PasswordPolicy, target: frozenset[str], username: str | None, email: str | None
) -> _Recipe:
    for _, code, flag in _COMPOSITION:
        if code in target and not getattr(policy, flag):
            raise _fail(target, f"the policy does not set {flag}")
    forbidden = frozenset({"control", *(cls for cls, code, _ in _COMPOSITION if code in target)})
    words = list(context_word_keys(policy.context_words))
    identifiers = _identifier_folds(policy, username, email)
    banned_words = [] if "contains_context_word" in target else words
    banned_identifiers = [] if "contains_identifier" in target else identifiers
    chosen_words = _wanted(target, "contains_context_word", words, forbidden, banned_identifiers)
    chosen_identifiers = _wanted(
        target, "contains_identifier", identifiers, forbidden, banned_words
    )
    required = tuple(
        cls for cls, code, flag in _COMPOSITION if getattr(policy, flag) and code not in target
    )
    if "too_short" in target:
        min_size, max_size = 0, policy.min_length - 1
    else:
        min_size, max_size = policy.min_length, policy.max_length
    shortest = (
        len(required)
        + ("control_character" in target)
        + _shortest(chosen_words)
        + _shortest(chosen_identifiers)
    )
    if shortest > max_size:
        raise _fail(target, f"it needs {shortest} characters but at most {max_size} are allowed")
    filler = tuple(cls for cls in _FILLER_CLASSES if cls not in forbidden)
    banned = tuple(banned_words + banned_identifiers)
    movable = {*required, *filler, *(("control",) if "control_character" in target else ())}
    return _Recipe(
        required=required,
        filler=filler,
        control="control_character" in target,
        words=chosen_words,
        identifiers=chosen_identifiers,
        min_size=min_size,
        max_size=min(max_size, max(min_size, shortest) + _LENGTH_SPAN),
        banned=banned,
        safe=_safe_characters(movable, banned, target) if banned else {},
    )


def _one_that_fits(spellings: tuple[_Spelling, ...], room: int) -> st.SearchStrategy[str]:
    if not spellings:
        return st.just("")
    return st.sampled_from([s for s in spellings if len(s) <= room]).flatmap(_typed)


def _first_banned(pieces: Sequence[str], banned: Sequence[str]) -> list[int] | None:
    """Indexes of the pieces that spell the first banned word found, if any."""
    folds = [_fold(piece) for piece in pieces]
    owners = [index for index, folded in enumerate(folds) for _ in folded]
    text = "".join(folds)
    for word in banned:
        start = text.find(word)
        if start >= 0:
            return owners[start : start + len(word)]
    return None


def _repaired(pieces: list[str], movable: list[bool], recipe: _Recipe) -> str:
    """Replace movable characters until no banned word appears (each fix removes one for good)."""
    while (hit := _first_banned(pieces, recipe.banned)) is not None:
        index = next(i for i in hit if movable[i])
        pieces[index] = recipe.safe[_class_of(pieces[index])]
    return "".join(pieces)


@st.composite
def _assembled(draw: st.DrawFn, recipe: _Recipe) -> str:
    room = recipe.max_size - recipe.base
    word = draw(_one_that_fits(recipe.words, room - _shortest(recipe.identifiers)))
    identifier = draw(_one_that_fits(recipe.identifiers, room - len(word)))
    fixed = [text for text in (word, identifier) if text]
    # Half the passwords are plain ASCII, as most people type; the rest mix in other scripts.
    ascii_only = draw(st.booleans()) and any(_ASCII_ALPHABETS[cls] for cls in recipe.filler)
    singles = [draw(_text((cls,), 1, ascii_only=ascii_only)) for cls in recipe.required]
    if recipe.control:
        singles.append(draw(_text(("control",), 1, ascii_only=ascii_only)))
    units = [(char, True) for char in singles] + [(text, False) for text in fixed]
    taken = len(singles) + len(word) + len(identifier)
    size = draw(st.integers(max(recipe.min_size, taken), recipe.max_size))
    pieces = list(draw(_text(recipe.filler, size - taken, ascii_only=ascii_only)))
    movable = [True] * len(pieces)
    for unit, can_move in units:
        position = draw(st.integers(0, len(pieces)))
        pieces.insert(position, unit)
        movable.insert(position, can_move)
    return _repaired(pieces, movable, recipe)


def _casings(entry: str) -> tuple[str, ...]:
    alternating = "".join(c.upper() if i % 2 else c for i, c in enumerate(entry))
    return (entry, entry.upper(), entry.capitalize(), entry.title(), alternating)


def _blocklisted(
    policy: PasswordPolicy, target: frozenset[str], username: str | None, email: str | None
) -> st.SearchStrategy[str]:
    """Entries of a static blocklist, re-cased, whose violations are exactly ``target``."""
    if not isinstance(policy.blocklist, StaticBlocklist):
        raise _fail(target, "blocklisted needs a policy whose blocklist is a StaticBlocklist")
    found = sorted(
        {
            variant
            for entry in policy.blocklist.passwords
            for variant in _casings(entry)
            if _codes(policy, variant, username, email) == target
        }
    )
    if not found:
        raise _fail(target, "no blocklist entry breaks exactly these rules")
    return st.sampled_from(found)


#: Words people dress up to pass composition rules, and how they dress them.
_PATTERN_WORDS: Final = ("welcome", "summer", "password", "dragon", "sunshine", "qwerty")
_PATTERN_SUFFIXES: Final = tuple(
    digits * count + symbols
    for count in (1, 3, 6, 9)
    for digits, symbols in (("2024", "!"), ("2024", ""), ("", "!!!!"))
)


def _common_patterns(
    policy: PasswordPolicy, target: frozenset[str], username: str | None, email: str | None
) -> st.SearchStrategy[str]:
    """Common words, re-cased, with years and symbols added, whose violations are ``target``."""
    if not policy.reject_common_patterns:
        raise _fail(target, "the policy does not set reject_common_patterns")
    found = sorted(
        {
            variant
            for word in _PATTERN_WORDS
            for casing in _casings(word)
            for suffix in _PATTERN_SUFFIXES
            if _codes(policy, variant := casing + suffix, username, email) == target
        }
    )
    if not found:
        raise _fail(target, "no common word with digits and symbols breaks exactly these rules")
    return st.sampled_from(found)


def _too_long(policy: PasswordPolicy) -> st.SearchStrategy[str]:
    longest = policy.max_length
    return st.integers(longest + 1, longest + _LENGTH_SPAN).flatmap(
        lambda size: _text(_FILLER_CLASSES, size, ascii_only=False)
    )


def _breaking(
    policy: PasswordPolicy, target: frozenset[str], username: str | None, email: str | None
) -> st.SearchStrategy[str]:
    unknown = target - VIOLATION_CODES
    if unknown:
        raise _fail(target, f"unknown codes {sorted(unknown)}; see VIOLATION_CODES")
    if "wrong_type" in target:
        raise _fail(target, "passwords() makes text; use st.none() | st.integers() for wrong_type")
    if "too_long" in target:
        if target != {"too_long"}:
            raise _fail(target, "too_long is always reported alone")
        return _too_long(policy)
    if "blocklisted" in target:
        return _blocklisted(policy, target, username, email)
    if "common_pattern" in target:
        return _common_patterns(policy, target, username, email)
    built = _assembled(_recipe(policy, target, username, email))
    if not policy.reject_common_patterns:
        return built
    # Random text is seldom exactly a common word or a keyboard walk; drop those few.
    return built.filter(
        lambda password: not _is_common_pattern(normalize_password(password).casefold())
    )


def passwords(
    policy: PasswordPolicy | None = None,
    *,
    valid: bool = True,
    violating: Iterable[str] | None = None,
    username: str | None = None,
    email: str | None = None,
) -> st.SearchStrategy[str]:
    """Passwords that ``policy`` accepts, or that break exactly the rules named.

    Passwords are built, not filtered: the required character classes, then
    filler from every class the rules allow (ASCII and other scripts), with
    any context word or identifier that appears by chance (letter/digit swaps
    included) broken up. Only an opaque blocklist, and the rare random text
    that is a common word or a keyboard walk, are checked by filtering.

    Args:
        policy: The policy to satisfy or break (the seed's by default).
        valid: ``True`` for accepted passwords, ``False`` for rejected ones.
        violating: With ``valid=False``: the codes (see :data:`VIOLATION_CODES`)
            that :meth:`PasswordPolicy.check` must report, no more, no fewer.
            Without it, each password breaks one rule the policy can report.
        username: The account's username, for the identifier rule.
        email: The account's email, for the identifier rule.

    Raises:
        InvalidArgument: the request is impossible (``too_long`` with another
            code, ``missing_digit`` for a policy that does not require digits,
            ``blocklisted`` without a :class:`StaticBlocklist`, ``common_pattern``
            with a policy that does not reject them, ``wrong_type``...).

    Example::

        @given(passwords(policy, username="jdoe"))
        def test_register_accepts_any_valid_password(password):
            assert policy.check(password, username="jdoe") == ()
    """
    policy = PasswordPolicy() if policy is None else policy
    if valid and violating:
        raise InvalidArgument("passwords(): violating= needs valid=False")
    if not valid and violating is None:
        return st.one_of(_single_violations(policy, username, email))
    target = frozenset(() if valid else _code_set(violating or ()))
    if not valid and not target:
        raise InvalidArgument("passwords(): valid=False needs at least one violating code")
    strategy = _breaking(policy, target, username, email)
    # A safety net for what cannot be built: an opaque blocklist's entries.
    return strategy.filter(lambda password: _codes(policy, password, username, email) == target)


def _code_set(codes: Iterable[str]) -> frozenset[str]:
    return frozenset((codes,) if isinstance(codes, str) else codes)


def _single_violations(
    policy: PasswordPolicy, username: str | None, email: str | None
) -> list[st.SearchStrategy[str]]:
    """One strategy per rule that this policy can report broken on its own."""
    found = []
    for code in sorted(VIOLATION_CODES - {"wrong_type"}):
        try:
            found.append(
                passwords(policy, valid=False, violating={code}, username=username, email=email)
            )
        except InvalidArgument:
            continue
    return found


# -- identifiers -----------------------------------------------------------------------

_DIGITS: Final = string.digits


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text(_DIGITS, min_size=count, max_size=count)


def _formatted_tax_id(digits: str) -> st.SearchStrategy[str]:
    """The ways people write a Tax ID: plain, as an EIN, as an SSN, with spaces."""
    return st.sampled_from(
        (
            digits,
            f"{digits[:2]}-{digits[2:]}",
            f"{digits[:3]}-{digits[3:5]}-{digits[5:]}",
            f"{digits[:3]} {digits[3:5]} {digits[5:]}",
        )
    )


def tax_ids(*, formatted: bool = False) -> st.SearchStrategy[str]:
    """Tax IDs: 9 digits, or (``formatted=True``) as people write them (``31-1234567``).

    Example::

        @given(tax_ids(formatted=True))
        def test_tax_id_formatting_is_ignored(tax_id):
            assert len(normalize_tax_id(tax_id)) == 9
    """
    digits = _digits(9)
    return digits.flatmap(_formatted_tax_id) if formatted else digits


def zip_codes(*, plus4: bool | None = None) -> st.SearchStrategy[str]:
    """ZIP codes: ``NNNNN``, ``NNNNN-NNNN`` (``plus4=True``) or either (``None``).

    Example::

        @given(zip_codes(plus4=True))
        def test_zip_plus4_matches_on_five_digits(zip_code):
            assert normalize_zip(zip_code) == zip_code[:5]
    """
    five = _digits(5)
    plus = st.tuples(five, _digits(4)).map("-".join)
    if plus4 is None:
        return five | plus
    return plus if plus4 else five


def _with_check_digit(first_nine: str) -> str:
    return next(first_nine + digit for digit in _DIGITS if _npi_check_digit_ok(first_nine + digit))


def npis() -> st.SearchStrategy[str]:
    """Valid NPIs: 10 digits, starting with 1 or 2, with a correct Luhn check digit.

    Example::

        @given(npis())
        def test_npis_are_accepted(npi):
            assert normalize_npi(npi) == npi
    """
    return st.tuples(st.sampled_from("12"), _digits(8)).map(
        lambda parts: _with_check_digit("".join(parts))
    )


_USERNAME_FIRST: Final = string.ascii_letters + "éñøü"
_USERNAME_REST: Final = string.ascii_letters + string.digits + "._-" + "éñøü"


def usernames() -> st.SearchStrategy[str]:
    """Usernames :func:`~provider_identity.canonical_username` accepts: 3 to 32 characters.

    Mostly ASCII letters, digits and ``._-``, with a few accented letters.

    Example::

        @given(usernames())
        def test_usernames_are_case_insensitive(username):
            assert canonical_username(username.upper()) == canonical_username(username)
    """
    return st.tuples(
        st.sampled_from(_USERNAME_FIRST), st.text(_USERNAME_REST, min_size=2, max_size=31)
    ).map("".join)


_EMAIL_DOMAINS: Final = (
    "example.org",
    "example.com",
    "example.net",
    "mail.example.org",
    "clinic.example.com",
)


def emails() -> st.SearchStrategy[str]:
    """Email addresses email-validator accepts without DNS, on the reserved example domains.

    Example::

        @given(emails())
        def test_email_keys_ignore_case(email):
            assert canonical_email(email.upper()).key == canonical_email(email).key
    """
    segment = st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
    local = st.lists(segment, min_size=1, max_size=3).map(".".join)
    tag = st.just("") | segment.map("+{}".format)
    return st.tuples(local, tag, st.sampled_from(_EMAIL_DOMAINS)).map(
        lambda parts: f"{parts[0]}{parts[1]}@{parts[2]}"
    )


# -- provider records ------------------------------------------------------------------

_FIRST_NAMES: Final = (
    "Jane", "Ravi", "Ana", "Mohammed", "Wei", "Olga", "José", "Zoë", "Siobhán", "Kwame",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Doe", "Patel", "Lopez", "Okafor", "Chen", "Kowalski", "Núñez", "O'Brien",
    "Smith-Jones", "Müller", "Łukasiewicz",
)  # fmt: skip
_PLACES: Final = (
    "Miami Valley", "Dayton", "Columbus", "Cincinnati", "Lakeshore", "Tri-County", "St. Mary's",
)  # fmt: skip
_GROUP_LABELS: Final = {
    ProviderCategory.RADIOLOGY: "Radiology Group",
    ProviderCategory.ANESTHESIOLOGY: "Anesthesia Associates",
    ProviderCategory.PATHOLOGY: "Pathology Partners",
    ProviderCategory.HOSPITALIST: "Hospitalist Group",
    ProviderCategory.EMERGENCY_URGENT_CARE: "Urgent Care",
    ProviderCategory.LABORATORY: "Laboratory Services",
    ProviderCategory.HOSPITAL: "General Hospital",
    ProviderCategory.SKILLED_NURSING_FACILITY: "Skilled Nursing Center",
    ProviderCategory.OTHER_FACILITY: "Dialysis Center",
    ProviderCategory.PRIMARY_CARE: "Family Medicine Partners",
    ProviderCategory.SPECIALIST: "Cardiology Associates",
    ProviderCategory.BEHAVIORAL_HEALTH: "Behavioral Health Group",
    ProviderCategory.OTHER: "Health Partners",
}
_PRACTITIONER_CATEGORIES: Final = (
    ProviderCategory.PRIMARY_CARE,
    ProviderCategory.SPECIALIST,
    ProviderCategory.BEHAVIORAL_HEALTH,
    ProviderCategory.RADIOLOGY,
    ProviderCategory.ANESTHESIOLOGY,
    ProviderCategory.PATHOLOGY,
    ProviderCategory.HOSPITALIST,
    ProviderCategory.EMERGENCY_URGENT_CARE,
    ProviderCategory.OTHER,
)


def _practitioner_names() -> st.SearchStrategy[str]:
    initial = st.just("") | st.sampled_from(string.ascii_uppercase).map(" {}.".format)
    suffix = st.sampled_from(("", ", MD", ", DO", ", NP"))
    return st.tuples(
        st.sampled_from(_FIRST_NAMES), initial, st.sampled_from(_LAST_NAMES), suffix
    ).map(lambda parts: f"{parts[0]}{parts[1]} {parts[2]}{parts[3]}")


_KINDS: Final = {
    ProviderType.PRACTITIONER: ("P", Payee.INDIVIDUAL, _PRACTITIONER_CATEGORIES),
    ProviderType.GROUP: ("G", Payee.GROUP, tuple(ProviderCategory)),
}


def _names(kind: ProviderType, category: ProviderCategory) -> st.SearchStrategy[str]:
    if kind is ProviderType.PRACTITIONER:
        return _practitioner_names()
    return st.sampled_from(_PLACES).map(lambda place: f"{place} {_GROUP_LABELS[category]}")


def _records(kind: ProviderType) -> st.SearchStrategy[ProviderRecord]:
    prefix, payee, categories = _KINDS[kind]
    return st.sampled_from(categories).flatmap(
        lambda category: st.builds(
            ProviderRecord,
            provider_id=_digits(7).map(prefix.__add__),
            tax_id=tax_ids(),
            name=_names(kind, category),
            zip_codes=st.lists(zip_codes(), min_size=1, max_size=3),
            npi=st.none() | npis(),
            category=st.just(category),
            payee=st.just(payee),
            lines_of_business=st.frozensets(st.sampled_from(LineOfBusiness), min_size=1),
        )
    )


def provider_records(*, kind: ProviderType | None = None) -> st.SearchStrategy[ProviderRecord]:
    """Realistic provider records: practitioners, groups and facilities, some with accented names.

    Args:
        kind: Records whose welcome letter suggests this type (practitioners
            are paid as individuals, groups under a Group Payee ID); both if ``None``.

    Provider IDs are ``P`` or ``G`` and 7 digits; use ``st.lists(...,
    unique_by=lambda r: r.provider_id)`` for a directory.

    Example::

        @given(provider_records(kind=ProviderType.GROUP))
        def test_group_records_suggest_group(record):
            assert suggest_provider_type(record) is ProviderType.GROUP
    """
    if kind is None:
        return _records(ProviderType.PRACTITIONER) | _records(ProviderType.GROUP)
    return _records(ProviderType(kind))


# -- registration requests -------------------------------------------------------------


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _padded(text: str) -> str:
    return f"  {text} "


_NAME_NOISE: Final[tuple[Callable[[str], str], ...]] = (
    str.upper,
    str.lower,
    str.title,
    _padded,
    lambda text: text.replace(" ", "  "),
    lambda text: text.replace(" ", "\u00a0"),
    _fullwidth,
)


def _agrees(normalize: Callable[[str], str], value: str, expected: str) -> bool:
    try:
        return normalize(value) == expected
    except InvalidInput:
        return False


def _noisy(
    canonical: str,
    variants: st.SearchStrategy[str],
    normalize: Callable[[str], str],
    expected: str,
) -> st.SearchStrategy[str]:
    """Variants that normalise to ``expected``; any that would not falls back to ``canonical``."""
    return variants.map(lambda value: value if _agrees(normalize, value, expected) else canonical)


def _name_variants(name: str, key: str) -> st.SearchStrategy[str]:
    variants = st.lists(st.sampled_from(_NAME_NOISE), max_size=3).map(
        lambda noise: functools.reduce(lambda text, change: change(text), noise, name)
    )
    return _noisy(name, variants, normalize_name, key)


def _zip_variants(zip_code: str) -> st.SearchStrategy[str]:
    plus4 = st.sampled_from(("", "-", " ")).flatmap(
        lambda separator: _digits(4).map(separator.__add__)
    )
    variants = st.tuples(st.just(zip_code), st.just("") | plus4, st.booleans()).map(
        lambda parts: _padded(parts[0] + parts[1]) if parts[2] else parts[0] + parts[1]
    )
    return _noisy(zip_code, variants, normalize_zip, zip_code)


def _id_variants(value: str, normalize: Callable[[str], str]) -> st.SearchStrategy[str]:
    variants = st.sampled_from((value, value.lower(), _padded(value), _padded(value.lower())))
    return _noisy(value, variants, normalize, value)


def _type_variants(kind: ProviderType) -> st.SearchStrategy[ProviderType | str]:
    return st.sampled_from((kind, kind.value, kind.value.title(), _padded(kind.value.upper())))


def _provider_fields(
    record: ProviderRecord, kind: ProviderType, noise: bool
) -> st.SearchStrategy[dict[str, object]]:
    """The provider part of a request for ``record``: type, name, Tax ID, ZIP and IDs."""
    zip_code = st.sampled_from(record.zip_codes)
    fields: dict[str, st.SearchStrategy[object]]
    if noise:
        fields = {
            "provider_type": _type_variants(kind),
            "name": _name_variants(record.name, record.name_key),
            "tax_id": _formatted_tax_id(record.tax_id),
            "zip_code": zip_code.flatmap(_zip_variants),
            "provider_id": _id_variants(record.provider_id, normalize_provider_id),
            "npi": _id_variants(record.npi, normalize_npi) if record.npi else st.just(""),
        }
    else:
        fields = {
            "provider_type": st.just(kind),
            "name": st.just(record.name),
            "tax_id": st.just(record.tax_id),
            "zip_code": zip_code,
            "provider_id": st.just(record.provider_id),
            "npi": st.just(record.npi or ""),
        }
    ways = ["provider_id"]
    if kind is ProviderType.PRACTITIONER and record.npi is not None:
        ways += ["npi", "both"]
    return st.tuples(st.fixed_dictionaries(fields), st.sampled_from(ways)).map(_identified)


def _identified(drawn: tuple[dict[str, object], str]) -> dict[str, object]:
    """Keep the identifiers the chosen way names: the Provider ID, the NPI, or both."""
    fields, way = drawn
    if way == "provider_id":
        fields["npi"] = ""
    elif way == "npi":
        fields["provider_id"] = ""
    return fields


def _types_for(record: ProviderRecord, kind: ProviderType | None) -> list[ProviderType]:
    eligible = [ProviderType.PRACTITIONER]
    if record.category in GROUP_ELIGIBLE_CATEGORIES:
        eligible.append(ProviderType.GROUP)
    if kind is None:
        return eligible
    if ProviderType(kind) not in eligible:
        raise InvalidArgument(
            f"registration_requests(): a {record.category.value} record cannot register as a group"
        )
    return [ProviderType(kind)]


_ANSWERS: Final = st.from_regex(r"[A-Za-z][A-Za-z' -]{0,30}[A-Za-z]", fullmatch=True)


def registration_requests(
    *,
    matching: ProviderRecord,
    formatting_noise: bool = True,
    provider_type: ProviderType | None = None,
    policy: PasswordPolicy | None = None,
    questions: Sequence[str] = DEFAULT_QUESTIONS,
    username: st.SearchStrategy[str] | None = None,
    email: st.SearchStrategy[str] | None = None,
    password: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[RegistrationRequest]:
    """Complete, valid registration requests for the provider ``matching`` names.

    Every request matches ``matching`` through
    :class:`~provider_identity.RegistrationMatcher` and passes every field
    check of :meth:`IdentityService.register`, so with the record in the
    directory and no account yet, registration succeeds.

    Args:
        matching: The provider record the request must match.
        formatting_noise: Type the details as people do: Tax ID with hyphens
            or spaces, ZIP+4, padded or lower-case IDs, the name upper-cased,
            re-spaced or in full-width letters. ``False``: the record's own form.
        provider_type: Register as this type; by default Practitioner, or
            Group when the record's category is eligible for it.
        policy: The password policy the password satisfies (the seed's by default).
        questions: The configured security questions.
        username: Where usernames come from (:func:`usernames` by default).
        email: Where emails come from (:func:`emails` by default).
        password: Where passwords come from; by default :func:`passwords`
            valid under ``policy`` for the username and email drawn.

    Example::

        @given(registration_requests(matching=record))
        def test_formatting_never_stops_a_match(request):
            assert matcher.match(parse(request)) == record
    """
    kinds = _types_for(matching, provider_type)
    providers = st.one_of([_provider_fields(matching, kind, formatting_noise) for kind in kinds])
    names = usernames() if username is None else username
    addresses = emails() if email is None else email
    chosen_questions = st.sampled_from(tuple(questions))

    @st.composite
    def requests(draw: st.DrawFn) -> RegistrationRequest:
        provider = draw(providers)
        name, address = draw(names), draw(addresses)
        secret = passwords(policy, username=name, email=address) if password is None else password
        return RegistrationRequest(
            **provider,  # type: ignore[arg-type]  # the field values drawn above
            username=name,
            email=address,
            password=draw(secret),
            security_question=draw(chosen_questions),
            security_answer=draw(_ANSWERS),
            agreement_confirmed=True,
        )

    return requests()
