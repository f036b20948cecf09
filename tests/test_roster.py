"""Rosters: good rows become records, every bad row is reported by line and skipped."""

from __future__ import annotations

import csv
import gc
import itertools
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from provider_identity import InvalidInput, LineOfBusiness, Payee, ProviderCategory, ProviderRecord
from provider_identity.roster import RejectedRow, import_roster, iter_roster, read_roster
from provider_identity.testing import sample_records

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "roster.csv"
HEADER = b"provider_id,tax_id,name,zip_codes\n"


def codes(rejected: Iterable[RejectedRow]) -> list[tuple[int, str, str]]:
    return [(row.line, error.field, error.code) for row in rejected for error in row.errors]


def test_the_example_roster_holds_the_sample_records_and_five_bad_rows() -> None:
    """examples/roster.csv loads the sample records and reports each kind of bad row."""
    roster = read_roster(EXAMPLE.read_bytes())
    assert roster.records == sample_records()
    assert codes(roster.rejected) == [
        (9, "tax_id", "required"),
        (10, "tax_id", "invalid_format"),
        (11, "zip_codes", "invalid_format"),
        (12, "provider_id", "conflicting_duplicate"),
        (13, "row", "wrong_column_count"),
    ]


def test_a_line_that_is_not_utf8_is_rejected_and_the_rest_load() -> None:
    """Latin-1 bytes in one row reject that row only."""
    data = HEADER + b"P1,311234567,Jos\xe9,45402\nP2,311234567,Ann,45402\n"
    roster = read_roster(data)
    assert [r.provider_id for r in roster.records] == ["P2"]
    assert codes(roster.rejected) == [(2, "row", "invalid_encoding")]


def test_every_problem_of_a_row_is_reported_together() -> None:
    """A row with a bad Provider ID, Tax ID, ZIP, NPI and category lists all five."""
    data = b"provider_id,tax_id,name,zip_codes,npi,category\n#!,12,Ann,999,1234567890,dentist\n"
    [rejected] = read_roster(data).rejected
    assert {(error.field, error.code) for error in rejected.errors} == {
        ("provider_id", "invalid_format"),
        ("tax_id", "invalid_format"),
        ("zip_codes", "invalid_format"),
        ("npi", "invalid_check_digit"),
        ("category", "invalid_choice"),
    }


def test_reasons_never_show_a_tax_id() -> None:
    """An SSN-like Tax ID stays out of every rejection, even for a conflicting duplicate."""
    data = HEADER + b"P1,987-65-4321,Ann,45402\nP1,987-65-4321,Bob,45402\nP2,98765432,Cy,45402\n"
    roster = read_roster(data)
    assert len(roster.rejected) == 2
    for row in roster.rejected:
        assert "4321" not in row.reason
        assert "98765" not in row.reason


def test_an_identical_repeat_is_skipped_silently() -> None:
    """The same row twice is one record and no rejection."""
    roster = read_roster(HEADER + b"P1,311234567,Ann,45402\nP1,31-1234567,Ann,45402\n")
    assert len(roster.records) == 1
    assert roster.rejected == ()


def test_a_conflicting_duplicate_keeps_the_first_row() -> None:
    """The first row of a Provider ID wins; the later, different one is rejected."""
    roster = read_roster(HEADER + b"P1,311234567,Ann,45402\nP1,311234567,Ann,45403\n")
    assert roster.records[0].zip_codes == ("45402",)
    assert codes(roster.rejected) == [(3, "provider_id", "conflicting_duplicate")]


def test_optional_columns_in_any_order_with_bom_crlf_and_blank_lines() -> None:
    """Header order is free; a BOM, CRLF endings and blank lines are fine; lines keep numbers."""
    data = (
        b"\xef\xbb\xbflines_of_business,payee,name,category,zip_codes,tax_id,npi,provider_id\r\n"
        b"\r\n"
        b"marketplace;MEDICAID,Group,Big Lab,laboratory,45402 45409-1234,31-1234567,"
        b"1234567893,g1\r\n"
        b",,Ann,,45402,311234567,,P2\r\n"
        b"Medicare,,Bob,,45402,311234567,,P3\r\n"
    )
    roster = read_roster(data)
    assert roster.records == (
        ProviderRecord(
            provider_id="G1",
            tax_id="311234567",
            name="Big Lab",
            zip_codes=("45402", "45409"),
            npi="1234567893",
            category=ProviderCategory.LABORATORY,
            payee=Payee.GROUP,
            lines_of_business=frozenset(LineOfBusiness),
        ),
        ProviderRecord(provider_id="P2", tax_id="311234567", name="Ann", zip_codes=("45402",)),
    )
    assert codes(roster.rejected) == [(5, "lines_of_business", "invalid_choice")]


@pytest.mark.parametrize(
    "header",
    [b"", b"provider_id,tax_id,name\n", b"provider_id,tax_id,name,zip_codes,fax\n", b"\xff\n"],
)
def test_a_bad_header_refuses_the_whole_file(header: bytes) -> None:
    """No header, a missing or unknown column, or a non-UTF-8 header: nothing is read."""
    with pytest.raises(InvalidInput) as refused:
        read_roster(header + b"P1,311234567,Ann,45402\n")
    assert refused.value.fields == {"header"}


