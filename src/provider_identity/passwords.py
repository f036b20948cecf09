"""The password policy (seed and NIST presets) and argon2id hashing.

The seed asks for "a minimum of 12 characters" with "one lowercase letter, one
uppercase letter, one digit and one non-alphanumeric character". NIST SP
800-63B rev 4 advises against such composition rules; :meth:`PasswordPolicy.nist`
is the preset that follows it instead (15+ characters, no composition rules,
blocklist and context words). Both also refuse common words, seasons and
keyboard walks dressed up with capitals, years, digits and symbols
(``Welcome2024!``), since that is how people meet composition rules.

Passwords are never truncated, trimmed or case-changed. They are NFKC-normalised
before checking and before hashing (and so on both set and verify), after an
upper bound on their raw length is enforced, so a 10 MB password costs neither
normalisation nor a hash.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib.resources
import itertools
import logging
import operator
import string
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Final

import argon2
import argon2.exceptions
import argon2.profiles
import attrs

from provider_identity import _checks
from provider_identity.errors import (
    ConfigurationError,
    FieldError,
    InvalidInput,
    PasswordRejected,
    params_dict,
)
from provider_identity.i18n import listing, msg, msg_plural, translate
from provider_identity.ports import PasswordBlocklist

__all__ = [
    "COMMON_PASSWORDS",
    "DEFAULT_CONTEXT_WORDS",
    "NIST_POLICY",
    "OWASP_MINIMUM",
    "RFC_9106_LOW_MEMORY",
    "SEED_POLICY",
    "TEST_ONLY_CHEAPEST",
    "VIOLATION_CODES",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordRequirement",
    "PasswordUse",
    "StaticBlocklist",
    "Violation",
    "common_passwords",
    "common_words",
    "context_word_keys",
    "identifier_keys",
    "normalize_password",
    "reused_violation",
]

#: Words that make a password guessable for this portal, matched
#: case-insensitively, with common letter/digit swaps, anywhere in it.
DEFAULT_CONTEXT_WORDS: Final = ("CareSource", "Provider", "Portal", "Medicaid", "Marketplace")

#: Identifiers shorter than this are not searched for in passwords: a 2-letter
#: username would otherwise forbid half the dictionary.
MIN_IDENTIFIER_LENGTH: Final = 4

#: Raw input longer than ``RAW_LENGTH_FACTOR * max_length`` is refused before
#: NFKC runs (NFKC may shrink combining sequences, so the exact count comes after).
RAW_LENGTH_FACTOR: Final = 4

#: Every :attr:`Violation.code` that :meth:`PasswordPolicy.check` can report
#: (and :class:`~provider_identity.errors.PasswordRejected` carries).
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

# Letter/digit/symbol swaps folded onto one letter: "P0rt@l" and "portal" meet.
_SWAPS = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "!": "i",
        "|": "i",
        "l": "i",
        "3": "e",
        "4": "a",
        "@": "a",
        "5": "s",
        "$": "s",
        "7": "t",
        "+": "t",
        "8": "b",
        "9": "g",
    }
)


def _fold(text: str) -> str:
    return text.casefold().translate(_SWAPS)


def normalize_password(password: str) -> str:
    """NFKC, as used on both set and verify (ASCII is already NFKC)."""
    return password if password.isascii() else unicodedata.normalize("NFKC", password)


@attrs.frozen
class Violation:
    """One rule a password breaks, with a stable ``code`` and the form's wording."""

    code: str
    message: str
    params: dict[str, int | str] = attrs.field(factory=dict, converter=params_dict, hash=False)

    def as_field_error(self, field: str = "password") -> FieldError:
        """The same problem, as a field error for a form."""
        return FieldError(field=field, code=self.code, message=self.message, params=self.params)


_FLAG = _checks.instance_of(bool)


def _context_words(values: Iterable[str]) -> tuple[str, ...]:
    return _checks.text_tuple("PasswordPolicy.context_words", values)


