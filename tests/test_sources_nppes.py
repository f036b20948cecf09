"""The NPPES dissemination file: its published layout, read row by row, enriching a roster."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from provider_identity import (
    IdentityService,
    InvalidInput,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
)
from provider_identity.adapters.memory import MemoryProviderDirectory
from provider_identity.roster import RejectedRow, SkippedRow, import_records
from provider_identity.sources import NPPES_COLUMNS, enrich_by_npi, iter_nppes
from provider_identity.testing import RecordingMailer
from tests.helpers import practitioner


def npi(first_nine: str) -> str:
    """``first_nine`` and the Luhn check digit over the 80840 prefix."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit  # the check digit will be rightmost
        total += doubled - 9 if doubled > 9 else doubled
    return first_nine + str((10 - total % 10) % 10)


def line(cells: dict[str, str]) -> bytes:
    """One row of the file: every one of the 330 columns, quoted as NPPES quotes them."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(
        [cells.get(column, "") for column in NPPES_COLUMNS]
    )
    return out.getvalue().encode()


def nppes_file(*rows: dict[str, str]) -> list[bytes]:
    """The header line and ``rows``."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(NPPES_COLUMNS)
    return [out.getvalue().encode(), *(line(row) for row in rows)]


JANE_NPI = "1234567893"  # sample record P1000001's NPI
CLINIC_NPI = npi("155555555")

JANE = {
    "NPI": JANE_NPI,
    "Entity Type Code": "1",
    "Provider Last Name (Legal Name)": "DOE",
    "Provider First Name": "JANE",
    "Provider Middle Name": "Q.",
    "Provider Business Mailing Address Postal Code": "454021234",
    "Provider Business Practice Location Address Postal Code": "432150001",
    "Healthcare Provider Taxonomy Code_1": "207Q00000X",
    "Healthcare Provider Primary Taxonomy Switch_1": "Y",
}
CLINIC = {
    "NPI": CLINIC_NPI,
    "Entity Type Code": "2",
    "Employer Identification Number (EIN)": "317000001",
    "Provider Organization Name (Legal Business Name)": "LAKESHORE IMAGING LLC",
    "Provider Business Mailing Address Postal Code": "02101",
    "Provider Business Practice Location Address Postal Code": "021101234",
    "Healthcare Provider Taxonomy Code_1": "207Q00000X",
    "Healthcare Provider Primary Taxonomy Switch_1": "N",
    "Healthcare Provider Taxonomy Code_2": "2085R0202X",
    "Healthcare Provider Primary Taxonomy Switch_2": "Y",
}


def test_the_layout_has_the_330_published_columns() -> None:
    """NPPES_COLUMNS is the file's header: 330 names, each once, NPI first."""
    assert len(NPPES_COLUMNS) == 330
    assert len(set(NPPES_COLUMNS)) == 330
    assert NPPES_COLUMNS[:4] == (
        "NPI",
        "Entity Type Code",
        "Replacement NPI",
        "Employer Identification Number (EIN)",
    )
    assert NPPES_COLUMNS[-1] == "Certification Date"
    assert "Healthcare Provider Primary Taxonomy Switch_15" in NPPES_COLUMNS


def test_an_organization_with_an_ein_becomes_a_group_record() -> None:
    """Entity type 2: legal name, EIN, both ZIPs, the primary taxonomy, the NPI as Provider ID."""
    [record] = iter_nppes(nppes_file(CLINIC))
    assert record == ProviderRecord(
        provider_id=CLINIC_NPI,
        tax_id="317000001",
        name="LAKESHORE IMAGING LLC",
        zip_codes=["02110", "02101"],
        npi=CLINIC_NPI,
        category=ProviderCategory.RADIOLOGY,
        payee=Payee.GROUP,
        lines_of_business={LineOfBusiness.MEDICAID},
    )


def test_a_practitioner_without_a_tax_id_is_skipped_when_alone() -> None:
    """NPPES publishes no Tax ID for individuals: without the plan's roster the row is skipped."""
    [item] = iter_nppes(nppes_file(JANE | {"Employer Identification Number (EIN)": "<UNAVAIL>"}))
    assert item == SkippedRow(line=2, reason="no_tax_id")