@given(st.lists(st.binary(max_size=80), max_size=20))
def test_any_bytes_after_a_good_header_are_records_or_rejections(lines: list[bytes]) -> None:
    """Whatever the rows hold, reading never raises: each is a record, a rejection or skipped."""
    clean = [line.replace(b"\n", b"").replace(b"\r", b"") for line in lines]
    items = list(iter_roster([HEADER, *clean]))
    assert all(isinstance(item, ProviderRecord | RejectedRow) for item in items)


PLAIN_CELLS = st.lists(
    st.text(st.characters(exclude_characters='",\r\n\x00', codec="utf-8"), max_size=12),
    min_size=1,
    max_size=10,
)


@given(PLAIN_CELLS)
def test_a_line_reads_the_same_quoted_or_not(cells: list[str]) -> None:
    """Unquoted lines take a fast path; quoting every cell must not change the outcome."""
    line = ",".join(cells)
    assume(line.strip())  # a blank line is skipped, a quoted empty cell is not blank
    quoted = ",".join('"' + cell + '"' for cell in cells)
    plain = list(iter_roster([HEADER, line.encode()]))
    assert plain == list(iter_roster([HEADER, quoted.encode()]))


def test_a_line_break_inside_a_line_is_malformed_as_the_csv_module_says() -> None:
    """An iterable may hand over a line with a line break in it; it is not split silently."""
    (item,) = iter_roster([HEADER, b"P1,311234567,Ann\nLee,45402"])
    assert isinstance(item, RejectedRow)
    assert [error.code for error in item.errors] == ["malformed"]


class Batches:
    """A RosterDestination that remembers each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        batch = [record.provider_id for record in records]
        self.batches.append(batch)
        return len(batch)


def test_import_writes_good_rows_in_batches_and_reports_the_rest() -> None:
    """Seven good rows in batches of three: 3 + 3 + 1, and the bad rows reported."""
    lines = [HEADER] + [f"P{n},311234567,Ann,45402\n".encode() for n in range(7)]
    lines.insert(3, b"P9,31123456,Ann,45402\n")
    destination = Batches()
    report = import_roster(lines, destination, batch_size=3)
    assert destination.batches == [["P0", "P1", "P2"], ["P3", "P4", "P5"], ["P6"]]
    assert report.loaded == 7
    assert codes(report.rejected) == [(4, "tax_id", "invalid_format")]


def test_import_refuses_a_bad_header_before_writing() -> None:
    """A wrong header writes nothing."""
    destination = Batches()
    with pytest.raises(InvalidInput):
        import_roster([b"provider_id\n", b"P1\n"], destination)
    assert destination.batches == []


@pytest.mark.parametrize(
    "header",
    [
        b"provider_id,tax_id,name,zip_codes," + b"x" * (csv.field_size_limit() + 1) + b"\n",
        b'provider_id,tax_id,name,zip_codes,"' + b"x" * (csv.field_size_limit() + 1) + b'"\n',
    ],
)
def test_a_header_cell_over_the_csv_field_limit_is_invalid_input(header: bytes) -> None:
    """A header the csv module cannot read is InvalidInput on "header", never _csv.Error."""
    with pytest.raises(InvalidInput) as caught:
        read_roster(header + b"P1,311234567,Ann,45402\n")
    assert [(e.field, e.code) for e in caught.value.errors] == [("header", "malformed")]


def test_reading_keeps_nothing_per_row_that_the_garbage_collector_walks() -> None:
    """After 10,000 distinct rows, no object the collector walks holds an entry per row.

    The reader's memory of Provider IDs once held a tuple per row, so each
    row re-tracked it and every full collection walked it whole: reading
    slowed down as the roster grew.
    """

    def big(size: int) -> dict[int, str]:
        return {
            id(item): type(item).__name__
            for item in gc.get_objects()
            if isinstance(item, dict | list | set) and len(item) >= size
        }

    # Big containers from before the reading are not its (a test runner's own lists).
    already = big(10_000)
    rows = (f"P{n:07d},311234567,Ann {n},45402\n".encode() for n in range(20_000))
    reading = iter_roster(itertools.chain([b"provider_id,tax_id,name,zip_codes\n"], rows))
    read = sum(1 for _ in itertools.islice(reading, 10_000))
    grown = {key: kind for key, kind in big(read).items() if key not in already}
    assert read == 10_000
    assert grown == {}


def test_only_the_line_break_is_taken_off_the_last_cell() -> None:
    """A name that ends the line keeps its last letter, whatever it is."""
    data = (
        b"provider_id,tax_id,zip_codes,name\n"
        b"P1,311234567,45402,Malcolm X\n"
        b"P2,311234567,45402,Ann\r\n"
    )
    records = read_roster(data).records
    assert [record.name for record in records] == ["Malcolm X", "Ann"]