# The same classes for ASCII, as sets, so the common case is decided in C.
_ASCII_CLASSES = (
    ("lower", frozenset(string.ascii_lowercase)),
    ("upper", frozenset(string.ascii_uppercase)),
    ("digit", frozenset(string.digits)),
    ("symbol", frozenset(string.punctuation + " ")),
    ("control", frozenset(map(chr, [*range(32), 127]))),
)


def _character_classes(password: str) -> set[str]:
    """Which of lower/upper/digit/symbol/control occur, by Unicode category."""
    if password.isascii():
        chars = set(password)
        return {name for name, members in _ASCII_CLASSES if not chars.isdisjoint(members)}
    found: set[str] = set()
    for char in password:
        category = unicodedata.category(char)
        if category == "Ll":
            found.add("lower")
        elif category in ("Lu", "Lt"):
            found.add("upper")
        elif category == "Nd":
            found.add("digit")
        elif category in ("Cc", "Cs"):  # a lone surrogate cannot even be encoded
            found.add("control")
        elif category[0] in "PSZ":
            found.add("symbol")
    return found


def _folded_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize_password(value).casefold() for value in values)


@attrs.frozen
class StaticBlocklist:
    """A fixed set of forbidden passwords, compared after NFKC and case folding."""

    passwords: frozenset[str] = attrs.field(converter=_folded_set)

    def is_blocked(self, password: str) -> bool:
        """True if the whole password is on the list (case-insensitively)."""
        return normalize_password(password).casefold() in self.passwords


#: A small built-in list of passwords that meet length rules yet top every breach
#: corpus. Plug a larger list (or a breach service) in production.
COMMON_PASSWORDS = (
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789012345",
    "1234567890123456",
    "000000000000000",
    "111111111111111",
    "aaaaaaaaaaaaaaa",
    "qwertyuiopasdfg",
    "qwertyuiopasdfgh",
    "qwertyuiop123456",
    "qwertyuiop12345",
    "1qaz2wsx3edc4rfv",
    "1q2w3e4r5t6y7u8i",
    "zaq12wsxcde34rfv",
    "abcdefghijklmno",
    "abcdefghijklmnop",
    "abc123abc123abc",
    "iloveyouiloveyou",
    "passwordpassword",
    "password123456789",
    "Password1234567!",
    "Password123456!",
    "Password12345!",
    "Password1234!",
    "Password123!",
    "P@ssw0rd12345",
    "P@ssword12345",
    "Welcome1234567!",
    "Welcome12345!",
    "Welcome123!!",
    "letmeinletmein",
    "letmein1234567",
    "changemechangeme",
    "trustno1trustno1",
    "correcthorsebatterystaple",
    "Summer2024Summer2024",
    "Winter2024Winter2024",
    "Spring2025Spring2025",
    "Autumn2025Autumn2025",
    "monkeymonkeymonkey",
    "dragondragondragon",
    "sunshinesunshine",
    "football12345678",
    "baseball12345678",
    "superman12345678",
    "princess12345678",
    "starwarsstarwars",
    "Qwerty123456789!",
    "Qwerty12345678!",
    "Admin1234567890!",
    "administrator123",
)


def common_passwords() -> StaticBlocklist:
    """The built-in :data:`COMMON_PASSWORDS` as a blocklist."""
    return StaticBlocklist(COMMON_PASSWORDS)


#: Stripped from both ends of a password before it is compared with common
#: words: the digits, years and symbols people add to pass composition rules.
_PADDING: Final = string.digits + string.punctuation + " "

#: Added to a word like a year is ("WelcomeSummer2024!"); also common words themselves.
_SEASONS: Final = ("spring", "summer", "autumn", "fall", "winter")

