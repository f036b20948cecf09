"""Provider records as the health plan keeps them, and the normalisers that compare them.

"All your information must match exactly as listed on your Explanation of
Benefit (EOB) or welcome letter": *exactly* means the same content once
formatting is normalised. Tax IDs compare as 9 digits, ZIP codes on their
first 5 digits, IDs trimmed and upper-cased, names after NFKC, whitespace
collapse and case folding. Identifiers are ASCII only and matched with
full-string patterns; they are never parsed with ``int()``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import ClassVar, TypeGuard, TypeVar

import attrs

from provider_identity._fields import checked_text, fold_words
from provider_identity.errors import ConfigurationError, InvalidInput
from provider_identity.i18n import msg

__all__ = [
    "GROUP_ELIGIBLE_CATEGORIES",
    "LineOfBusiness",
    "Payee",
    "ProviderCategory",
    "ProviderRecord",
    "ProviderSearch",
    "ProviderType",
    "mask_tax_id",
    "normalize_name",
    "normalize_npi",
    "normalize_provider_id",
    "normalize_tax_id",
    "normalize_zip",
    "page_of",
    "suggest_provider_type",
]

NAME_MAX_LENGTH = 200
_RAW_MAX_LENGTH = 64

_TAX_ID = re.compile(r"[0-9]{9}", re.ASCII)
_TAX_ID_FORMATTING = re.compile(r"[ -]", re.ASCII)
_ZIP = re.compile(r"([0-9]{5})(?:[ -]?[0-9]{4})?", re.ASCII)
_PROVIDER_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{0,29}", re.ASCII)
_NPI = re.compile(r"[0-9]{10}", re.ASCII)
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")
_ZERO = ord("0")


class ProviderType(enum.Enum):
    """How a provider registers: as an individual or as a group."""

    PRACTITIONER = "practitioner"
    GROUP = "group"


class _Seeded(type):
    """Iterating the class gives the seed's members, as iterating an enum would."""

    _seed: tuple[object, ...]

    def __iter__(cls: type[_V]) -> Iterator[_V]:
        return iter(cls._seed)  # type: ignore[attr-defined]  # set right after each class


_V = TypeVar("_V")
_LINE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", re.ASCII)
_CATEGORY_CODE = re.compile(r"[a-z][a-z0-9_]{0,49}", re.ASCII)


