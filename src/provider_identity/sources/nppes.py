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
import operator
from collections.abc import Iterable, Iterator, Mapping
from datetime import date

import attrs

from provider_identity.errors import FieldError, InvalidInput
from provider_identity.plan import SEED_PLAN, Plan
from provider_identity.providers import (
    Payee,
    ProviderCategory,
    ProviderRecord,
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
_TAXONOMY_COLUMNS = tuple(
    (TAXONOMY.format(slot), PRIMARY_SWITCH.format(slot)) for slot in range(1, TAXONOMY_SLOTS + 1)
)


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


def _deactivated(row: Mapping[str, str]) -> bool:
    deactivated = row[DEACTIVATION_DATE].strip()
    if not deactivated:
        return False
    reactivated = _date(row.get(REACTIVATION_DATE, "").strip())
    when = _date(deactivated)
    return reactivated is None or when is None or reactivated < when


def _taxonomy_codes(row: Mapping[str, str]) -> list[str]:
    """The row's taxonomy codes, the primary (switch ``Y``) first."""
    primary: list[str] = []
    others: list[str] = []
    for code_column, switch_column in _TAXONOMY_COLUMNS:
        code = row.get(code_column, "")
        if code:
            switch = row.get(switch_column, "")
            (primary if switch in ("Y", "y") else others).append(code.strip())
    return primary + others


def _zips(row: Mapping[str, str], errors: list[FieldError]) -> list[str]:
    zips: list[str] = []
    for column, country in ((PRACTICE_ZIP, PRACTICE_COUNTRY), (MAILING_ZIP, MAILING_COUNTRY)):
        value = row[column].strip()
        if not value or row.get(country, "US").strip().upper() not in ("", "US"):
            continue
        try:
            zips.append(normalize_zip(value, field=column))
        except InvalidInput as err:
            errors.extend(err.errors)
    if not zips and not errors:
        errors.append(
            FieldError(field=PRACTICE_ZIP, code="required", message="A U.S. ZIP code is required.")
        )
    return zips


def _name(row: Mapping[str, str], organization: bool) -> str:
    if organization:
        return row[ORGANIZATION_NAME].strip()
    parts = (row.get(FIRST_NAME, ""), row.get(MIDDLE_NAME, ""), row.get(LAST_NAME, ""),
             row.get(NAME_SUFFIX, ""))  # fmt: skip
    return " ".join(part.strip() for part in parts if part.strip())


def _row(
    row: Mapping[str, str],
    number: int,
    plan: Plan,
    roster: Mapping[str, ProviderRecord] | None,
) -> ProviderRecord | RejectedRow | SkippedRow:
    if _deactivated(row):
        return SkippedRow(line=number, reason="deactivated")
    errors: list[FieldError] = []
    try:
        npi = normalize_npi(row[NPI], field=NPI)
    except InvalidInput as err:
        return RejectedRow(line=number, errors=tuple(err.errors))
    if roster is not None and npi not in roster:
        return SkippedRow(line=number, reason="not_in_plan")
    entity = row[ENTITY_TYPE].strip()
    if entity not in ("1", "2"):
        message = "Entity Type Code must be 1 (individual) or 2 (organization)."
        return RejectedRow(
            line=number,
            errors=(FieldError(field=ENTITY_TYPE, code="invalid_choice", message=message),),
        )
    ein = row[EIN].strip()
    if roster is None and (not ein or ein.upper() == _UNAVAILABLE):
        return SkippedRow(line=number, reason="no_tax_id")
    zips = _zips(row, errors)
    category = plan.taxonomy.category(_taxonomy_codes(row))
    if roster is not None:
        mine = roster[npi]
        if errors:
            return RejectedRow(line=number, errors=tuple(errors))
        return attrs.evolve(
            mine,
            zip_codes=[*mine.zip_codes, *zips],
            category=category if mine.category == ProviderCategory.OTHER else mine.category,
        )
    try:
        tax_id = normalize_tax_id(ein, field=EIN)
    except InvalidInput as err:
        errors.extend(err.errors)
    name = _name(row, entity == "2")
    if not name:
        column = ORGANIZATION_NAME if entity == "2" else LAST_NAME
        errors.append(FieldError(field=column, code="required", message="The name is empty."))
    if errors:
        return RejectedRow(line=number, errors=tuple(errors))
    return ProviderRecord(
        provider_id=npi,
        tax_id=tax_id,
        name=name,
        zip_codes=zips,
        npi=npi,
        category=category,
        payee=Payee.GROUP if entity == "2" else Payee.INDIVIDUAL,
        lines_of_business={plan.default_line},
    )


def _split(text: str) -> list[str] | None:
    """The cells of a line quoted as NPPES quotes it, or None if the csv module must read it.

    Every cell quoted and none holding a quote (the common case): the cells
    are what lies between the ``","`` separators, about four times faster
    than the csv module. A cell with a (doubled) quote changes the count of
    quotes, and such a line goes through the csv module.
    """
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return None
    inner = text[1:-1]
    # Every quote inside must belong to a separator (counted as split finds them).
    if inner.count('"') != 2 * inner.count('","'):
        return None
    return inner.split('","')


def _cells(raw: bytes) -> list[str] | FieldError:
    if not isinstance(raw, bytes):
        raise InvalidInput.single(
            "roster", "wrong_type", 'The NPPES file is read as bytes: open it "rb".'
        )
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return FieldError(field="row", code="invalid_encoding", message="The line is not UTF-8.")
    cells = _split(text)
    if cells is not None:
        return cells
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return FieldError(field="row", code="malformed", message="The line is not valid CSV.")


def _needed(header: list[str]) -> list[tuple[str, int]]:
    """``(name, position)`` of the columns a record reads (the rest are never looked at)."""
    wanted = {
        *_REQUIRED, MIDDLE_NAME, NAME_SUFFIX, MAILING_COUNTRY, PRACTICE_COUNTRY,
        REACTIVATION_DATE,
        *(TAXONOMY.format(slot) for slot in range(1, TAXONOMY_SLOTS + 1)),
        *(PRIMARY_SWITCH.format(slot) for slot in range(1, TAXONOMY_SLOTS + 1)),
    }  # fmt: skip
    return [(name, position) for position, name in enumerate(header) if name in wanted]


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
    first = next(rows, None)
    header_cells = None if first is None else _cells(first)
    if not isinstance(header_cells, list):
        raise InvalidInput.single(
            "header", "required", "The NPPES file has no readable header line."
        )
    header = [cell.strip().lstrip("\ufeff") for cell in header_cells]
    absent = [column for column in _REQUIRED if column not in header]
    if absent:
        raise InvalidInput.single(
            "header",
            "invalid_columns",
            f"This is not the NPPES layout: no column {', '.join(absent)}.",
        )
    width = len(header)
    needed = _needed(header)
    names = [name for name, _ in needed]
    pick = operator.itemgetter(*(position for _, position in needed))
    npi_at, ein_at = header.index(NPI), header.index(EIN)
    deactivated_at = header.index(DEACTIVATION_DATE)
    for number, raw in enumerate(rows, start=2):
        cells = _cells(raw)
        if isinstance(cells, FieldError):
            yield RejectedRow(line=number, errors=(cells,))
            continue
        if len(cells) != width:
            if not any(cell.strip() for cell in cells):
                continue
            message = f"The line has {len(cells)} columns; the header has {width}."
            yield RejectedRow(
                line=number,
                errors=(FieldError(field="row", code="wrong_column_count", message=message),),
            )
            continue
        if not cells[deactivated_at].strip():  # most rows: decided by two cells
            if roster is not None and cells[npi_at].strip() not in roster:
                yield SkippedRow(line=number, reason="not_in_plan")
                continue
            ein = cells[ein_at].strip()
            if roster is None and (not ein or ein.upper() == _UNAVAILABLE):
                yield SkippedRow(line=number, reason="no_tax_id")
                continue
        yield _row(dict(zip(names, pick(cells), strict=True)), number, plan, roster)
