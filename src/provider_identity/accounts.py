"""Accounts and the one canonical form of usernames and email addresses."""

from __future__ import annotations

import bisect
import enum
import unicodedata
from datetime import datetime
from typing import Final

import attrs
import email_validator

from provider_identity import _script_table
from provider_identity._fields import FieldErrors, has_forbidden_characters
from provider_identity.errors import InvalidInput
from provider_identity.providers import ProviderType

__all__ = [
    "EMAIL_MAX_LENGTH",
    "USERNAME_MAX_LENGTH",
    "USERNAME_MIN_LENGTH",
    "Account",
    "AccountStatus",
    "CanonicalEmail",
    "canonical_email",
    "canonical_username",
    "canonicalize",
]

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 64
EMAIL_MAX_LENGTH = 254


def canonicalize(value: str) -> str:
    """NFKC plus case folding, repeated until stable, so ``canonicalize`` is idempotent.

    A single ``casefold(NFKC(x))`` is not always NFKC-normal; iterating to a
    fixed point (two rounds in practice) makes ``canon(canon(x)) == canon(x)``.
    """
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", value).casefold()
        if folded == value:
            break
        value = folded
    return value


def canonical_username(value: object, *, field: str = "username") -> str:
    """Return the canonical key of a username.

    Surrounding whitespace is dropped (it is easy to type by accident and
    cannot be part of a username); whitespace inside is refused. A username
    that is an email address gets that address's key (``canonical_email``),
    so usernames and emails share one key space even for IDN domains:
    ``jane@xn--strae-oqa.example`` and ``jane@straße.example`` are one key,
    distinct from ``jane@strasse.example``. Any other username's key is
    ``canonicalize`` of it.

    The key must start with a letter or a digit, and its letters must come
    from one script (UTS #39 "single script": Common and Inherited characters
    such as digits, ``._-@`` and combining marks go with any script; Han may
    mix with Hiragana and Katakana, with Hangul, or with Bopomofo).

    Raises:
        InvalidInput: not text, blank, too short or long, containing
            whitespace, control, bidirectional or invisible characters,
            starting with neither a letter nor a digit (``invalid_start``), or
            mixing scripts (``mixed_script``).
    """
    errors = FieldErrors()
    text = errors.text(field, value, label="User Name", max_length=4 * USERNAME_MAX_LENGTH)
    if text is not None:
        key = canonicalize(text.strip())
        if has_forbidden_characters(text) or any(char.isspace() for char in key):
            errors.add(
                field,
                "invalid_characters",
                "User Name may not contain spaces or invisible characters.",
            )
        else:
            key = _email_key(text.strip(), key) if "@" in key else key
            if not USERNAME_MIN_LENGTH <= len(key) <= USERNAME_MAX_LENGTH:
                errors.add(
                    field,
                    "invalid_length",
                    f"User Name must be {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters.",
                )
            elif not _starts_with_letter_or_digit(key):
                errors.add(field, "invalid_start", "User Name must start with a letter or a digit.")
            elif not _is_single_script(key):
                errors.add(
                    field,
                    "mixed_script",
                    "User Name may not mix letters of different alphabets "
                    "(such as Latin and Cyrillic).",
                )
            else:
                return key
    raise InvalidInput(errors.errors)


def _email_key(text: str, folded: str) -> str:
    """The email key of the first of ``text``, its NFKC form, ``folded`` that is an address.

    ``text`` comes first because case folding turns a domain's ``ß`` into
    ``ss`` (another domain); the NFKC form catches a fullwidth at sign
    (U+FF20). When none is an address, ``folded`` (already canonical) is the key.
    """
    for candidate in dict.fromkeys((text, unicodedata.normalize("NFKC", text), folded)):
        email = _validated_email(candidate) if len(candidate) <= EMAIL_MAX_LENGTH else None
        if email is not None:
            return email.key
    return folded


def _starts_with_letter_or_digit(key: str) -> bool:
    """True if ``key`` starts with a letter (L*) or a decimal digit (Nd), not a mark or symbol."""
    return unicodedata.category(key[0])[0] == "L" or unicodedata.category(key[0]) == "Nd"


