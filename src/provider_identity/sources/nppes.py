"""The NPPES NPI dissemination file (``npidata_pfile_*.csv``), read as it is published.

The monthly file has one row per NPI and 330 columns, every cell quoted,
with the header names that NPPES prints (:data:`NPPES_COLUMNS`). A row becomes
a record as follows:

- ``Entity Type Code`` 1 is a practitioner (paid as an individual), 2 an
  organization (a Group Payee); the NPI, its check digit verified, is also the
  Provider ID, since NPPES knows no plan's IDs;
- the name is the organization's legal business name, or the practitioner's
  first, middle and last name and suffix;
- the practice-location and mailing ZIP codes are the record's ZIP codes
  (addresses outside the U.S. are left out);
- the taxonomy codes, the primary one first, give the category through the
  plan's :class:`~provider_identity.plan.TaxonomyMap`;
- ``Employer Identification Number (EIN)`` is the Tax ID where present
  (``<UNAVAIL>`` is absent); NPPES publishes none for individuals, so such a
  row is skipped unless it enriches a plan's record (below);
- a deactivated NPI (a deactivation date and no later reactivation) is skipped.

**Enrich, do not replace.** A plan's own Provider IDs, Tax IDs and lines of
business are not in NPPES. Given ``roster`` (the plan's records by NPI, see
:func:`enrich_by_npi`), a row whose NPI the plan knows adds its ZIP codes to
the plan's record (and its category, where the plan's is ``other``), and every
other row is skipped: NPPES completes the plan's directory without adding
strangers to it.

The file is read row by row: memory holds one row and, with ``roster``, the
plan's own records, whatever the size of the file.
"""

from __future__ import annotations

import csv
import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date

import attrs

from provider_identity.errors import FieldError, InvalidInput
from provider_identity.plan import SEED_PLAN, Plan
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    _normalised_record,
    normalize_name,
    normalize_npi,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.roster import RejectedRow, SkippedRow

__all__ = ["NPPES_COLUMNS", "enrich_by_npi", "iter_nppes"]

NPI = "NPI"
ENTITY_TYPE = "Entity Type Code"
EIN = "Employer Identification Number (EIN)"
ORGANIZATION_NAME = "Provider Organization Name (Legal Business Name)"
LAST_NAME = "Provider Last Name (Legal Name)"
FIRST_NAME = "Provider First Name"
MIDDLE_NAME = "Provider Middle Name"
NAME_SUFFIX = "Provider Name Suffix Text"
MAILING_ZIP = "Provider Business Mailing Address Postal Code"
MAILING_COUNTRY = "Provider Business Mailing Address Country Code (If outside U.S.)"
PRACTICE_ZIP = "Provider Business Practice Location Address Postal Code"
PRACTICE_COUNTRY = "Provider Business Practice Location Address Country Code (If outside U.S.)"
DEACTIVATION_DATE = "NPI Deactivation Date"
REACTIVATION_DATE = "NPI Reactivation Date"
TAXONOMY = "Healthcare Provider Taxonomy Code_{}"
PRIMARY_SWITCH = "Healthcare Provider Primary Taxonomy Switch_{}"
TAXONOMY_SLOTS = 15

_ADDRESS = (
    "First Line {} Address", "Second Line {} Address", "{} Address City Name",
    "{} Address State Name", "{} Address Postal Code",
    "{} Address Country Code (If outside U.S.)", "{} Address Telephone Number",
    "{} Address Fax Number",
)  # fmt: skip


def _address(kind: str) -> list[str]:
    return [f"Provider {part.format(kind)}" for part in _ADDRESS]


#: The 330 column names of the dissemination file, in order, as NPPES prints them.
NPPES_COLUMNS: tuple[str, ...] = (
    NPI, ENTITY_TYPE, "Replacement NPI", EIN, ORGANIZATION_NAME, LAST_NAME, FIRST_NAME,
    MIDDLE_NAME, "Provider Name Prefix Text", NAME_SUFFIX, "Provider Credential Text",
    "Provider Other Organization Name", "Provider Other Organization Name Type Code",
    "Provider Other Last Name", "Provider Other First Name", "Provider Other Middle Name",
    "Provider Other Name Prefix Text", "Provider Other Name Suffix Text",
    "Provider Other Credential Text", "Provider Other Last Name Type Code",
    *_address("Business Mailing"), *_address("Business Practice Location"),
    "Provider Enumeration Date", "Last Update Date", "NPI Deactivation Reason Code",
    DEACTIVATION_DATE, REACTIVATION_DATE, "Provider Gender Code",
    "Authorized Official Last Name", "Authorized Official First Name",
    "Authorized Official Middle Name", "Authorized Official Title or Position",
    "Authorized Official Telephone Number",
    *(
        column.format(slot)
        for slot in range(1, TAXONOMY_SLOTS + 1)
        for column in (TAXONOMY, "Provider License Number_{}",
                       "Provider License Number State Code_{}", PRIMARY_SWITCH)
    ),
    *(
        column.format(slot)
        for slot in range(1, 51)
        for column in ("Other Provider Identifier_{}", "Other Provider Identifier Type Code_{}",
                       "Other Provider Identifier State_{}", "Other Provider Identifier Issuer_{}")
    ),
    "Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN",
    "Parent Organization TIN", "Authorized Official Name Prefix Text",
    "Authorized Official Name Suffix Text", "Authorized Official Credential Text",
    *(f"Healthcare Provider Taxonomy Group_{slot}" for slot in range(1, TAXONOMY_SLOTS + 1)),
    "Certification Date",
)  # fmt: skip

