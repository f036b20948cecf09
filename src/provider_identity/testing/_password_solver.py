"""The password constraint solver behind :func:`provider_identity.testing.strategies.passwords`.

Private: import :func:`passwords` from :mod:`provider_identity.testing.strategies`
(:data:`~provider_identity.passwords.VIOLATION_CODES` is the policy's). Passwords
are assembled from the rules (required classes, filler, wanted words) rather than
filtered, and every rule is read through the public :class:`PasswordPolicy` API, so the
solver follows the policy when it changes.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from provider_identity.passwords import (
    VIOLATION_CODES,
    PasswordPolicy,
    StaticBlocklist,
    context_word_keys,
    identifier_keys,
)

__all__ = ["passwords"]

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


#: Reads a single character's class off the public rules: with every class
#: required and nothing else checked, the class present is the one not missing.
_CLASSIFIER: Final = PasswordPolicy(
    min_length=1,
    context_words=(),
    reject_identifiers=False,
    blocklist=None,
    reject_common_patterns=False,
)


def _class_of(char: str) -> str:
    """The class :meth:`PasswordPolicy.check` gives ``char`` (NFKC-stable), or "neutral"."""
    missing = {violation.code for violation in _CLASSIFIER.check(char)}
    if "control_character" in missing:
        return "control"
    return next((cls for cls, code, _ in _COMPOSITION if code not in missing), "neutral")


def _fold(text: str) -> str:
    """``text`` folded as :meth:`PasswordPolicy.check` folds passwords (case, swaps)."""
    return "".join(context_word_keys((text,)))


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
    return _assembled(_recipe(policy, target, username, email))


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
    # A safety net for what cannot be built: an opaque blocklist's entries, and
    # the rare random text that is a common word or a keyboard walk.
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