def test_deactivated_npis_are_skipped_and_reactivated_ones_kept() -> None:
    """A deactivation date without a later reactivation skips the row."""
    gone = CLINIC | {"NPI Deactivation Date": "05/01/2023"}
    back = gone | {"NPI Reactivation Date": "06/01/2024"}
    assert list(iter_nppes(nppes_file(gone))) == [SkippedRow(line=2, reason="deactivated")]
    [record] = iter_nppes(nppes_file(back))
    assert isinstance(record, ProviderRecord)


def test_a_wrong_check_digit_is_rejected_under_the_npi_column() -> None:
    """The NPI's Luhn digit is checked; the error names the NPPES column."""
    bad = CLINIC | {"NPI": CLINIC_NPI[:9] + str((int(CLINIC_NPI[9]) + 1) % 10)}
    [item] = iter_nppes(nppes_file(bad))
    assert isinstance(item, RejectedRow)
    assert [(e.field, e.code) for e in item.errors] == [("NPI", "invalid_check_digit")]


def test_an_unknown_entity_type_is_rejected() -> None:
    """Only 1 and 2 are entity types."""
    [item] = iter_nppes(nppes_file(CLINIC | {"Entity Type Code": "3"}))
    assert isinstance(item, RejectedRow)
    assert item.errors[0].field == "Entity Type Code"


def test_foreign_addresses_are_left_out() -> None:
    """A practice location outside the U.S. adds no ZIP code."""
    abroad = CLINIC | {
        "Provider Business Practice Location Address Postal Code": "M5V2T6",
        "Provider Business Practice Location Address Country Code (If outside U.S.)": "CA",
    }
    [record] = iter_nppes(nppes_file(abroad))
    assert isinstance(record, ProviderRecord)
    assert record.zip_codes == ("02101",)


def test_enrichment_adds_nppes_zips_to_the_plans_record_and_skips_strangers() -> None:
    """With the plan's roster, its record keeps its IDs and lines and gains NPPES's ZIPs."""
    plan_record = ProviderRecord(
        provider_id="P1000001",
        tax_id="311234567",
        name="Jane Q. Doe",
        zip_codes=["45402"],
        npi=JANE_NPI,
        lines_of_business={LineOfBusiness.MARKETPLACE},
    )
    items = list(iter_nppes(nppes_file(JANE, CLINIC), roster=enrich_by_npi([plan_record])))
    assert items[1] == SkippedRow(line=3, reason="not_in_plan")
    enriched = items[0]
    assert isinstance(enriched, ProviderRecord)
    assert (enriched.provider_id, enriched.tax_id, enriched.name) == (
        "P1000001",
        "311234567",
        "Jane Q. Doe",
    )
    assert enriched.zip_codes == ("45402", "43215")
    assert enriched.category == ProviderCategory.PRIMARY_CARE  # the plan's was "other"
    assert enriched.lines_of_business == {LineOfBusiness.MARKETPLACE}