def _code(
    pattern: re.Pattern[str], what: str
) -> Callable[[object, attrs.Attribute[str], str], None]:
    def check(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise ConfigurationError(f"{what} must match {pattern.pattern}, not {value!r}.")

    return check


@attrs.frozen(order=True)
class LineOfBusiness(metaclass=_Seeded):
    """A health plan product a provider serves (it decides the help line): a plan's own values.

    ``LineOfBusiness("MedicareAdvantage")`` is a line as good as the seed's two
    (``LineOfBusiness.MEDICAID``, ``LineOfBusiness.MARKETPLACE``); iterating the
    class gives those two. Its help line and display name are the plan's
    configuration: :class:`~provider_identity.plan.PlanLines`.

    Attributes:
        value: The code as rosters and stored records hold it (letters,
            digits, ``_ . -``; no spaces).
    """

    value: str = attrs.field(validator=_code(_LINE_CODE, "A line of business code"))

    MEDICAID: ClassVar[LineOfBusiness]
    MARKETPLACE: ClassVar[LineOfBusiness]


LineOfBusiness.MEDICAID = LineOfBusiness("Medicaid")
LineOfBusiness.MARKETPLACE = LineOfBusiness("Marketplace")
LineOfBusiness._seed = (LineOfBusiness.MEDICAID, LineOfBusiness.MARKETPLACE)


class Payee(enum.Enum):
    """How the welcome letter registered the provider."""

    GROUP = "group"
    """Registered under a Group Payee ID."""
    INDIVIDUAL = "individual"
    """Registered as an individual."""


@attrs.frozen(order=True)
class ProviderCategory(metaclass=_Seeded):
    """A provider's specialty or facility kind, as far as group eligibility cares.

    The seed's categories are class attributes (``ProviderCategory.RADIOLOGY``
    ...; iterating the class gives them); a plan may use its own
    (``ProviderCategory("dialysis")``) and add it to the group-eligible set.
    NUCC taxonomy codes map to categories through
    :class:`~provider_identity.plan.TaxonomyMap`.

    Attributes:
        value: Lower-case letters, digits and ``_``, as stored.
    """

    value: str = attrs.field(validator=_code(_CATEGORY_CODE, "A provider category"))

    RADIOLOGY: ClassVar[ProviderCategory]
    ANESTHESIOLOGY: ClassVar[ProviderCategory]
    PATHOLOGY: ClassVar[ProviderCategory]
    HOSPITALIST: ClassVar[ProviderCategory]
    EMERGENCY_URGENT_CARE: ClassVar[ProviderCategory]
    LABORATORY: ClassVar[ProviderCategory]
    HOSPITAL: ClassVar[ProviderCategory]
    SKILLED_NURSING_FACILITY: ClassVar[ProviderCategory]
    OTHER_FACILITY: ClassVar[ProviderCategory]
    PRIMARY_CARE: ClassVar[ProviderCategory]
    SPECIALIST: ClassVar[ProviderCategory]
    BEHAVIORAL_HEALTH: ClassVar[ProviderCategory]
    OTHER: ClassVar[ProviderCategory]


ProviderCategory.RADIOLOGY = ProviderCategory("radiology")
ProviderCategory.ANESTHESIOLOGY = ProviderCategory("anesthesiology")
ProviderCategory.PATHOLOGY = ProviderCategory("pathology")
ProviderCategory.HOSPITALIST = ProviderCategory("hospitalist")
ProviderCategory.EMERGENCY_URGENT_CARE = ProviderCategory("emergency_urgent_care")
ProviderCategory.LABORATORY = ProviderCategory("laboratory")
ProviderCategory.HOSPITAL = ProviderCategory("hospital")
ProviderCategory.SKILLED_NURSING_FACILITY = ProviderCategory("skilled_nursing_facility")
ProviderCategory.OTHER_FACILITY = ProviderCategory("other_facility")
ProviderCategory.PRIMARY_CARE = ProviderCategory("primary_care")
ProviderCategory.SPECIALIST = ProviderCategory("specialist")
ProviderCategory.BEHAVIORAL_HEALTH = ProviderCategory("behavioral_health")
ProviderCategory.OTHER = ProviderCategory("other")
ProviderCategory._seed = (
    ProviderCategory.RADIOLOGY,
    ProviderCategory.ANESTHESIOLOGY,
    ProviderCategory.PATHOLOGY,
    ProviderCategory.HOSPITALIST,
    ProviderCategory.EMERGENCY_URGENT_CARE,
    ProviderCategory.LABORATORY,
    ProviderCategory.HOSPITAL,
    ProviderCategory.SKILLED_NURSING_FACILITY,
    ProviderCategory.OTHER_FACILITY,
    ProviderCategory.PRIMARY_CARE,
    ProviderCategory.SPECIALIST,
    ProviderCategory.BEHAVIORAL_HEALTH,
    ProviderCategory.OTHER,
)


#: "Group registration is available for radiologists, anesthesiologists,
#: pathologists, hospitalists, emergency room/urgent care and laboratory
#: providers, as well as facilities, such as hospitals and skilled nursing
#: facilities."
GROUP_ELIGIBLE_CATEGORIES = frozenset(
    {
        ProviderCategory.RADIOLOGY,
        ProviderCategory.ANESTHESIOLOGY,
        ProviderCategory.PATHOLOGY,
        ProviderCategory.HOSPITALIST,
        ProviderCategory.EMERGENCY_URGENT_CARE,
        ProviderCategory.LABORATORY,
        ProviderCategory.HOSPITAL,
        ProviderCategory.SKILLED_NURSING_FACILITY,
        ProviderCategory.OTHER_FACILITY,
    }
)


def _bounded_text(value: object, field: str, label: str, max_length: int) -> str:
    return checked_text(field, value, label=label, max_length=max_length, refused=())


def _plain_digits(value: object, length: int) -> TypeGuard[str]:
    """``value`` is text of ``length`` ASCII digits: already normalised (the common case)."""
    return isinstance(value, str) and len(value) == length and value.isascii() and value.isdigit()


def normalize_tax_id(value: object, *, field: str = "tax_id") -> str:
    """Return the Tax ID's 9 digits; hyphens and spaces are formatting.

    Raises:
        InvalidInput: anything but 9 ASCII digits once formatting is removed.
    """
    if _plain_digits(value, 9):
        return value
    digits = _TAX_ID_FORMATTING.sub("", _bounded_text(value, field, msg("Tax ID"), _RAW_MAX_LENGTH))
    if _TAX_ID.fullmatch(digits) is None:
        raise InvalidInput.single(
            field, "invalid_format", msg("Tax ID must be 9 digits, e.g. 12-3456789.")
        )
    return digits


def normalize_zip(value: object, *, field: str = "zip_code") -> str:
    """Return the ZIP code's first 5 digits; ZIP+4 is accepted.

    Raises:
        InvalidInput: not ``NNNNN`` or ``NNNNN-NNNN`` (ASCII digits).
    """
    if _plain_digits(value, 5):
        return value
    if _plain_digits(value, 9):  # ZIP+4 without its hyphen, as NPPES prints it
        return value[:5]
    match = _ZIP.fullmatch(_bounded_text(value, field, msg("ZIP Code"), _RAW_MAX_LENGTH).strip())
    if match is None:
        raise InvalidInput.single(
            field, "invalid_format", msg("ZIP Code must be 5 digits or ZIP+4.")
        )
    return match.group(1)


def normalize_provider_id(value: object, *, field: str = "provider_id") -> str:
    """Return the Provider ID trimmed and upper-cased.

    Raises:
        InvalidInput: not 1 to 30 ASCII letters, digits or hyphens.
    """
    # ASCII is checked before upper-casing: the long s (U+017F) upper-cases to "S".
    text = _bounded_text(value, field, msg("Provider ID"), _RAW_MAX_LENGTH).strip()
    if not text.isascii() or _PROVIDER_ID.fullmatch(text.upper()) is None:
        raise InvalidInput.single(
            field, "invalid_format", msg("Provider ID must be letters and digits.")
        )
    return text.upper()


def _npi_check_digit_ok(npi: str) -> bool:
    """The Luhn check over the ``80840`` prefix and the 10 ASCII digits of ``npi``.

    From the right, every second digit is doubled (a two-digit result counts
    as the sum of its digits): the table gives that for a digit, and the
    prefix, whose place is fixed, adds 24. Summing the bytes of a digit string
    is one C loop; NPPES's 9 million rows each have an NPI to check.
    """
    doubled = npi[8::-2].translate(_LUHN_DOUBLED).encode()
    return (24 + sum(doubled) + sum(npi[9::-2].encode()) - 10 * _ZERO) % 10 == 0


def normalize_npi(value: object, *, field: str = "npi") -> str:
    """Return the NPI's 10 digits after checking its Luhn check digit.

    Raises:
        InvalidInput: not 10 ASCII digits, or the check digit is wrong.
    """
    if _plain_digits(value, 10):  # already normalised (the common case): nothing to trim
        text = value
    else:
        text = _bounded_text(value, field, msg("NPI"), _RAW_MAX_LENGTH).strip()
        if _NPI.fullmatch(text) is None:
            raise InvalidInput.single(field, "invalid_format", msg("NPI must be 10 digits."))
    if not _npi_check_digit_ok(text):
        raise InvalidInput.single(
            field, "invalid_check_digit", msg("This NPI is not valid; please check it.")
        )
    return text


# Control characters (category Cc) other than whitespace, which names collapse.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def normalize_name(value: object, *, field: str = "name") -> str:
    """Return the comparison key of a name: NFKC, whitespace collapsed, case-folded.

    Raises:
        InvalidInput: not text, blank, too long or containing control characters.
    """
    text = _bounded_text(value, field, msg("Name"), NAME_MAX_LENGTH)
    if _CONTROLS.search(text):
        raise InvalidInput.single(
            field, "invalid_characters", msg("Name contains characters that are not allowed.")
        )
    return fold_words(text)


def mask_tax_id(tax_id: str) -> str:
    """Show at most the last 4 digits: a Tax ID may be a person's SSN."""
    return "*****" + tax_id[-4:]


def _zip_codes(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    zips = tuple(dict.fromkeys(normalize_zip(value, field="zip_codes") for value in values))
    if not zips:
        raise InvalidInput.single(
            "zip_codes", "required", "A provider record needs at least one ZIP code."
        )
    return zips


def _optional_npi(value: str | None) -> str | None:
    return None if value is None or value == "" else normalize_npi(value)


def _optional_end_date(value: date | str | None) -> date | None:
    """A record's end date: a ``date``, ISO text (``2026-06-30``), or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) <= 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput.single("end_date", "invalid_date", "End date must be a date: YYYY-MM-DD.")


def _lines(values: Iterable[LineOfBusiness]) -> frozenset[LineOfBusiness]:
    return frozenset(values)


def tax_id_repr(tax_id: object) -> str:
    """``repr`` of a Tax ID (as stored or as typed): the last 4 characters only."""
    return repr(mask_tax_id(tax_id)) if isinstance(tax_id, str) else "<not text>"


@attrs.frozen(kw_only=True)
class ProviderRecord:
    """A provider as the plan's records (and the EOB / welcome letter) list it.

    Identifiers are normalised on construction, so a record compares with a
    normalised request directly. ``repr`` shows only the Tax ID's last 4 digits.

    Attributes:
        provider_id: The plan's provider number (unique per record).
        tax_id: 9 digits; for an individual this may be an SSN.
        name: Practitioner's or group's name as printed on the EOB.
        zip_codes: ZIP codes of every address in the profile (5 digits).
        npi: National Provider Identifier, if known.
        category: Specialty or facility kind (decides Group eligibility).
        payee: How the welcome letter registered the provider.
        lines_of_business: Products served (decides the help line).
        end_date: The day the record ends, if it does: from that day on the
            provider is out of the network (``reconcile`` deactivates its accounts).
    """

    provider_id: str = attrs.field(converter=normalize_provider_id)
    tax_id: str = attrs.field(converter=normalize_tax_id, repr=tax_id_repr)
    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    zip_codes: tuple[str, ...] = attrs.field(converter=_zip_codes)
    npi: str | None = attrs.field(default=None, converter=_optional_npi)
    category: ProviderCategory = ProviderCategory.OTHER
    payee: Payee = Payee.INDIVIDUAL
    lines_of_business: frozenset[LineOfBusiness] = attrs.field(
        default=frozenset({LineOfBusiness.MEDICAID}), converter=_lines
    )
    end_date: date | None = attrs.field(default=None, converter=_optional_end_date)
    name_key: str = attrs.field(init=False, repr=False, eq=False)

    @name_key.default
    def _name_key(self) -> str:
        return normalize_name(self.name)

    def is_current_on(self, day: date) -> bool:
        """True unless the record has ended by ``day`` (an ``end_date`` on or before it)."""
        return self.end_date is None or self.end_date > day


def _normalised_record(
    *,
    provider_id: str,
    tax_id: str,
    name: str,
    zip_codes: tuple[str, ...],
    npi: str | None,
    category: ProviderCategory,
    payee: Payee,
    lines_of_business: frozenset[LineOfBusiness],
    name_key: str,
) -> ProviderRecord:
    """A record built from values already as its converters leave them, without converting again.

    For a bulk reader that has normalised every field itself, ``name_key``
    with :func:`normalize_name` (the NPPES reader: each of its rows would
    otherwise check its NPI twice). The record has no end date. The caller
    vouches for the values; the result equals ``ProviderRecord(...)`` of them.
    """
    record: ProviderRecord = _new_record(ProviderRecord)
    _put_provider_id(record, provider_id)
    _put_tax_id(record, tax_id)
    _put_name(record, name)
    _put_zip_codes(record, zip_codes)
    _put_npi(record, npi)
    _put_category(record, category)
    _put_payee(record, payee)
    _put_lines_of_business(record, lines_of_business)
    _put_end_date(record, None)
    _put_name_key(record, name_key)
    return record


# The slots' own setters: round a frozen class's __setattr__ as attrs' generated
# __init__ goes (object.__setattr__), without looking each slot up by name.
_new_record = object.__new__
(
    _put_provider_id, _put_tax_id, _put_name, _put_zip_codes, _put_npi, _put_category,
    _put_payee, _put_lines_of_business, _put_end_date, _put_name_key,
) = (vars(ProviderRecord)[slot.name].__set__ for slot in attrs.fields(ProviderRecord))  # fmt: skip


@attrs.frozen
class ProviderSearch:
    """What a Group user typed to find providers: a Provider ID or NPI start, or part of a name.

    A record matches when its Provider ID or its NPI starts with the text
    (trimmed; Provider IDs compared upper-case), or when its name's
    comparison key (see :func:`normalize_name`) contains the text's.

    Attributes:
        id_prefix: The text trimmed and upper-cased, for Provider IDs and NPIs.
        name_part: The text's name comparison key.
    """

    id_prefix: str
    name_part: str

    @classmethod
    def parse(cls, text: object, *, field: str = "search") -> ProviderSearch | None:
        """The search for ``text``; ``None`` (everything) for blank text.

        Raises:
            InvalidInput: not text, longer than a name may be, or with control characters.
        """
        if isinstance(text, str) and not text.strip():
            return None
        name_part = normalize_name(text, field=field)
        return cls(id_prefix=str(text).strip().upper(), name_part=name_part)

    def matches(self, record: ProviderRecord) -> bool:
        """True if ``record`` is one the user is looking for."""
        return (
            record.provider_id.startswith(self.id_prefix)
            or (record.npi is not None and record.npi.startswith(self.id_prefix))
            or self.name_part in record.name_key
        )


def page_of(
    records: Iterable[ProviderRecord],
    *,
    after: str | None,
    limit: int,
    search: ProviderSearch | None,
) -> list[ProviderRecord]:
    """Up to ``limit`` of ``records`` matching ``search`` whose Provider ID sorts after ``after``.

    In Provider ID order, whatever the order given.
    """
    page: list[ProviderRecord] = []
    for record in sorted(records, key=lambda record: record.provider_id):
        if len(page) == limit:
            break
        if (after is None or record.provider_id > after) and (
            search is None or search.matches(record)
        ):
            page.append(record)
    return page


def suggest_provider_type(record: ProviderRecord) -> ProviderType:
    """The seed's tip: a Group Payee ID means Group, an individual means Practitioner."""
    return ProviderType.GROUP if record.payee is Payee.GROUP else ProviderType.PRACTITIONER