_REQUIRED = (
    NPI, ENTITY_TYPE, EIN, ORGANIZATION_NAME, LAST_NAME, FIRST_NAME, MAILING_ZIP, PRACTICE_ZIP,
    DEACTIVATION_DATE, TAXONOMY.format(1), PRIMARY_SWITCH.format(1),
)  # fmt: skip
_UNAVAILABLE = "<UNAVAIL>"
_OPTIONAL = (
    MIDDLE_NAME, NAME_SUFFIX, MAILING_COUNTRY, PRACTICE_COUNTRY, REACTIVATION_DATE,
    *(column.format(slot) for slot in range(2, TAXONOMY_SLOTS + 1)
      for column in (TAXONOMY, PRIMARY_SWITCH)),
)  # fmt: skip
_SEPARATOR = '","'
_QUOTE = '"'


def enrich_by_npi(records: Iterable[ProviderRecord]) -> dict[str, ProviderRecord]:
    """The plan's records that have an NPI, by NPI: the ``roster`` of :func:`iter_nppes`."""
    return {record.npi: record for record in records if record.npi is not None}


def _date(text: str) -> date | None:
    """An NPPES date (``MM/DD/YYYY``), or None if empty or unreadable."""
    month, _, rest = text.partition("/")
    day, _, year = rest.partition("/")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _deactivated(deactivated: str, reactivated: str) -> bool:
    """A deactivation date and no later reactivation (an unreadable date counts as none)."""
    when, back = _date(deactivated), _date(reactivated.strip())
    return back is None or when is None or back < when


def _picker(positions: Sequence[int]) -> Callable[[list[str]], Sequence[str]]:
    """The cells at ``positions``: one C-level slice when they are evenly spaced (as published)."""
    step = positions[1] - positions[0] if len(positions) > 1 else 1
    if step > 0 and list(positions) == list(range(positions[0], positions[-1] + 1, step)):
        return operator.itemgetter(slice(positions[0], positions[-1] + 1, step))
    return lambda cells: [cells[position] for position in positions]


@attrs.frozen
class _Layout:
    """Where the columns a record reads sit in this file's header.

    A line is cut into its first ``end`` cells only (the last column a record
    reads is the 107th of 330); ``end`` itself holds an empty cell, which an
    optional column the header lacks reads.
    """

    width: int
    end: int
    npi: int
    entity: int
    ein: int
    organization: int
    person: tuple[int, ...]  # first, middle, last name, suffix
    zips: tuple[tuple[str, int, int], ...]  # (column, ZIP, country): practice, then mailing
    deactivated: int
    reactivated: int
    codes: Callable[[list[str]], Sequence[str]]
    switches: Callable[[list[str]], Sequence[str]]

    @classmethod
    def of(cls, header: Sequence[str]) -> _Layout:
        """The layout of ``header``, which has every column of ``_REQUIRED``."""
        wanted = {*_REQUIRED, *_OPTIONAL}
        present: dict[str, int] = {}
        for position, name in enumerate(header):
            if name in wanted:
                present.setdefault(name, position)
        end = max(present.values()) + 1

        def at(column: str) -> int:
            return present.get(column, end)

        slots = range(1, TAXONOMY_SLOTS + 1)
        return cls(
            width=len(header),
            end=end,
            npi=at(NPI),
            entity=at(ENTITY_TYPE),
            ein=at(EIN),
            organization=at(ORGANIZATION_NAME),
            person=tuple(
                at(column) for column in (FIRST_NAME, MIDDLE_NAME, LAST_NAME, NAME_SUFFIX)
            ),
            zips=(
                (PRACTICE_ZIP, at(PRACTICE_ZIP), at(PRACTICE_COUNTRY)),
                (MAILING_ZIP, at(MAILING_ZIP), at(MAILING_COUNTRY)),
            ),
            deactivated=at(DEACTIVATION_DATE),
            reactivated=at(REACTIVATION_DATE),
            codes=_picker([at(TAXONOMY.format(slot)) for slot in slots]),
            switches=_picker([at(PRIMARY_SWITCH.format(slot)) for slot in slots]),
        )


