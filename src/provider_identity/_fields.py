"""Shared checks for raw text input (internal)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

from provider_identity.errors import FieldError, InvalidInput
from provider_identity.i18n import msg

__all__ = [
    "CONTROLS",
    "FORBIDDEN_CATEGORIES",
    "INVISIBLE",
    "FieldErrors",
    "checked_text",
    "collect",
    "fold_words",
    "has_forbidden_characters",
    "to_tuple",
]


#: Unicode categories never allowed in an identifier: controls, format
#: characters (which include the bidirectional controls and zero-width
#: characters), surrogates, private use, unassigned, line/paragraph separators.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: Letters and marks that render as nothing.
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")


_SPACES = re.compile(r"\s+")

_T = TypeVar("_T")


def fold_words(text: str) -> str:
    """NFKC, case-folded, NFKC again, whitespace collapsed and trimmed (names, answers).

    The second NFKC matters: case folding can leave a letter and a combining
    mark that NFKC composes ("STRASŚE" vs "straß́e"), and without it the
    result would not be idempotent.
    """
    if text.isascii():  # NFKC leaves ASCII alone, and casefold() is lower() there
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", folded)).strip()


def to_tuple(values: Iterable[str]) -> tuple[str, ...]:
    """An attrs converter: any iterable of text (a lone string is one item) to a tuple."""
    return (values,) if isinstance(values, str) else tuple(values)


def has_forbidden_characters(value: str) -> bool:
    """True if ``value`` holds a control, format (bidi, zero-width) or invisible character."""
    return any(
        char in INVISIBLE or unicodedata.category(char) in FORBIDDEN_CATEGORIES for char in value
    )


def collect(errors: list[FieldError], parse: Callable[[], _T]) -> _T | None:
    """``parse()``, or ``None`` after adding the field errors it raised to ``errors``."""
    try:
        return parse()
    except InvalidInput as err:
        errors.extend(err.errors)
        return None


#: Unicode categories :func:`checked_text` refuses by default: controls and
#: lone surrogates (which never encode).
CONTROLS = ("Cc", "Cs")


def checked_text(
    field: str,
    value: object,
    *,
    label: str,
    max_length: int,
    refused: tuple[str, ...] = CONTROLS,
) -> str:
    """``value`` if it is a non-blank string of bounded length with no ``refused`` character.

    Length is checked before anything else looks at the content, so an
    oversized value costs no normalisation.

    Raises:
        InvalidInput: one error on ``field`` saying why ``value`` is unusable.
    """
    if not isinstance(value, str):
        raise InvalidInput.single(field, "wrong_type", msg("{label} must be text.", label=label))
    if len(value) > max_length:
        raise InvalidInput.single(
            field,
            "too_long",
            msg("{label} must be at most {max} characters.", label=label, max=max_length),
            {"max": max_length},
        )
    if not value.strip():
        raise InvalidInput.single(field, "required", msg("{label} is required.", label=label))
    if refused and any(unicodedata.category(char) in refused for char in value):
        raise InvalidInput.single(
            field,
            "invalid_characters",
            msg("{label} contains characters that are not allowed.", label=label),
        )
    return value


class FieldErrors:
    """Collects field errors so a form learns about every problem at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        """Record one problem with ``field``."""
        self.errors.append(FieldError(field=field, code=code, message=message))

    def text(self, field: str, value: object, *, label: str, max_length: int) -> str | None:
        """:func:`checked_text`, or ``None`` after recording why ``value`` is unusable."""
        return collect(
            self.errors,
            lambda: checked_text(field, value, label=label, max_length=max_length),
        )