#: Rows and columns of a US keyboard (shifted too) and the alphabet: a walk
#: steps from a key to its neighbour on one of these lines, either way.
_KEYBOARD_LINES: Final = (
    "`1234567890-=",
    "~!@#$%^&*()_+",
    "qwertyuiop[]\\",
    "qwertyuiop{}|",
    "asdfghjkl;'",
    'asdfghjkl:"',
    "zxcvbnm,./",
    "zxcvbnm<>?",
    *("1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/"),
    *("!qaz", "@wsx", "#edc", "$rfv", "%tgb", "^yhn", "&ujm", "*ik<", "(ol>", ")p:?"),
    string.ascii_lowercase,
)
_STEPS: Final = frozenset(
    pair for line in _KEYBOARD_LINES for a, b in itertools.pairwise(line) for pair in (a + b, b + a)
)
#: Three keys in a row, each a neighbour of the one before: how every walk's first run starts.
_TRIPLES: Final = frozenset(ab + bc[1] for ab in _STEPS for bc in _STEPS if ab[1] == bc[0])
#: A walk covers all but this many characters of a password's core with runs
#: of 3+ neighbouring keys, and at least :data:`_WALK_COVERED` of them.
_WALK_SLACK: Final = 2
_WALK_COVERED: Final = 4


