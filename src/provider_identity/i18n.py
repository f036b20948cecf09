"""Translations: the library's user-facing wording in the user's language.

Every message the library shows a user (errors, password rules, mail) is
built with :func:`msg` (or :func:`msg_plural`, :func:`listing`) where it is
defined. That gives a :class:`Text`: an ordinary ``str`` holding the English
wording (the seed's, unchanged), which also remembers its English message id
and its parameters. The translation happens when the text is shown:
:func:`translate` (and ``error_view(..., locale=...)``,
``PasswordPolicy.requirements(..., locale=...)``, the mail builders) looks the
message id up in the gettext catalogue of the locale and fills the parameters
in again, so "Must be a minimum of 12 characters." becomes "Debe tener un
mínimo de 12 caracteres." with the policy's 12.

The locale is chosen per call (``locale="es"``) or for a block of code, such
as a web request, with :func:`use_locale`; a call without ``locale`` takes the
current one (:func:`current_locale`, English by default). A locale the
library has no catalogue for falls back to English: locales come from request
headers and cookies, and a page must render whatever they say.

Catalogues are the stdlib's gettext ``.mo`` files under
``provider_identity/locale`` (no runtime dependency); Babel extracts the
message ids (``scripts/update-catalogue``, see docs/translations.md).
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Final, Self

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALE_DIR",
    "Text",
    "current_locale",
    "listing",
    "locales",
    "msg",
    "msg_plural",
    "negotiate",
    "supported_locale",
    "translate",
    "use_locale",
]

#: The language the message ids are written in, and the fallback.
DEFAULT_LOCALE: Final = "en"

#: Where the catalogues live: ``<locale>/LC_MESSAGES/messages.mo``.
LOCALE_DIR: Final = Path(__file__).with_name("locale")

_DOMAIN: Final = "messages"

Param = int | str


class Text(str):
    """English wording that remembers how it was made, so it can be translated later.

    Equal to (and usable as) its English ``str``; :func:`translate` renders it
    in another locale. Parameters that are themselves :class:`Text` (a
    field's label, a duration) are translated too.

    Attributes:
        msgid: The English message id (with ``{name}`` placeholders).
        plural: The English plural message id, for :func:`msg_plural`.
        params: The values filled into the placeholders.
    """

    msgid: str
    plural: str | None
    params: Mapping[str, Param]
    _parts: tuple[str, ...] | None

    def __new__(
        cls,
        msgid: str,
        plural: str | None = None,
        params: Mapping[str, Param] | None = None,
        parts: Sequence[str] | None = None,
    ) -> Self:
        values = dict(params or {})
        english = _format(_english_form(msgid, plural, values), values, parts)
        text = super().__new__(cls, english)
        text.msgid, text.plural, text.params = msgid, plural, values
        text._parts = None if parts is None else tuple(parts)
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.msgid, self.plural, dict(self.params), self._parts))


def _english_form(singular: str, plural: str | None, params: Mapping[str, Param]) -> str:
    return singular if plural is None or params.get("count") == 1 else plural


def _format(template: str, params: Mapping[str, Param], parts: Sequence[str] | None) -> str:
    if parts is not None:  # a listing's head: the parts, comma-separated
        return template.join(parts)
    return template.format_map(params) if params else template


def msg(msgid: str, /, **params: Param) -> str:
    """Mark ``msgid`` for the catalogue; the English text with ``params`` filled in.

    Typed ``str``, which it is (a :class:`Text`), so wording stays ``str`` everywhere.

    Placeholders are ``str.format`` fields: ``msg("Must be a minimum of {min}
    characters.", min=12)``. Mail bodies keep their ``$name`` placeholders,
    which the mail templates fill in afterwards.
    """
    return Text(msgid, None, params) if params else _constant(msgid)


@functools.lru_cache(maxsize=1024)
def _constant(msgid: str) -> Text:
    """A message without parameters, made once: a field's label is asked for on every row."""
    return Text(msgid)


def msg_plural(singular: str, plural: str, /, *, count: int, **params: Param) -> str:
    """Mark a message with a plural form; ``count`` picks the form (and is a parameter)."""
    return Text(singular, plural, {"count": count, **params})


def listing(items: Sequence[str], conjunction: str = "and") -> str:
    """``a and b``, ``a, b and c``; or ``a or b``, ``a or b or c``: translatable item by item.

    Args:
        items: The items, each a :class:`Text` or text kept as it is (a phone number).
        conjunction: ``"and"`` or ``"or"``.
    """
    if len(items) < 2:
        return items[0] if items else ""
    if conjunction == "or":
        return msg("{head} or {last}", head=listing(items[:-1], "or"), last=items[-1])
    return msg("{head} and {last}", head=Text(", ", None, None, items[:-1]), last=items[-1])


_current: ContextVar[str] = ContextVar("provider_identity_locale", default=DEFAULT_LOCALE)


def current_locale() -> str:
    """The locale of calls that name none: the innermost :func:`use_locale`'s, else English."""
    return _current.get()


@contextlib.contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Within the block, calls without ``locale=`` use this one (English if unsupported).

    Follows the context (a thread, an asyncio task), so concurrent requests
    each keep their own. Yields the locale chosen.
    """
    chosen = supported_locale(locale) or DEFAULT_LOCALE
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@functools.cache
def locales() -> tuple[str, ...]:
    """The locales with a catalogue, English first: ``("en", "es")``."""
    found = sorted(
        path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{_DOMAIN}.mo")
    )
    return (DEFAULT_LOCALE, *found)


def supported_locale(locale: object) -> str | None:
    """The supported locale for a tag such as ``es``, ``es-MX`` or ``es_MX``; ``None`` if none.

    A regional tag falls back to its language (``es-MX`` -> ``es``).
    """
    if not isinstance(locale, str):
        return None
    tag = locale.strip().replace("-", "_")
    language, _, region = tag.partition("_")
    candidates = (
        (f"{language.lower()}_{region.upper()}", language.lower()) if region else (tag.lower(),)
    )
    return next((name for name in candidates if name in locales()), None)


_ACCEPT: Final = re.compile(
    r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*"
)


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The best supported locale for an ``Accept-Language`` header (RFC 9110), else ``default``.

    Tags are taken by their ``q`` weight (1 when absent; 0 means "not this"),
    ties in the header's order; a regional tag matches its language.
    """
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:32]):
        match = _ACCEPT.fullmatch(item)
        if match is None:
            continue
        try:
            weight = float(match.group(2) or 1)
        except ValueError:
            continue
        if weight > 0:
            weighted.append((-weight, position, match.group(1)))
    for _, _, tag in sorted(weighted):
        found = supported_locale(tag)
        if found is not None:
            return found
    return default


@functools.cache
def _catalogue(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    return gettext.translation(_DOMAIN, localedir=LOCALE_DIR, languages=[locale])


def translate(text: str, locale: str | None = None) -> str:
    """``text`` in ``locale`` (the current locale if ``None``; English if unsupported).

    Text not made by :func:`msg` (an application's own wording) is returned as it is.
    """
    if not isinstance(text, Text):
        return text
    chosen = supported_locale(locale) if locale is not None else current_locale()
    if chosen is None or chosen == DEFAULT_LOCALE:
        return str(text)
    catalogue = _catalogue(chosen)
    params = {
        name: translate(value, chosen) if isinstance(value, Text) else value
        for name, value in text.params.items()
    }
    if text._parts is not None:
        return _format(text.msgid, {}, [translate(part, chosen) for part in text._parts])
    if text.plural is None:
        template = catalogue.gettext(text.msgid)
    else:
        count = params.get("count", 0)
        template = catalogue.ngettext(
            text.msgid, text.plural, count if isinstance(count, int) else 0
        )
    return _format(template, params, None)