#: UTS #39 augmented script sets: Han is also Japanese, Korean and Han with
#: Bopomofo; Hiragana and Katakana are Japanese; Hangul is Korean.
_AUGMENTED: Final = {
    "Hani": frozenset({"Hanb", "Jpan", "Kore"}),
    "Hira": frozenset({"Jpan"}),
    "Kana": frozenset({"Jpan"}),
    "Hang": frozenset({"Kore"}),
    "Bopo": frozenset({"Hanb"}),
}
_COMMON_OR_INHERITED: Final = frozenset({"Zyyy", "Zinh"})
_SCRIPT_SETS: Final = tuple(
    frozenset(
        augmented for script in name.split() for augmented in (script, *_AUGMENTED.get(script, ()))
    )
    for name in _script_table.NAMES
)


def _is_single_script(text: str) -> bool:
    """True if the characters of ``text`` have a non-empty resolved script set (UTS #39 5.1).

    Each character contributes its augmented Script_Extensions; Common and
    Inherited characters contribute every script, so they never make a mix.
    """
    if text.isascii():  # ASCII letters are all Latin; the rest of ASCII is Common
        return True
    resolved: frozenset[str] | None = None
    for char in text:
        scripts = _SCRIPT_SETS[
            _script_table.INDEXES[bisect.bisect_right(_script_table.STARTS, ord(char)) - 1]
        ]
        if scripts <= _COMMON_OR_INHERITED:
            continue
        resolved = scripts if resolved is None else resolved & scripts
        if not resolved:
            return False
    return True


@attrs.frozen
class CanonicalEmail:
    """An email address as stored (``address``) and as compared (``key``)."""

    address: str
    key: str


def canonical_email(value: object, *, field: str = "email") -> CanonicalEmail:
    """Validate an email address with email-validator (no DNS) and canonicalise it.

    Raises:
        InvalidInput: not text, blank, too long, invisible characters, or not
            a valid address.
    """
    errors = FieldErrors()
    text = errors.text(field, value, label="Email", max_length=EMAIL_MAX_LENGTH)
    if text is not None:
        if has_forbidden_characters(text):
            errors.add(
                field, "invalid_characters", "Email contains characters that are not allowed."
            )
        else:
            email = _validated_email(text.strip())
            if email is not None:
                return email
            errors.add(field, "invalid_email", "Please enter a valid email address.")
    raise InvalidInput(errors.errors)


def _validated_email(text: str) -> CanonicalEmail | None:
    """The address as stored and its comparison key, or ``None`` if either is not valid.

    The key folds the local part (NFKC, case) and lower-cases the domain
    (already IDNA-normalised: case-folding it would merge distinct domains
    such as ``straße.de`` and ``strasse.de``). The key must itself be a valid
    address, or ``canonical_email`` would not be idempotent.
    """
    try:
        validated = email_validator.validate_email(text, check_deliverability=False)
        key = f"{canonicalize(validated.local_part)}@{validated.domain.lower()}"
        email_validator.validate_email(key, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return CanonicalEmail(validated.normalized, key)


class AccountStatus(enum.Enum):
    """Where an account is in its life."""

    PENDING = "pending"
    """Registered; the activation link has not been followed yet."""
    ACTIVE = "active"
    """Activated; may log in."""


@attrs.frozen(kw_only=True)
class Account:
    """A Provider Portal user account, as the AccountRepository stores it.

    ``credential_version`` is bumped on activation and on every password
    change; tokens and (in the caller's hands) sessions are bound to it, so
    bumping it kills every outstanding link. Hashes never appear in ``repr``.
    """

    id: str
    username: str
    username_key: str
    email: str
    email_key: str
    status: AccountStatus
    provider_type: ProviderType
    provider_id: str
    password_hash: str = attrs.field(repr=False)
    password_history: tuple[str, ...] = attrs.field(default=(), repr=False)
    security_question: str
    security_answer_hash: str = attrs.field(repr=False)
    agreement_version: str
    agreement_accepted_at: datetime
    created_at: datetime
    activated_at: datetime | None = None
    credential_version: int = 0

    @property
    def is_active(self) -> bool:
        """True once the account has been activated."""
        return self.status is AccountStatus.ACTIVE