def test_a_practitioner_found_in_nppes_registers_through_the_seed_flow(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Enriched by NPPES, Jane registers by NPI with her NPPES practice ZIP and gets the mail."""
    plan_roster = [
        ProviderRecord(
            provider_id="P1000001", tax_id="311234567", name="Jane Q. Doe",
            zip_codes=["45402"], npi=JANE_NPI,
        )
    ]  # fmt: skip
    directory = MemoryProviderDirectory()
    report = import_records(
        iter_nppes(nppes_file(JANE, CLINIC), roster=enrich_by_npi(plan_roster)), directory
    )
    assert (report.loaded, report.skipped) == (1, 1)
    service = make_service(directory=directory)
    result = service.register(practitioner(provider_id="", npi=JANE_NPI, zip_code="43215-0001"))
    assert result.account.provider_id == "P1000001"
    assert mailer.messages[-1]["Subject"] == "Activate Your Provider Portal Account"


def test_a_file_without_the_nppes_header_is_refused() -> None:
    """A roster in another layout is refused before any row, naming the missing columns."""
    with pytest.raises(InvalidInput) as err:
        list(iter_nppes([b"provider_id,tax_id\n", b"P1,311234567\n"]))
    assert "Entity Type Code" in err.value.errors[0].message


def test_the_file_is_read_row_by_row() -> None:
    """The first record comes out before the rest of the file is read (streaming)."""
    consumed = 0

    def lines() -> Iterator[bytes]:
        nonlocal consumed
        for item in nppes_file(CLINIC, CLINIC, CLINIC):
            consumed += 1
            yield item
        raise AssertionError("read past the rows asked for")

    items = iter_nppes(lines())
    next(items)
    assert consumed == 2


@given(st.permutations(range(1, 5)), st.integers(0, 3))
def test_the_primary_taxonomy_decides_wherever_its_slot(order: list[int], primary: int) -> None:
    """Whatever slot holds the primary (switch Y) code, its category is the record's."""
    codes = ["207Q00000X", "2085R0202X", "208M00000X", "282N00000X"]
    categories = ["primary_care", "radiology", "hospitalist", "hospital"]
    row = dict(CLINIC)
    for slot, index in zip(order, range(4), strict=True):
        row[f"Healthcare Provider Taxonomy Code_{slot}"] = codes[index]
        row[f"Healthcare Provider Primary Taxonomy Switch_{slot}"] = (
            "Y" if index == primary else "N"
        )
    [record] = iter_nppes(nppes_file(row))
    assert isinstance(record, ProviderRecord)
    assert record.category == ProviderCategory(categories[primary])


def quoted(cells: list[str]) -> str:
    """``cells`` as csv.writer quotes every one of them (as NPPES does), without a line end."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
    return out.getvalue()


CELL_TEXT = st.text(alphabet='ab ,"\u00e9\r', max_size=6)


@st.composite
def dirty_lines(draw: st.DrawFn) -> str:
    """A line as NPPES writes it, one with a character put in or taken out, or any text at all."""
    line = quoted(draw(st.lists(CELL_TEXT, min_size=1, max_size=8)))
    edit = draw(st.sampled_from(["none", "insert", "delete", "any"]))
    at = draw(st.integers(0, len(line)))
    if edit == "insert":
        return line[:at] + draw(st.sampled_from('",a')) + line[at:]
    if edit == "delete":
        return line[:at] + line[at + 1 :]
    if edit == "any":
        return draw(st.text(alphabet='ab,"', max_size=30))
    return line


@example('","",""', (3, 3))  # quotes of empty cells next to separators
@example('",""', (2, 1))  # a cell ',"': a quote right after a comma
@example('a","b","c"', (3, 3))  # quoted at the end only: the first cell is 'a"'
@example('"a","b","cX', (3, 3))  # quoted at the start only: the last cell is 'cX'
@given(dirty_lines(), st.tuples(st.integers(1, 9), st.integers(1, 9)))
def test_the_fast_split_reads_a_line_as_the_csv_module_does(
    text: str, sizes: tuple[int, int]
) -> None:
    """Whenever the fast split answers, csv reads ``width`` cells and the first ``end`` agree."""
    from provider_identity.sources.nppes import _quoted_cells

    end, width = sorted(sizes)
    cells = _quoted_cells(text, width, end)
    if cells is not None:
        row = next(csv.reader([text]))
        assert len(row) == width
        assert cells == row[:end]


@given(st.lists(st.text(alphabet="ab ,\u00e9\r", max_size=6), min_size=1, max_size=8), st.data())
def test_the_fast_split_reads_every_line_without_a_quote_in_a_cell(
    cells: list[str], data: st.DataObject
) -> None:
    """The common case, every cell quoted and none holding a quote, never goes through csv."""
    from provider_identity.sources.nppes import _quoted_cells

    end = data.draw(st.integers(1, len(cells)))
    assert _quoted_cells(quoted(cells), len(cells), end) == cells[:end]


@given(st.lists(CELL_TEXT, min_size=1, max_size=8))
def test_a_quoted_line_reads_as_csv_wrote_it_quotes_and_all(cells: list[str]) -> None:
    """Through the fast split or the csv module, a line's cells are those csv.writer wrote."""
    from provider_identity.sources.nppes import _Layout, _line_cells

    layout = _Layout.of([*(f"Extra {n}" for n in range(len(cells))), *NPPES_COLUMNS])
    raw = (quoted(cells + ["x"] * len(NPPES_COLUMNS)) + "\r\n").encode()
    read = _line_cells(raw, layout)
    assert isinstance(read, list)
    assert read[: len(cells)] == cells
    assert len(read) == layout.end + 1


def test_a_line_with_the_wrong_number_of_columns_is_rejected_and_blank_ones_skipped() -> None:
    """A line one cell short is rejected by line number; an empty line is no row."""
    header, good = nppes_file(CLINIC)
    short = good.replace(b',""\n', b"\n", 1)
    items = list(iter_nppes([header, short, b"\n", b'"",""\n', good]))
    assert isinstance(items[0], RejectedRow)
    assert (items[0].line, items[0].errors[0].code) == (2, "wrong_column_count")
    assert [type(item) for item in items] == [RejectedRow, ProviderRecord]
    assert items[1] == next(iter_nppes([header, good]))


def test_a_name_with_a_control_character_is_rejected_not_raised() -> None:
    """A name that does not normalise rejects its row under its column; the next row is read."""
    header, good = nppes_file(CLINIC)
    [bad] = nppes_file(
        CLINIC | {"Provider Organization Name (Legal Business Name)": "LAKESHORE\x07IMAGING"}
    )[1:]
    items = list(iter_nppes([header, bad, good]))
    assert isinstance(items[0], RejectedRow)
    assert [(e.field, e.code) for e in items[0].errors] == [
        ("Provider Organization Name (Legal Business Name)", "invalid_characters")
    ]
    assert isinstance(items[1], ProviderRecord)


def test_a_file_with_only_the_needed_columns_in_another_order_is_read() -> None:
    """Optional columns may be missing and the order may differ: columns are found by name."""
    from provider_identity.sources.nppes import _REQUIRED

    columns = sorted(_REQUIRED, reverse=True)
    rows = [columns, [CLINIC.get(column, "") for column in columns]]
    [record] = iter_nppes([(quoted(row) + "\n").encode() for row in rows])
    # Without slot 2 (the primary, radiology) the category is slot 1's, primary care.
    everything = next(iter_nppes(nppes_file(CLINIC)))
    assert record == attrs.evolve(everything, category=ProviderCategory.PRIMARY_CARE)


def test_records_equal_those_built_the_checked_way() -> None:
    """The reader's records compare, hash and repr as ProviderRecord(...) of the same values."""
    for row in (CLINIC, JANE | {"Employer Identification Number (EIN)": "311234567"}):
        [record] = iter_nppes(nppes_file(row))
        assert isinstance(record, ProviderRecord)
        checked = attrs.evolve(record)  # every converter run again
        assert record == checked
        assert hash(record) == hash(checked)
        assert repr(record) == repr(checked)
        assert record.name_key == checked.name_key


def test_a_line_that_is_not_utf8_is_rejected_and_the_next_one_read() -> None:
    """Latin-1 bytes reject their row only."""
    header, good = nppes_file(CLINIC)
    items = list(iter_nppes([header, good.replace(b"LAKESHORE", b"LAK\xc9SHORE"), good]))
    assert isinstance(items[0], RejectedRow)
    assert items[0].errors[0].code == "invalid_encoding"
    assert isinstance(items[1], ProviderRecord)


def test_each_skip_says_why_with_or_without_the_plans_roster() -> None:
    """Deactivated wins over not-in-plan; no Tax ID only matters without a roster."""
    gone = CLINIC | {"NPI Deactivation Date": "05/01/2023"}
    alone = JANE | {"NPI": npi("177777777")}
    data = nppes_file(gone, alone)
    assert [getattr(item, "reason", None) for item in iter_nppes(data, roster={})] == [
        "deactivated",
        "not_in_plan",
    ]
    assert [getattr(item, "reason", None) for item in iter_nppes(data)] == [
        "deactivated",
        "no_tax_id",
    ]
