"""Recovery codes: single-use codes for when the authenticator is lost."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import attrs

__all__ = ["RECOVERY_ALPHABET", "RecoveryCodeSet", "new_recovery_codes", "normalize_code"]

#: Lower-case letters and digits without the look-alikes 0/o, 1/l/i.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_LENGTH = 10  # 10 of 31 symbols: about 49 bits each


@attrs.frozen(kw_only=True)
class RecoveryCodeSet:
    """Codes to show once, at enrolment or regeneration; only digests are kept.

    Attributes:
        codes: The codes, ``xxxxx-xxxxx``.
    """

    codes: tuple[str, ...] = attrs.field(repr=False)


def new_recovery_codes(
    count: int, *, choice: Callable[[str], str] = secrets.choice
) -> RecoveryCodeSet:
    """``count`` fresh random codes."""
    codes = []
    for _ in range(count):
        text = "".join(choice(RECOVERY_ALPHABET) for _ in range(_LENGTH))
        codes.append(f"{text[:5]}-{text[5:]}")
    return RecoveryCodeSet(codes=tuple(codes))


def normalize_code(code: str) -> str:
    """A typed code as compared: spaces and hyphens dropped, lower case (ASCII)."""
    return "".join(char for char in code if char not in " -\t").lower()