@functools.cache
def common_words() -> frozenset[str]:
    """The built-in common words and seasons, folded as passwords are.

    About 10,000 base words from Django's list of the 20,000 most common
    passwords (``data/common-passwords.txt``, BSD-3-Clause), read on first
    use, once per process.
    """
    path = importlib.resources.files(__package__).joinpath("data", "common-passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(word) for word in (*lines, *_SEASONS) if word and word[0] != "#")


def _is_keyboard_walk(text: str) -> bool:
    size = len(text)
    if size < _WALK_COVERED:
        return False
    covered = run = 0
    for pair in [*map(operator.add, text, text[1:]), ""]:
        if pair in _STEPS:
            run += 1
            continue
        if run >= 2:
            covered += run + 1
        run = 0
    return covered >= _WALK_COVERED and size - covered <= _WALK_SLACK


def _is_common_pattern(lowered: str, folded: str | None = None) -> bool:
    """A common word or season with years, digits and symbols around it, or a keyboard walk.

    ``lowered`` is the NFKC, case-folded password; ``folded`` the same with
    letter/digit swaps applied, if already at hand (swaps map one character
    to one, so its slice is the folded core).
    """
    head = lowered.lstrip(_PADDING)
    base = head.rstrip(_PADDING)
    if not base:
        return False
    start = len(lowered) - len(head)
    core = base.translate(_SWAPS) if folded is None else folded[start : start + len(base)]
    words = common_words()
    # A walk leaves out at most _WALK_SLACK keys, so a run of 3 starts at index 0, 1 or 2.
    if core in words or (
        (base[:3] in _TRIPLES or base[1:4] in _TRIPLES or base[2:5] in _TRIPLES)
        and _is_keyboard_walk(base)
    ):
        return True
    while base.startswith(_SEASONS) or base.endswith(_SEASONS):
        season = next(s for s in _SEASONS if base.startswith(s) or base.endswith(s))
        cut = base[len(season) :] if base.startswith(season) else base[: -len(season)]
        base = cut.strip(_PADDING)
        if not base or base.translate(_SWAPS) in words or _is_keyboard_walk(base):
            return True
    return False


_WRONG_TYPE = Violation("wrong_type", msg("Password must be text."))
_CONTROL = Violation("control_character", msg("Must not contain control characters."))
_IDENTIFIER = Violation(
    "contains_identifier", msg("Must not contain your user name or email address.")
)
_CONTEXT_WORD = Violation(
    "contains_context_word",
    msg("Must not contain the name of the organisation, the portal or a plan."),
)
_BLOCKLISTED = Violation("blocklisted", msg("Must not be a commonly used password."))
_COMMON_PATTERN = Violation(
    "common_pattern",
    msg("Must not be a common word, season or keyboard pattern with digits or symbols added."),
)


class PasswordUse(enum.Enum):
    """Where a password is chosen: on the registration form, or when changing or resetting it."""

    REGISTRATION = "registration"
    CHANGE = "change"


@attrs.frozen(kw_only=True)
class PasswordRequirement:
    """One rule of a :class:`PasswordPolicy`, as a form's checklist shows it.

    Attributes:
        code: The code of the violation that breaking the rule gives.
        message: Its wording (the violation's).
        params: The values the wording states, e.g. ``{"min": 12}``.
        applies_to: Where the rule is checked: registration, change (and reset), or both.
    """

    code: str
    message: str
    params: dict[str, int | str] = attrs.field(factory=dict, converter=params_dict, hash=False)
    applies_to: frozenset[PasswordUse]


def reused_violation(history: int) -> Violation:
    """The violation of a new password that is one of the last ``history`` ones."""
    wording = msg_plural(
        "Must not be your last password.",
        "Must not be one of your last {count} passwords.",
        count=history,
    )
    return Violation("reused", wording, {"count": history})


@attrs.frozen
class _Rules:
    """What a policy decides once, at construction, so each check only compares."""

    too_short: Violation
    too_long: Violation
    classes: tuple[tuple[str, Violation], ...]
    words: tuple[str, ...]


def identifier_keys(username: str | None, email: str | None) -> tuple[str, ...]:
    """The folded forms of the username and the email's local part that a password may not hold.

    Folded as passwords are (NFKC, case-folded, letter/digit swaps); keys
    shorter than :data:`MIN_IDENTIFIER_LENGTH` are left out.
    """
    return tuple(dict.fromkeys(_identifier_keys(username, email)))


def _identifier_keys(username: str | None, email: str | None) -> Iterator[str]:
    for value in (username, email.rpartition("@")[0] if email else None):
        if value:
            key = _fold(normalize_password(value))
            if len(key) >= MIN_IDENTIFIER_LENGTH:
                yield key


def context_word_keys(words: Iterable[str]) -> tuple[str, ...]:
    """The folded forms of context words, as :meth:`PasswordPolicy.check` looks for them."""
    return tuple(_fold(normalize_password(word)) for word in words if word)


def _check_identifiers(username: object, email: object) -> None:
    wrong = [
        FieldError(
            field=field, code="wrong_type", message=msg("{label} must be text.", label=label)
        )
        for field, label, value in (
            ("username", msg("User name"), username),
            ("email", msg("Email"), email),
        )
        if value is not None and not isinstance(value, str)
    ]
    if wrong:
        raise InvalidInput(wrong)


#: The character-class rules: the policy flag, the class, the code, what is missing.
_CLASS_RULES = (
    ("require_lowercase", "lower", "missing_lowercase", msg("one lowercase letter")),
    ("require_uppercase", "upper", "missing_uppercase", msg("one uppercase letter")),
    ("require_digit", "digit", "missing_digit", msg("one digit")),
    ("require_symbol", "symbol", "missing_symbol", msg("one non-alphanumeric character")),
)


def _too_short(minimum: int) -> Violation:
    return Violation(
        "too_short", msg("Must be a minimum of {min} characters.", min=minimum), {"min": minimum}
    )


@attrs.frozen(kw_only=True)
class PasswordPolicy:
    """What a new password must satisfy. The defaults are the seed's rules.

    Character classes are explicit Unicode categories, decided on the NFKC form:
    lowercase ``Ll``; uppercase ``Lu`` or titlecase ``Lt``; digit ``Nd``;
    non-alphanumeric any punctuation, symbol or space (``P*``, ``S*``, ``Z*``).

    Attributes:
        min_length: Fewest code points (after NFKC).
        max_length: Most code points (after NFKC); at least 64.
        require_lowercase: Needs an ``Ll`` character.
        require_uppercase: Needs an ``Lu``/``Lt`` character.
        require_digit: Needs an ``Nd`` character.
        require_symbol: Needs a non-alphanumeric character.
        context_words: Words the password may not contain (swaps included).
        reject_identifiers: Refuse passwords containing the username or the
            email's local part.
        blocklist: Refuse passwords the blocklist holds (whole-password match).
        reject_common_patterns: Refuse a common word (:func:`common_words`)
            or season, whatever its case and letter/digit swaps, with digits,
            years and symbols added before or after it ("Welcome2024!",
            "WelcomeSummer2024!", "P@ssw0rd123"), and keyboard walks
            ("Qwerty12345678!", "1qaz2wsx3edc!Q").
        history: How many previous passwords a change may not reuse (0: none).
        min_length_with_second_factor: A shorter minimum for accounts with a
            second factor (NIST SP 800-63B rev 4: 8 then, 15 otherwise);
            ``None``: ``min_length`` for every account.
    """

    min_length: int = attrs.field(default=12, validator=_checks.integer(minimum=1))
    # NIST SP 800-63B: at least 64.
    max_length: int = attrs.field(default=128, validator=_checks.integer(minimum=64))
    require_lowercase: bool = attrs.field(default=True, validator=_FLAG)
    require_uppercase: bool = attrs.field(default=True, validator=_FLAG)
    require_digit: bool = attrs.field(default=True, validator=_FLAG)
    require_symbol: bool = attrs.field(default=True, validator=_FLAG)
    context_words: tuple[str, ...] = attrs.field(
        default=DEFAULT_CONTEXT_WORDS,
        converter=_context_words,
    )
    reject_identifiers: bool = attrs.field(default=True, validator=_FLAG)
    blocklist: PasswordBlocklist | None = attrs.field(
        default=None, validator=_checks.optional(_checks.implements("is_blocked"))
    )
    reject_common_patterns: bool = attrs.field(default=True, validator=_FLAG)
    history: int = attrs.field(default=5, validator=_checks.integer(minimum=0))
    min_length_with_second_factor: int | None = attrs.field(
        default=None, validator=_checks.optional(_checks.integer(minimum=1))
    )
    _rules: _Rules = attrs.field(init=False, repr=False, eq=False)

    @_rules.default
    def _compile(self) -> _Rules:
        return _Rules(
            too_short=_too_short(self.min_length),
            too_long=Violation(
                "too_long",
                msg("Must be at most {max} characters.", max=self.max_length),
                {"max": self.max_length},
            ),
            classes=tuple(
                (name, Violation(code, msg("Must contain {what}.", what=what)))
                for flag, name, code, what in _CLASS_RULES
                if getattr(self, flag)
            ),
            words=context_word_keys(self.context_words),
        )

    def __attrs_post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ConfigurationError("min_length may not exceed max_length.")
        shorter = self.min_length_with_second_factor
        if shorter is not None and shorter > self.min_length:
            raise ConfigurationError("min_length_with_second_factor may not exceed min_length.")

    def check(
        self,
        password: object,
        *,
        username: str | None = None,
        email: str | None = None,
        second_factor: bool = False,
    ) -> tuple[Violation, ...]:
        """Return every rule ``password`` breaks; an empty tuple means it is acceptable.

        ``username`` and ``email`` are the account's identifiers, for the
        rule that a password may not contain them. ``second_factor``: the
        account has one, so ``min_length_with_second_factor`` applies. History is not checked here
        (it needs the hasher): :class:`~provider_identity.IdentityService` does it.

        Raises:
            InvalidInput: ``username`` or ``email`` is neither text nor ``None``
                (code ``wrong_type`` on that field).
        """
        _check_identifiers(username, email)
        if not isinstance(password, str):
            return (_WRONG_TYPE,)
        if len(password) > RAW_LENGTH_FACTOR * self.max_length:
            return (self._rules.too_long,)
        password = normalize_password(password)
        if len(password) > self.max_length:
            return (self._rules.too_long,)
        rules = self._rules
        minimum = self.min_length
        if second_factor and self.min_length_with_second_factor is not None:
            minimum = self.min_length_with_second_factor
        too_short = rules.too_short
        if minimum != self.min_length:
            too_short = _too_short(minimum)
        violations = [too_short] if len(password) < minimum else []
        classes = _character_classes(password)
        if "control" in classes:
            violations.append(_CONTROL)
        violations += [violation for name, violation in rules.classes if name not in classes]
        lowered, folded = password.casefold(), None
        if self.reject_identifiers or rules.words:
            folded = lowered.translate(_SWAPS)
            if self.reject_identifiers and any(
                key in folded for key in _identifier_keys(username, email)
            ):
                violations.append(_IDENTIFIER)
            if any(word in folded for word in rules.words):
                violations.append(_CONTEXT_WORD)
        if self.blocklist is not None and self.blocklist.is_blocked(password):
            violations.append(_BLOCKLISTED)
        if self.reject_common_patterns and _is_common_pattern(lowered, folded):
            violations.append(_COMMON_PATTERN)
        return tuple(violations)

    def validate(
        self,
        password: object,
        *,
        username: str | None = None,
        email: str | None = None,
        second_factor: bool = False,
    ) -> None:
        """Raise :class:`PasswordRejected` listing every violation, if there is any."""
        violations = self.check(
            password, username=username, email=email, second_factor=second_factor
        )
        if violations:
            raise PasswordRejected([violation.as_field_error() for violation in violations])

    def requirements(
        self, use: PasswordUse | None = None, *, locale: str | None = None
    ) -> tuple[PasswordRequirement, ...]:
        """Every rule of this policy as data, for a checklist beside the password field.

        Each requirement has the ``code`` (and wording, and ``params``) of the
        violation that breaking it gives, so a form can tick a line off by code.

        Args:
            use: Only the requirements that apply to a registration or to a
                change (``reused`` applies to a change and a reset only);
                ``None``: all of them.
            locale: The wording's language (see :mod:`provider_identity.i18n`);
                ``None``: the current locale.

        Raises:
            InvalidInput: ``use`` is neither a :class:`PasswordUse` nor ``None``
                (code ``wrong_type`` on ``use``; a plain ``"change"`` is refused
                rather than answered with an empty checklist).
        """
        if use is not None and not isinstance(use, PasswordUse):
            raise InvalidInput.single("use", "wrong_type", "use must be a PasswordUse or None.")
        rules = self._rules
        both, change = frozenset(PasswordUse), frozenset({PasswordUse.CHANGE})
        found: list[tuple[Violation, frozenset[PasswordUse]]] = [
            (rules.too_short, both),
            *((violation, both) for _, violation in rules.classes),
            (rules.too_long, both),
        ]
        if self.reject_identifiers:
            found.append((_IDENTIFIER, both))
        if rules.words:
            found.append((_CONTEXT_WORD, both))
        if self.blocklist is not None:
            found.append((_BLOCKLISTED, both))
        if self.reject_common_patterns:
            found.append((_COMMON_PATTERN, both))
        if self.history:
            found.append((reused_violation(self.history), change))
        return tuple(
            PasswordRequirement(
                code=violation.code,
                message=translate(violation.message, locale),
                params=violation.params,
                applies_to=uses,
            )
            for violation, uses in found
            if use is None or use in uses
        )

    def describe(self, *, locale: str | None = None) -> tuple[str, ...]:
        """The requirement lines to print beside the password field, in the seed's words.

        ``locale``: their language (``None``: the current locale).
        """
        lines = [msg("Must be a minimum of {min} characters", min=self.min_length)]
        wanted = [what for flag, _, _, what in _CLASS_RULES if getattr(self, flag)]
        if wanted:
            lines.append(msg("Must contain {what}.", what=listing(wanted)))
        lines.append(msg("Must be at most {max} characters", max=self.max_length))
        if self.reject_identifiers:
            lines.append(msg("Must not contain your user name or email address"))
        if self.context_words:
            lines.append(msg("Must not contain {words}", words=", ".join(self.context_words)))
        if self.blocklist is not None:
            lines.append(msg("Must not be a commonly used password"))
        if self.reject_common_patterns:
            lines.append(
                msg(
                    "Must not be a common word, season or keyboard pattern "
                    "with digits or symbols added"
                )
            )
        if self.history:
            lines.append(
                msg_plural(
                    "Must not be your last password",
                    "Must not be one of your last {count} passwords",
                    count=self.history,
                )
            )
        return tuple(translate(line, locale) for line in lines)


#: RFC 9106's second recommended option (64 MiB, t=3, p=4): the default.
RFC_9106_LOW_MEMORY: Final = argon2.profiles.RFC_9106_LOW_MEMORY

#: OWASP's floor for argon2id (19 MiB, t=2, p=1); weaker parameters are refused.
OWASP_MINIMUM: Final = argon2.Parameters(
    type=argon2.Type.ID,
    version=argon2.low_level.ARGON2_VERSION,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19 * 1024,
    parallelism=1,
)

#: Cheapest possible parameters, for test suites only. Accepted only when
#: this very object is passed, so no production setting reaches it by accident.
TEST_ONLY_CHEAPEST: Final = argon2.profiles.CHEAPEST


def _checked_parameters(value: argon2.Parameters) -> argon2.Parameters:
    # A converter, not a validator: it runs before the hasher is built and
    # anything hashes, so weak parameters never cost a hash.
    if value is TEST_ONLY_CHEAPEST:
        return value
    if not isinstance(value, argon2.Parameters):
        raise ConfigurationError("parameters must be argon2.Parameters.")
    if value.type is not argon2.Type.ID:
        raise ConfigurationError("PasswordHasher uses argon2id only.")
    if (
        value.memory_cost < OWASP_MINIMUM.memory_cost
        or value.time_cost < OWASP_MINIMUM.time_cost
        or value.parallelism < OWASP_MINIMUM.parallelism
    ):
        raise ConfigurationError(
            "argon2 parameters below the OWASP floor (m=19 MiB, t=2, p=1); "
            "name TEST_ONLY_CHEAPEST explicitly for test suites."
        )
    return value


def _checked_factor(value: int) -> int:
    # A converter, not a validator: the ceiling is computed from it as soon as it is set.
    if type(value) is not int or value < 1:
        raise ConfigurationError("PasswordHasher.max_cost_factor must be an int of at least 1.")
    return value


#: The seed's policy: 12+ characters, one lowercase, one uppercase, one digit,
#: one non-alphanumeric (and the library's extra rules). The default; derive a
#: variant with ``attrs.evolve(SEED_POLICY, history=10)``, which mypy checks.
SEED_POLICY: Final = PasswordPolicy()

#: NIST SP 800-63B rev 4: 15+ characters (8+ with a second factor), no composition rules, the small
#: built-in blocklist, context words. Plug a larger corpus in production:
#: ``attrs.evolve(NIST_POLICY, blocklist=my_blocklist)``.
NIST_POLICY: Final = PasswordPolicy(
    min_length=15,
    min_length_with_second_factor=8,
    require_lowercase=False,
    require_uppercase=False,
    require_digit=False,
    require_symbol=False,
    blocklist=common_passwords(),
)

_log = logging.getLogger(__name__)


def _dummy_hash_for(parameters: argon2.Parameters) -> str:
    """The dummy hash of one parameter set: made on first use, once per process."""
    # argon2.Parameters is an unhashable dataclass: cache on its field values.
    return _dummy_hash_of(*dataclasses.astuple(parameters))


@functools.cache
def _dummy_hash_of(*fields: object) -> str:
    parameters = argon2.Parameters(*fields)  # type: ignore[arg-type]  # astuple's own order
    return argon2.PasswordHasher.from_parameters(parameters).hash("provider-identity dummy")


@attrs.frozen(kw_only=True)
class PasswordHasher:
    """argon2id hashing through argon2-cffi.

    ``verify`` fails closed: a wrong password, a malformed or foreign hash all
    give ``False``. ``dummy_verify`` spends exactly the time a real
    verification costs, for paths that must not reveal whether an account exists.

    A stored hash carries its own argon2 parameters, so whoever can write to
    the account store could make each login cost minutes and gigabytes
    (``m=4194304`` or ``t=4294967295``). ``verify`` therefore refuses a stored
    hash whose memory, time or parallelism exceeds the ceiling: it logs a
    warning naming the parameters (never the hash), verifies against the dummy
    hash instead, so the attempt costs one ordinary verification, and returns
    ``False``, as for a wrong password.

    Building one is cheap: the dummy hash is made on first use, once per
    parameter set and process, not per instance.

    Attributes:
        parameters: argon2 parameters; RFC 9106 low memory by default.
        max_cost_factor: The ceiling, as a multiple of the larger of
            ``parameters`` and RFC 9106 low memory, taken for memory, time and
            parallelism each (4 by default: with the default parameters, at
            most 256 MiB, t=12, p=16). The RFC 9106 floor keeps a test suite's
            cheap hasher able to verify real hashes. Raise it while hashes made
            with much stronger parameters than the current ones remain stored.
    """

    parameters: argon2.Parameters = attrs.field(
        default=RFC_9106_LOW_MEMORY, converter=_checked_parameters
    )
    max_cost_factor: int = attrs.field(default=4, converter=_checked_factor)
    _hasher: argon2.PasswordHasher = attrs.field(init=False, repr=False, eq=False)
    _ceiling: tuple[int, int, int] = attrs.field(init=False, repr=False, eq=False)

    @_hasher.default
    def _build_hasher(self) -> argon2.PasswordHasher:
        return argon2.PasswordHasher.from_parameters(self.parameters)

    @_ceiling.default
    def _build_ceiling(self) -> tuple[int, int, int]:
        base, floor = self.parameters, RFC_9106_LOW_MEMORY
        return (
            self.max_cost_factor * max(base.memory_cost, floor.memory_cost),
            self.max_cost_factor * max(base.time_cost, floor.time_cost),
            self.max_cost_factor * max(base.parallelism, floor.parallelism),
        )

    @property
    def _dummy_hash(self) -> str:
        return _dummy_hash_for(self.parameters)

    def hash(self, password: str) -> str:
        """Hash an (NFKC-normalised) password."""
        return self._hasher.hash(normalize_password(password))

    def verify(self, password_hash: str, password: str) -> bool:
        """True if ``password`` matches ``password_hash``; ``False`` on any failure.

        A stored hash over the ceiling (see ``max_cost_factor``) is not run:
        the dummy hash is verified in its place and the answer is ``False``.
        """
        try:
            if self._over_ceiling(password_hash):
                self._hasher.verify(self._dummy_hash, normalize_password(password))
                return False
            return self._hasher.verify(password_hash, normalize_password(password))
        except (
            argon2.exceptions.VerificationError,
            argon2.exceptions.InvalidHashError,
            ValueError,  # text that cannot be encoded (a lone surrogate)
        ):
            return False

    def _over_ceiling(self, password_hash: str) -> bool:
        """True (and logged) if the stored parameters exceed the ceiling; raises if malformed."""
        if password_hash == self._dummy_hash:
            return False
        stored = argon2.extract_parameters(password_hash)
        found = (stored.memory_cost, stored.time_cost, stored.parallelism)
        if all(value <= limit for value, limit in zip(found, self._ceiling, strict=True)):
            return False
        _log.warning(
            "stored password hash refused unverified: argon2 parameters m=%d,t=%d,p=%d "
            "exceed the ceiling m=%d,t=%d,p=%d",
            *found,
            *self._ceiling,
        )
        return True

    def dummy_verify(self, password: str) -> None:
        """Verify ``password`` against a dummy hash of the same cost; the result is discarded."""
        self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True if ``password_hash`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (argon2.exceptions.InvalidHashError, ValueError):
            return True

    def verify_any(self, password: str, password_hashes: Iterable[str]) -> bool:
        """True if ``password`` matches any of ``password_hashes`` (password history)."""
        return any(self.verify(password_hash, password) for password_hash in password_hashes)
