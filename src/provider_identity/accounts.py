"""Accounts and the one canonical form of usernames and email addresses."""

from __future__ import annotations

import bisect
import enum
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import email_validator

from provider_identity import _script_table
from provider_identity._fields import FieldErrors, has_forbidden_characters
from provider_identity.errors import InvalidInput, InvalidTransition
from provider_identity.i18n import msg
from provider_identity.providers import ProviderType

__all__ = [
    "EMAIL_MAX_LENGTH",
    "USERNAME_MAX_LENGTH",
    "USERNAME_MIN_LENGTH",
    "Account",
    "AccountStatus",
    "CanonicalEmail",
    "DeactivationReason",
    "InvalidTransition",
    "PendingEmail",
    "canonical_email",
    "canonical_username",
    "canonicalize",
    "mask_email",
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
    text = errors.text(field, value, label=msg("User Name"), max_length=4 * USERNAME_MAX_LENGTH)
    if text is not None:
        key = canonicalize(text.strip())
        if has_forbidden_characters(text) or any(char.isspace() for char in key):
            errors.add(
                field,
                "invalid_characters",
                msg("User Name may not contain spaces or invisible characters."),
            )
        else:
            key = _email_key(text.strip(), key) if "@" in key else key
            if not USERNAME_MIN_LENGTH <= len(key) <= USERNAME_MAX_LENGTH:
                errors.add(
                    field,
                    "invalid_length",
                    msg(
                        "User Name must be {min} to {max} characters.",
                        min=USERNAME_MIN_LENGTH,
                        max=USERNAME_MAX_LENGTH,
                    ),
                )
            elif not _starts_with_letter_or_digit(key):
                errors.add(
                    field, "invalid_start", msg("User Name must start with a letter or a digit.")
                )
            elif not _is_single_script(key):
                errors.add(
                    field,
                    "mixed_script",
                    msg(
                        "User Name may not mix letters of different alphabets "
                        "(such as Latin and Cyrillic)."
                    ),
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
    text = errors.text(field, value, label=msg("Email"), max_length=EMAIL_MAX_LENGTH)
    if text is not None:
        if has_forbidden_characters(text):
            errors.add(
                field,
                "invalid_characters",
                msg("Email contains characters that are not allowed."),
            )
        else:
            email = _validated_email(text.strip())
            if email is not None:
                return email
            errors.add(field, "invalid_email", msg("Please enter a valid email address."))
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


def mask_email(address: str) -> str:
    """An address with all but the first letter of its local part and domain hidden.

    ``jane.doe@example.org`` becomes ``j***@e***.org``: enough for the owner to
    see a typo, too little to learn an address from. The last domain label
    (``org``) stays; a domain of one label shows only its first letter.
    """
    local, _, domain = address.rpartition("@")
    name, dot, suffix = domain.rpartition(".")
    if not dot:
        name, suffix = domain, ""
    return f"{local[:1]}***@{name[:1]}***{dot}{suffix}"


class AccountStatus(enum.Enum):
    """Where an account is in its life."""

    PENDING = "pending"
    """Registered; the activation link has not been followed yet."""
    ACTIVE = "active"
    """Activated; may log in."""
    DEACTIVATED = "deactivated"
    """Switched off (``deactivation_reason`` says why); may not log in, reset or get mail."""


class DeactivationReason(enum.StrEnum):
    """Why an account was deactivated."""

    ADMINISTRATOR = "administrator"
    """An administrator or the support desk switched it off."""
    PROVIDER_LEFT_DIRECTORY = "provider_left_directory"
    """Its provider record is gone from the directory, or has ended (see ``reconcile``)."""


@attrs.frozen(kw_only=True)
class PendingEmail:
    """A requested, not yet confirmed, new address (``request_email_change``).

    ``nonce`` ties the one confirmation link to this request: a later request
    replaces it, and the earlier link no longer confirms anything.
    """

    address: str
    key: str
    nonce: str = attrs.field(repr=False)
    requested_at: datetime


def _bumped(account: Account, **changes: Any) -> Account:
    """``account`` with ``changes`` and the next credential version: outstanding links die."""
    return attrs.evolve(account, credential_version=account.credential_version + 1, **changes)


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
    deactivated_at: datetime | None = None
    deactivation_reason: DeactivationReason | None = None
    pending_email: PendingEmail | None = None

    @property
    def is_active(self) -> bool:
        """True once the account has been activated (and while it is not deactivated)."""
        return self.status is AccountStatus.ACTIVE

    @property
    def is_pending(self) -> bool:
        """True until the activation link has been followed."""
        return self.status is AccountStatus.PENDING

    @property
    def is_deactivated(self) -> bool:
        """True while the account is switched off."""
        return self.status is AccountStatus.DEACTIVATED

    # -- questions the services ask ----------------------------------------------------

    def pending_expires_at(self, lifetime: timedelta) -> datetime:
        """When a pending account made at ``created_at`` expires."""
        return self.created_at + lifetime

    def is_expired_pending(self, now: datetime, lifetime: timedelta) -> bool:
        """True if the account is pending and ``lifetime`` has passed since it was made."""
        return self.is_pending and now >= self.pending_expires_at(lifetime)

    def recent_password_hashes(self, keep: int) -> tuple[str, ...]:
        """The current hash and its predecessors, the ``keep`` latest: a new password is none."""
        return (self.password_hash, *self.password_history)[:keep]

    def needs_agreement(self, version: str) -> bool:
        """True if the Provider Agreement accepted is not ``version`` (the current one)."""
        return self.agreement_version != version

    # -- transitions: each returns the next state; the store decides the race ----------
    # A transition that changes what a link or a session proves (status, password,
    # address) bumps ``credential_version``; the others keep it.

    def activated(self, now: datetime) -> Account:
        """Pending to active (the activation link proved the address).

        Raises:
            InvalidTransition: the account is not pending.
        """
        self._require(AccountStatus.PENDING)
        return _bumped(self, status=AccountStatus.ACTIVE, activated_at=now)

    def with_password(self, new_hash: str, *, keep: int, now: datetime | None = None) -> Account:
        """A new password: the old hash joins the history (``keep`` hashes in all).

        With ``now`` (a reset link, which proves the address), a pending
        account becomes active too.

        Raises:
            InvalidTransition: the account is deactivated.
        """
        self._refuse(AccountStatus.DEACTIVATED)
        recent = self.recent_password_hashes(keep)
        changed = _bumped(self, password_hash=new_hash, password_history=recent[: max(keep - 1, 0)])
        if now is not None and self.is_pending:
            changed = attrs.evolve(changed, status=AccountStatus.ACTIVE, activated_at=now)
        return changed

    def with_rehashed_password(self, new_hash: str) -> Account:
        """The same password under upgraded hash parameters (nothing a link proves changes)."""
        return attrs.evolve(self, password_hash=new_hash)

    def with_pending_email(self, email: CanonicalEmail, *, nonce: str, now: datetime) -> Account:
        """A requested new address, waiting for its confirmation link.

        Raises:
            InvalidTransition: the account is not active.
        """
        self._require(AccountStatus.ACTIVE)
        pending = PendingEmail(address=email.address, key=email.key, nonce=nonce, requested_at=now)
        return attrs.evolve(self, pending_email=pending)

    def confirms_pending_email(self, nonce: str | None, credential_version: int) -> bool:
        """True if a confirmation link of ``nonce`` and ``credential_version`` confirms the
        pending address: it is the latest request's, nothing changed since, and the
        account is not deactivated. The nonces are compared in constant time."""
        pending = self.pending_email
        return (
            pending is not None
            and nonce is not None
            and secrets.compare_digest(nonce, pending.nonce)
            and self.credential_version == credential_version
            and not self.is_deactivated
        )

    def with_email(self, address: str, key: str) -> Account:
        """The address switched (the pending request, if any, is done).

        Raises:
            InvalidTransition: the account is deactivated.
        """
        self._refuse(AccountStatus.DEACTIVATED)
        return _bumped(self, email=address, email_key=key, pending_email=None)

    def with_security_answer(self, question: str, answer_hash: str) -> Account:
        """A new security question and answer (no link is bound to them).

        Raises:
            InvalidTransition: the account is deactivated.
        """
        self._refuse(AccountStatus.DEACTIVATED)
        return attrs.evolve(self, security_question=question, security_answer_hash=answer_hash)

    def deactivated(self, reason: DeactivationReason, now: datetime) -> Account:
        """Switched off: every link and session dies.

        Raises:
            InvalidInput: ``reason`` is not a :class:`DeactivationReason`.
            InvalidTransition: the account is deactivated already.
        """
        if not isinstance(reason, DeactivationReason):
            raise InvalidInput.single("reason", "wrong_type", "Not a deactivation reason.")
        self._refuse(AccountStatus.DEACTIVATED)
        return _bumped(
            self,
            status=AccountStatus.DEACTIVATED,
            deactivated_at=now,
            deactivation_reason=reason,
            pending_email=None,
        )

    def reactivated(self, now: datetime) -> Account:
        """Switched on again: active if it had been activated, else pending.

        A pending account keeps its ``created_at``: if its lifetime has
        passed meanwhile, it is an expired pending account like any other.

        Raises:
            InvalidTransition: the account is not deactivated.
        """
        self._require(AccountStatus.DEACTIVATED)
        if self.activated_at is not None:
            return _bumped(
                self, status=AccountStatus.ACTIVE, deactivated_at=None, deactivation_reason=None
            )
        return _bumped(
            self, status=AccountStatus.PENDING, deactivated_at=None, deactivation_reason=None
        )

    def accepted_agreement(self, version: str, now: datetime) -> Account:
        """The Provider Agreement ``version`` accepted at ``now``.

        Raises:
            InvalidTransition: the account is not active.
        """
        self._require(AccountStatus.ACTIVE)
        return attrs.evolve(self, agreement_version=version, agreement_accepted_at=now)

    def _require(self, status: AccountStatus) -> None:
        if self.status is not status:
            raise InvalidTransition(f"The account is {self.status.value}, not {status.value}.")

    def _refuse(self, status: AccountStatus) -> None:
        if self.status is status:
            raise InvalidTransition(f"The account is {status.value}.")