def _quoted_cells(text: str, width: int, end: int) -> list[str] | None:
    """The first ``end`` of ``width`` cells of a line quoted as NPPES quotes it, or None.

    Every cell quoted and none holding a quote (the common case): the cells
    are what lies between the ``","`` separators, and only the first ``end``
    are cut out. That holds exactly when the line has ``width - 1``
    separators and no quote besides theirs (a cell with a quote has it
    doubled, which the count of quotes tells); any other line (None) goes
    through the csv module, so a line reads as csv reads it either way.
    """
    if len(text) < 2 or text[0] != _QUOTE or text[-1] != _QUOTE:
        return None
    inner = text[1:-1]
    cells = inner.split(_SEPARATOR, end)
    # The split found the first separators; only the rest of the line is counted.
    separators = end + cells.pop().count(_SEPARATOR) if len(cells) > end else len(cells) - 1
    if separators != width - 1 or inner.count(_QUOTE) != 2 * separators:
        return None
    return cells


def _text(raw: bytes) -> str | FieldError:
    if not isinstance(raw, bytes):
        raise InvalidInput.single(
            "roster", "wrong_type", 'The NPPES file is read as bytes: open it "rb".'
        )
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return FieldError(field="row", code="invalid_encoding", message="The line is not UTF-8.")


def _csv_cells(text: str) -> list[str] | FieldError:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return FieldError(field="row", code="malformed", message="The line is not valid CSV.")


def _line_cells(raw: bytes, layout: _Layout) -> list[str] | FieldError | None:
    """A line's first ``layout.end`` cells and an empty one; why not; None for a blank line."""
    text = _text(raw)
    if isinstance(text, FieldError):
        return text
    cells = _quoted_cells(text, layout.width, layout.end)
    if cells is None:
        row = _csv_cells(text)
        if isinstance(row, FieldError):
            return row
        if len(row) != layout.width:
            if not any(cell.strip() for cell in row):
                return None
            message = f"The line has {len(row)} columns; the header has {layout.width}."
            return FieldError(field="row", code="wrong_column_count", message=message)
        cells = row[: layout.end]
    cells.append("")
    return cells


def _required(column: str, message: str) -> FieldError:
    return FieldError(field=column, code="required", message=message)


def _checked(
    normalize: Callable[..., str], value: str, column: str, errors: list[FieldError]
) -> str | None:
    """``normalize(value)`` for ``column``, or None after adding its errors to ``errors``."""
    try:
        return normalize(value, field=column)
    except InvalidInput as err:
        errors.extend(err.errors)
        return None


