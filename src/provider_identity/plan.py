"""What a health plan configures about its providers: lines of business and categories.

The seed's plan has two lines of business, Medicaid and Marketplace, each
with its help line; another plan (or the same one, later) has Medicare
Advantage, dual-eligible or other products. :class:`PlanLines` declares
them, each with its display name and help line, and is the mapping from
line to help line that :class:`~provider_identity.IdentityService` takes as
``help_lines``::

    plan = SEED_LINES_OF_BUSINESS.extended(
        PlanLine(code="MedicareAdvantage", display_name="Medicare Advantage",
                 help_line="1-844-607-2827"),
    )

Which provider categories may register as a Group is data too: the seed's
set is :data:`~provider_identity.GROUP_ELIGIBLE_CATEGORIES`, and a plan
passes its own superset as ``group_categories``. :class:`TaxonomyMap` turns
NUCC Health Care Provider Taxonomy codes (as NPPES and FHIR Plan-Net carry
them) into categories; the map that ships (``data/nucc-taxonomy.csv``)
covers the seed's group-eligible kinds, and every code it does not know is
``other`` (practitioner-only).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from functools import cache
from pathlib import Path

import attrs

from provider_identity.errors import ConfigurationError, InvalidInput
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    ProviderCategory,
)

__all__ = [
    "NUCC_TAXONOMY_FILE",
    "SEED_LINES_OF_BUSINESS",
    "SEED_PLAN",
    "Plan",
    "PlanLine",
    "PlanLines",
    "TaxonomyMap",
]

#: The NUCC taxonomy code (or code prefix) -> category map that ships with the package.
NUCC_TAXONOMY_FILE = Path(__file__).parent / "data" / "nucc-taxonomy.csv"


def _line(value: LineOfBusiness | str) -> LineOfBusiness:
    return value if isinstance(value, LineOfBusiness) else LineOfBusiness(value)


def _nonblank(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{attribute.name} must be non-blank text.")


@attrs.frozen(kw_only=True, cache_hash=True)
class PlanLine:
    """One line of business of a plan.

    Attributes:
        code: The line as rosters and stored records hold it (``LineOfBusiness``
            or its code, e.g. ``"MedicareAdvantage"``).
        display_name: How messages name it ("Medicare Advantage").
        help_line: The number "provider does not exist" tells its providers to call.
    """

    code: LineOfBusiness = attrs.field(converter=_line)
    display_name: str = attrs.field(validator=_nonblank)
    help_line: str = attrs.field(validator=_nonblank)


def _plan_lines(values: Iterable[PlanLine]) -> tuple[PlanLine, ...]:
    lines = tuple(values)
    if not lines or not all(isinstance(line, PlanLine) for line in lines):
        raise ConfigurationError("A plan declares at least one PlanLine.")
    folded = [line.code.value.casefold() for line in lines]
    if len(set(folded)) != len(folded):
        raise ConfigurationError("Each line of business is declared once (codes ignore case).")
    return lines


@attrs.frozen(cache_hash=True)
class PlanLines(Mapping[LineOfBusiness, str]):
    """A plan's lines of business: a mapping of each line to its help line, with display names.

    Being a mapping, it is what ``help_lines`` of
    :class:`~provider_identity.IdentityService` and
    :class:`~provider_identity.registration.RegistrationMatcher` take;
    a plain ``{line: number}`` mapping still works there (its codes as names).

    Attributes:
        lines: The plan's lines, in the order messages list them.
    """

    lines: tuple[PlanLine, ...] = attrs.field(converter=_plan_lines)
    _by_line: Mapping[LineOfBusiness, PlanLine] = attrs.field(init=False, repr=False, eq=False)
    _by_folded: Mapping[str, LineOfBusiness] = attrs.field(init=False, repr=False, eq=False)

    @_by_line.default
    def _index(self) -> Mapping[LineOfBusiness, PlanLine]:
        return {line.code: line for line in self.lines}

    @_by_folded.default
    def _folded(self) -> Mapping[str, LineOfBusiness]:
        return {line.code.value.casefold(): line.code for line in self.lines}

    @classmethod
    def from_help_lines(cls, help_lines: Mapping[LineOfBusiness, str]) -> PlanLines:
        """The lines of a plain ``{line: number}`` mapping, each named by its code."""
        if isinstance(help_lines, PlanLines):
            return help_lines
        if not isinstance(help_lines, Mapping) or not all(
            isinstance(line, LineOfBusiness) and isinstance(number, str)
            for line, number in help_lines.items()
        ):
            raise ConfigurationError("help_lines maps each LineOfBusiness to a phone number.")
        return cls(
            [
                PlanLine(code=line, display_name=line.value, help_line=number)
                for line, number in help_lines.items()
            ]
        )

    def __getitem__(self, line: LineOfBusiness) -> str:
        return self._by_line[line].help_line

    def __iter__(self) -> Iterator[LineOfBusiness]:
        return iter(self._by_line)

    def __len__(self) -> int:
        return len(self.lines)

    def display_name(self, line: LineOfBusiness) -> str:
        """How messages name ``line`` (its code if the plan does not declare it)."""
        declared = self._by_line.get(line)
        return line.value if declared is None else declared.display_name

    def parse(self, text: str, *, field: str = "lines_of_business") -> LineOfBusiness:
        """The declared line whose code is ``text`` (ignoring case and surrounding space).

        Raises:
            InvalidInput: ``text`` names no line of this plan (code ``invalid_choice``).
        """
        line = self._by_folded.get(text.strip().casefold())
        if line is None:
            choices = ", ".join(line.code.value for line in self.lines)
            raise InvalidInput.single(field, "invalid_choice", f"{field} must be one of {choices}.")
        return line

    def extended(self, *lines: PlanLine) -> PlanLines:
        """These lines and ``lines`` (which must be new)."""
        return PlanLines((*self.lines, *lines))


#: "1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace)": the seed's plan.
SEED_LINES_OF_BUSINESS = PlanLines(
    (
        PlanLine(code=LineOfBusiness.MEDICAID, display_name="Medicaid", help_line="1-855-202-1058"),
        PlanLine(
            code=LineOfBusiness.MARKETPLACE, display_name="Marketplace", help_line="1-833-230-2030"
        ),
    )
)


def _prefixes(values: Mapping[str, ProviderCategory]) -> Mapping[str, ProviderCategory]:
    prefixes = {}
    for code, category in values.items():
        key = code.strip().upper()
        if not key.isascii() or not key.isalnum() or len(key) > 10:
            raise ConfigurationError(f"{code!r} is not a NUCC taxonomy code or code prefix.")
        if not isinstance(category, ProviderCategory):
            raise ConfigurationError(f"The category of {code} is not a ProviderCategory.")
        prefixes[key] = category
    return prefixes


@attrs.frozen
class TaxonomyMap:
    """NUCC Health Care Provider Taxonomy codes to provider categories.

    Keys are whole codes (``208M00000X``, hospitalist) or prefixes (``2085``,
    every radiology code); the longest key that starts a code decides. A code
    no key starts is ``ProviderCategory.OTHER`` (practitioner-only).

    Attributes:
        prefixes: Code or code prefix -> category.
    """

    prefixes: Mapping[str, ProviderCategory] = attrs.field(converter=_prefixes)
    _lengths: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    @_lengths.default
    def _key_lengths(self) -> tuple[int, ...]:
        return tuple(sorted({len(key) for key in self.prefixes}, reverse=True))

    @classmethod
    def shipped(cls) -> TaxonomyMap:
        """The map in ``data/nucc-taxonomy.csv`` (columns ``code``, ``category``, ``label``)."""
        return _shipped_taxonomy()

    @classmethod
    def from_csv(cls, text: str) -> TaxonomyMap:
        """A map from CSV text with ``code`` and ``category`` columns (others ignored)."""
        rows = csv.DictReader(io.StringIO(text))
        try:
            return cls({row["code"]: ProviderCategory(row["category"].strip()) for row in rows})
        except (KeyError, AttributeError):
            raise ConfigurationError("A taxonomy map needs code and category columns.") from None

    def extended(self, prefixes: Mapping[str, ProviderCategory]) -> TaxonomyMap:
        """This map with ``prefixes`` added (a plan's own codes win over the shipped ones)."""
        return TaxonomyMap({**self.prefixes, **prefixes})

    def category_of(self, code: str) -> ProviderCategory:
        """The category of one taxonomy code."""
        key = code.strip().upper()
        for length in self._lengths:
            category = self.prefixes.get(key[:length]) if len(key) >= length else None
            if category is not None:
                return category
        return ProviderCategory.OTHER

    def category(self, codes: Sequence[str]) -> ProviderCategory:
        """The category of the first code (primary first) that the map knows; else ``other``."""
        for code in codes:
            category = self.category_of(code)
            if category != ProviderCategory.OTHER:
                return category
        return ProviderCategory.OTHER


@cache
def _shipped_taxonomy() -> TaxonomyMap:
    return TaxonomyMap.from_csv(NUCC_TAXONOMY_FILE.read_text(encoding="utf-8"))


def _categories(values: Iterable[ProviderCategory]) -> frozenset[ProviderCategory]:
    categories = frozenset(values)
    if not all(isinstance(category, ProviderCategory) for category in categories):
        raise ConfigurationError("categories holds ProviderCategory values only.")
    return categories


@attrs.frozen(kw_only=True, cache_hash=True)
class Plan:
    """What the roster and source readers need to know of a plan.

    Attributes:
        lines: The plan's lines of business (a roster cell naming another is refused).
        default_line: The line of a record whose roster gives none (the first line).
        categories: Categories a roster may name; the seed's, by default.
        group_categories: Those that may register as a Group (pass the same
            set to :class:`~provider_identity.IdentityService`).
        taxonomy: NUCC taxonomy code -> category, for NPPES and Plan-Net.
    """

    lines: PlanLines = SEED_LINES_OF_BUSINESS
    default_line: LineOfBusiness = attrs.field()
    categories: frozenset[ProviderCategory] = attrs.field(
        default=frozenset(ProviderCategory), converter=_categories
    )
    group_categories: frozenset[ProviderCategory] = attrs.field(
        default=GROUP_ELIGIBLE_CATEGORIES, converter=_categories
    )
    taxonomy: TaxonomyMap = attrs.field(factory=TaxonomyMap.shipped, eq=False)
    _by_folded: Mapping[str, ProviderCategory] = attrs.field(init=False, repr=False, eq=False)

    @default_line.default
    def _first_line(self) -> LineOfBusiness:
        return self.lines.lines[0].code

    @_by_folded.default
    def _folded(self) -> Mapping[str, ProviderCategory]:
        return {category.value: category for category in self.categories | self.group_categories}

    def category(self, text: str, *, field: str = "category") -> ProviderCategory:
        """The plan's category named ``text`` (ignoring case and surrounding space).

        Raises:
            InvalidInput: ``text`` names no category of this plan (``invalid_choice``).
        """
        category = self._by_folded.get(text.strip().casefold())
        if category is None:
            choices = ", ".join(sorted(self._by_folded))
            raise InvalidInput.single(field, "invalid_choice", f"{field} must be one of {choices}.")
        return category

    def group_eligible(self, categories: Set[ProviderCategory]) -> bool:
        """True if any of ``categories`` may register as a Group."""
        return not self.group_categories.isdisjoint(categories)


#: The seed's plan: Medicaid and Marketplace, the seed's categories, the shipped taxonomy map.
SEED_PLAN = Plan()
