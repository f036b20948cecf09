"""Checks for configuration fields (internal): every refusal is a ConfigurationError.

attrs' own validators (``instance_of``, ``ge`` ...) raise ``TypeError`` or
``ValueError`` and quote the offending value. These do the same checks but
raise :class:`~provider_identity.errors.ConfigurationError` naming the class
and the field, never the value (it may be a signing key or a password).
``bool`` is not accepted where an ``int`` or a number is asked for.

Validators run only after every field is set, so a field that a derived
default reads (serializers built from keys, compiled rules) is checked by a
converter instead, which runs as the field is set: ``Check.check`` and
:func:`text_tuple` serve those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from provider_identity.errors import ConfigurationError

__all__ = [
    "Check",
    "callable_",
    "duration",
    "implements",
    "instance_of",
    "integer",
    "number",
    "optional",
    "text",
    "text_tuple",
]


@attrs.frozen
class Check:
    """An attrs validator: ``accepts(value)``, or a ConfigurationError naming ``expected``."""

    accepts: Callable[[object], bool]
    expected: str
    allow_none: bool = False

    def __call__(self, instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(f"{type(instance).__name__}.{attribute.name}", value)

    def check(self, name: str, value: object) -> None:
        """Refuse ``value`` for the setting called ``name`` unless it is acceptable."""
        if not (value is None and self.allow_none) and not self.accepts(value):
            raise ConfigurationError(f"{name} must be {self.expected}.")


def _is(value: object, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def instance_of(*types: type, expected: str | None = None) -> Check:
    """An instance of one of ``types``."""
    names = " or ".join(kind.__name__ for kind in types)
    return Check(lambda value: _is(value, types), expected or f"of type {names}")


def integer(*, minimum: int, maximum: int | None = None) -> Check:
    """An ``int`` from ``minimum`` (to ``maximum``)."""

    def accepts(value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        return minimum <= value and (maximum is None or value <= maximum)

    if maximum is None:
        return Check(accepts, f"an integer of at least {minimum}")
    return Check(accepts, f"an integer from {minimum} to {maximum}")


def number(*, above: float) -> Check:
    """An ``int`` or ``float`` greater than ``above``."""

    def accepts(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and value > above

    return Check(accepts, f"a number greater than {above:g}")


def duration(*, minimum: timedelta = timedelta(0), inclusive: bool = False) -> Check:
    """A ``timedelta`` longer than ``minimum`` (or at least ``minimum`` if ``inclusive``)."""

    def accepts(value: object) -> bool:
        if not isinstance(value, timedelta):
            return False
        return value >= minimum if inclusive else value > minimum

    word = "at least" if inclusive else "longer than"
    return Check(accepts, f"a timedelta {word} {minimum}")


def text(*, blank: bool = False) -> Check:
    """A ``str``, non-blank unless ``blank``."""
    return Check(
        lambda value: isinstance(value, str) and (blank or bool(value.strip())),
        "text" if blank else "non-blank text",
    )


def optional(check: Check) -> Check:
    """``None``, or what ``check`` accepts."""
    return attrs.evolve(check, allow_none=True, expected=f"None or {check.expected}")


def callable_() -> Check:
    """Something to call (a function, a class, an object with ``__call__``)."""
    return Check(callable, "callable")


def implements(*methods: str) -> Check:
    """An object with these methods: a port, checked the way the Protocol is used."""
    return Check(
        lambda value: all(callable(getattr(value, method, None)) for method in methods),
        f"an object with the method(s) {', '.join(methods)}",
    )


def text_tuple(name: str, values: Iterable[str]) -> tuple[str, ...]:
    """For converters: any iterable of text (a lone string is one item) as a tuple."""
    if isinstance(values, str):
        return (values,)
    refusal = f"{name} must be a list of text."
    if isinstance(values, bytes | bytearray | memoryview | Mapping):  # b"", {}: no items, no text
        raise ConfigurationError(refusal)
    try:
        items = tuple(values)
    except TypeError:
        raise ConfigurationError(refusal) from None
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError(refusal)
    return items