@attrs.frozen
class _Rows:
    """What a row becomes, for one file: its layout, the plan and, to enrich, the plan's roster."""

    layout: _Layout
    plan: Plan
    roster: Mapping[str, ProviderRecord] | None
    lines: frozenset[LineOfBusiness]
    category: Callable[[tuple[str, ...]], ProviderCategory]

    @classmethod
    def of(cls, layout: _Layout, plan: Plan, roster: Mapping[str, ProviderRecord] | None) -> _Rows:
        # A file repeats a few hundred taxonomy codes: each one's category is looked up once.
        category = functools.lru_cache(maxsize=4096)(plan.taxonomy.category)
        lines = frozenset({plan.default_line})
        return cls(layout=layout, plan=plan, roster=roster, lines=lines, category=category)

    def item(self, cells: list[str], number: int) -> ProviderRecord | RejectedRow | SkippedRow:
        """The row's record, or why it is rejected or skipped.

        Skips are decided first, by the cells alone (most rows of a plan's
        enrichment are not the plan's), then the NPI's check digit and the
        rest; the record is built once, from the values checked here.
        """
        at = self.layout
        deactivated = cells[at.deactivated]
        if deactivated and _deactivated(deactivated.strip(), cells[at.reactivated]):
            return SkippedRow(line=number, reason="deactivated")
        npi_text = cells[at.npi].strip()
        ein = cells[at.ein].strip()
        if self.roster is not None:
            if npi_text not in self.roster:
                return SkippedRow(line=number, reason="not_in_plan")
        elif not ein or ein.upper() == _UNAVAILABLE:
            return SkippedRow(line=number, reason="no_tax_id")
        errors: list[FieldError] = []
        npi = _checked(normalize_npi, npi_text, NPI, errors)
        if npi is None:
            return RejectedRow(line=number, errors=tuple(errors))
        entity = cells[at.entity].strip()
        if entity not in ("1", "2"):
            message = "Entity Type Code must be 1 (individual) or 2 (organization)."
            error = FieldError(field=ENTITY_TYPE, code="invalid_choice", message=message)
            return RejectedRow(line=number, errors=(error,))
        zips = self._zips(cells, errors)
        category = self.category(self._taxonomy_codes(cells))
        if self.roster is not None:
            if errors:
                return RejectedRow(line=number, errors=tuple(errors))
            return self._enriched(self.roster[npi], zips, category)
        tax_id = _checked(normalize_tax_id, ein, EIN, errors)
        organization = entity == "2"
        if organization:
            name, column = cells[at.organization].strip(), ORGANIZATION_NAME
        else:
            name, column = " ".join(filter(None, [cells[i].strip() for i in at.person])), LAST_NAME
        if not name:
            errors.append(_required(column, "The name is empty."))
        name_key = _checked(normalize_name, name, column, errors) if name else None
        if errors or tax_id is None or name_key is None:
            return RejectedRow(line=number, errors=tuple(errors))
        return _normalised_record(
            provider_id=npi,
            tax_id=tax_id,
            name=name,
            zip_codes=zips,
            npi=npi,
            category=category,
            payee=Payee.GROUP if organization else Payee.INDIVIDUAL,
            lines_of_business=self.lines,
            name_key=name_key,
        )

    def _zips(self, cells: list[str], errors: list[FieldError]) -> tuple[str, ...]:
        """The U.S. ZIP codes, practice location first, each once; their errors to ``errors``."""
        zips: dict[str, None] = {}
        for column, at, country_at in self.layout.zips:
            value = cells[at].strip()
            country = cells[country_at]
            if value and (not country or country.strip().upper() in ("", "US")):
                zip_code = _checked(normalize_zip, value, column, errors)
                if zip_code is not None:
                    zips[zip_code] = None
        if not zips and not errors:
            errors.append(_required(PRACTICE_ZIP, "A U.S. ZIP code is required."))
        return tuple(zips)

    def _taxonomy_codes(self, cells: list[str]) -> tuple[str, ...]:
        """The row's taxonomy codes, the primary (switch ``Y``) first."""
        codes = self.layout.codes(cells)
        filled = list(filter(None, codes))
        if len(filled) < 2:  # most rows: no order to decide
            return (filled[0].strip(),) if filled else ()
        primary: list[str] = []
        others: list[str] = []
        for code, switch in zip(codes, self.layout.switches(cells), strict=True):
            if code:
                (primary if switch in ("Y", "y") else others).append(code.strip())
        return (*primary, *others)

    @staticmethod
    def _enriched(
        mine: ProviderRecord, zips: Sequence[str], category: ProviderCategory
    ) -> ProviderRecord:
        """The plan's record with NPPES's ZIP codes added, and its category where it has none."""
        return attrs.evolve(
            mine,
            zip_codes=[*mine.zip_codes, *zips],
            category=category if mine.category == ProviderCategory.OTHER else mine.category,
        )


def _header(first: bytes | None) -> list[str]:
    text = None if first is None else _text(first)
    cells = None if text is None or isinstance(text, FieldError) else _csv_cells(text)
    if not isinstance(cells, list) or not cells:
        raise InvalidInput.single(
            "header", "required", "The NPPES file has no readable header line."
        )
    header = [cell.strip().lstrip("\ufeff") for cell in cells]
    absent = [column for column in _REQUIRED if column not in header]
    if absent:
        raise InvalidInput.single(
            "header",
            "invalid_columns",
            f"This is not the NPPES layout: no column {', '.join(absent)}.",
        )
    return header


def iter_nppes(
    lines: Iterable[bytes],
    *,
    plan: Plan = SEED_PLAN,
    roster: Mapping[str, ProviderRecord] | None = None,
) -> Iterator[ProviderRecord | RejectedRow | SkippedRow]:
    """Read an NPPES dissemination file row by row.

    Each physical line is one row (NPPES puts no line break inside a cell).

    Args:
        lines: The file's lines as bytes (a file opened ``"rb"``).
        plan: Its taxonomy map gives categories; its default line is the
            line of business of a record NPPES alone supplies.
        roster: The plan's records by NPI (:func:`enrich_by_npi`): enrich
            those, skip every other NPI.

    Raises:
        InvalidInput: the header lacks a column this reader needs (before any row).
    """
    rows = iter(lines)
    layout = _Layout.of(_header(next(rows, None)))
    reader = _Rows.of(layout, plan, roster)
    for number, raw in enumerate(rows, start=2):
        cells = _line_cells(raw, layout)
        if cells is None:
            continue
        if isinstance(cells, FieldError):
            yield RejectedRow(line=number, errors=(cells,))
            continue
        yield reader.item(cells, number)
