"""Rosters: the words of each refusal, the defaults of optional cells, and batch edges.

The wording is written out here, so a changed sentence is noticed (mutation
testing of roster.py).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime

import pytest

from provider_identity import InvalidInput, LineOfBusiness, Payee, ProviderCategory, ProviderRecord
from provider_identity.plan import SEED_LINES_OF_BUSINESS, Plan, PlanLine
from provider_identity.roster import (
    RejectedRow,
    import_records,
    import_roster,
    iter_roster,
    read_roster,
)

HEADER = b"provider_id,tax_id,name,zip_codes\n"
GOOD = b"P1,311234567,Ann Lee,45402\n"


class Destination:
    """Keeps each batch it is given, and the Provider IDs it is asked to keep open."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.kept: list[tuple[set[str], date]] = []

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        ids = [record.provider_id for record in records]
        self.batches.append(ids)
        return len(ids)

    def end_missing(self, present: AbstractSet[str], *, on: date) -> tuple[str, ...]:
        self.kept.append((set(present), on))
        return ("P9",)


def messages(data: bytes) -> list[tuple[int, str, str, str]]:
    """``(line, field, code, message)`` of every rejection of ``data``."""
    return [
        (row.line, error.field, error.code, error.message)
        for row in read_roster(data).rejected
        for error in row.errors
    ]


def header_refusal(data: bytes) -> tuple[str, str, str]:
    """``(field, code, message)`` of the header's refusal."""
    with pytest.raises(InvalidInput) as caught:
        read_roster(data)
    (error,) = caught.value.errors
    return error.field, error.code, error.message


def test_row_refusals_read_as_written() -> None:
    """Encoding, CSV, column count and a conflicting duplicate each say what is wrong."""
    data = (
        HEADER
        + GOOD
        + b"P2,311234567,Jos\xe9,45402\n"
        + b"P4,311234567,Ann\n"
        + b"P1,311234567,Bob Lee,45402\n"
    )
    assert messages(data) == [
        (3, "row", "invalid_encoding", "The line is not valid UTF-8."),
        (4, "row", "wrong_column_count", "The line has 3 columns; the header has 4."),
        (
            5,
            "provider_id",
            "conflicting_duplicate",
            "Provider ID P1 is on line 2 with other data.",
        ),
    ]


def test_a_quoted_line_with_too_many_cells_is_counted_after_unquoting() -> None:
    """A quoted comma is part of its cell: 5 cells are reported as 5."""
    assert messages(HEADER + b'P2,311234567,"Lee, Ann",45402,extra\n') == [
        (2, "row", "wrong_column_count", "The line has 5 columns; the header has 4.")
    ]


def test_a_reason_joins_every_problem_with_a_space() -> None:
    """Two problems make one sentence each, in order."""
    (row,) = read_roster(HEADER + b"P2,1,Ann,1\n").rejected
    assert isinstance(row, RejectedRow)
    assert row.reason == (
        "Tax ID must be 9 digits, e.g. 12-3456789. ZIP Code must be 5 digits or ZIP+4."
    )


def test_a_wrong_choice_lists_the_allowed_values() -> None:
    """A bad category or payee names the column and every allowed value."""
    header = b"provider_id,tax_id,name,zip_codes,category,payee,lines_of_business\n"
    data = header + b"P1,311234567,Ann,45402,dentist,nobody,Medicaid;Dental\n"
    (row,) = read_roster(data).rejected
    by_field = {error.field: error.message for error in row.errors}
    categories = ", ".join(sorted(member.value for member in ProviderCategory))
    payees = ", ".join(sorted(member.value for member in Payee))
    businesses = "Medicaid, Marketplace"
    assert by_field == {
        "category": f"category must be one of {categories}.",
        "payee": f"payee must be one of {payees}.",
        "lines_of_business": f"lines_of_business must be one of {businesses}.",
    }
    assert "primary_care" in categories
    assert "group" in payees


def test_empty_optional_cells_take_the_documented_defaults() -> None:
    """No category is 'other', no payee 'individual', no line of business Medicaid, no NPI."""
    header = b"provider_id,tax_id,name,zip_codes,npi,category,payee,lines_of_business\n"
    (record,) = read_roster(header + b"P1,311234567, Ann Lee ,45402;45403 ,  ,,,\n").records
    assert record.category is ProviderCategory.OTHER
    assert record.payee is Payee.INDIVIDUAL
    assert record.lines_of_business == frozenset({LineOfBusiness.MEDICAID})
    assert record.npi is None
    assert record.name == "Ann Lee"
    assert record.zip_codes == ("45402", "45403")


def test_choices_are_case_insensitive_and_separated_by_spaces_or_semicolons() -> None:
    """'GROUP', ' medicaid;MARKETPLACE' are read as the members."""
    header = b"provider_id,tax_id,name,zip_codes,payee,lines_of_business\n"
    (record,) = read_roster(
        header + b"P1,311234567,Ann,45402,GROUP, medicaid;MARKETPLACE\n"
    ).records
    assert record.payee is Payee.GROUP
    assert record.lines_of_business == frozenset(
        {LineOfBusiness.MEDICAID, LineOfBusiness.MARKETPLACE}
    )


def test_a_row_without_zip_codes_says_the_zip_is_required() -> None:
    """An empty zip_codes cell is one missing ZIP Code, not no check at all."""
    assert [m[:3] for m in messages(HEADER + b"P1,311234567,Ann,\n")] == [
        (2, "zip_codes", "required")
    ]


def test_header_refusals_read_as_written() -> None:
    """Not UTF-8, not CSV, wrong columns and no header each say so."""
    assert header_refusal(b"provider_id,\xff\n") == (
        "header",
        "invalid_encoding",
        "The header line is not UTF-8.",
    )
    assert header_refusal(b"provider_id,tax_id,name,zip_codes,npi,npi,colour\n") == (
        "header",
        "invalid_columns",
        "The header must name provider_id, tax_id, name, zip_codes and may name npi, "
        "category, payee, lines_of_business, end_date, each once "
        "(unknown: colour; missing: none).",
    )
    assert header_refusal(b"Provider_ID , TAX_ID,name\n")[2].endswith(
        "(unknown: none; missing: zip_codes)."
    )
    assert header_refusal(b"\n  \n") == (
        "header",
        "required",
        "The roster is empty: a header line is required.",
    )


def test_a_repeated_column_alone_is_refused() -> None:
    """Every name known and present, one twice: still refused."""
    field, code, _ = header_refusal(b"provider_id,tax_id,name,zip_codes,name\n")
    assert (field, code) == ("header", "invalid_columns")


def test_a_header_with_a_byte_order_mark_is_read() -> None:
    """A UTF-8 BOM before the header is not part of the first column's name."""
    assert len(read_roster(b"\xef\xbb\xbf" + HEADER + GOOD).records) == 1


def test_not_bytes_is_refused_in_words() -> None:
    """Text, or lines of text, are refused with the hint to open the file "rb"."""
    hint = 'A roster is read as bytes: pass a file opened "rb" or its contents.'
    for call in (
        lambda: read_roster("provider_id"),  # type: ignore[arg-type]  # wrong on purpose
        lambda: list(iter_roster(["provider_id"])),  # type: ignore[list-item]
        lambda: list(iter_roster(3)),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        (error,) = caught.value.errors
        assert (error.field, error.code, error.message) == ("roster", "wrong_type", hint)


@pytest.mark.parametrize(
    ("batch_size", "batches"),
    [
        (1, [["P1"], ["P2"], ["P3"]]),
        (2, [["P1", "P2"], ["P3"]]),
        (3, [["P1", "P2", "P3"]]),
        (4, [["P1", "P2", "P3"]]),
    ],
)
def test_batches_are_full_but_the_last(batch_size: int, batches: list[list[str]]) -> None:
    """Three records in batches of 1 to 4: only the last batch may be short."""
    data = HEADER + b"".join(b"P%d,311234567,Ann,45402\n" % n for n in (1, 2, 3))
    destination = Destination()
    report = import_roster(data.splitlines(), destination, batch_size=batch_size)
    assert destination.batches == batches
    assert report.loaded == 3


@pytest.mark.parametrize(
    ("batch_size", "code"),
    [(0, "out_of_range"), (-1, "out_of_range"), (1.0, "wrong_type"), ("2", "wrong_type")],
)
def test_a_batch_size_under_one_or_not_an_int_is_refused(batch_size: object, code: str) -> None:
    """0 is just under the edge; 1.0 and "2" are not whole numbers; nothing is written."""
    destination = Destination()
    with pytest.raises(InvalidInput) as caught:
        import_roster([HEADER, GOOD], destination, batch_size=batch_size)  # type: ignore[arg-type]
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("batch_size", code)
    assert error.message == "batch_size must be a whole number of at least 1."
    assert destination.batches == []


def test_a_snapshot_keeps_what_the_file_names_and_ends_the_rest_on_the_day_given() -> None:
    """The destination is told every Provider ID of the file and the day; its answer is reported."""
    destination = Destination()
    day = date(2026, 3, 1)
    data = [HEADER, GOOD, b"P2,311234567,Bob,45402\n"]
    report = import_roster(data, destination, snapshot=True, today=day)
    assert destination.kept == [({"P1", "P2"}, day)]
    assert report.ended == ("P9",)


def test_a_snapshot_with_a_rejected_row_ends_nothing() -> None:
    """One bad row: the file is not the whole directory."""
    destination = Destination()
    report = import_roster([HEADER, GOOD, b"P2,1,Bob,45402\n"], destination, snapshot=True)
    assert destination.kept == []
    assert report.ended == ()
    assert report.loaded == 1


def test_a_snapshot_needs_a_destination_that_can_end_records() -> None:
    """Without end_missing the import is refused in words before anything is written."""

    class Plain:
        def __init__(self) -> None:
            self.batches: list[list[ProviderRecord]] = []

        def upsert(self, records: Iterable[ProviderRecord]) -> int:
            self.batches.append(list(records))
            return len(self.batches[-1])

    destination = Plain()
    with pytest.raises(InvalidInput) as caught:
        import_roster([HEADER, GOOD], destination, snapshot=True)
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "snapshot",
        "unsupported",
        "This destination cannot end records (no end_missing).",
    )
    assert destination.batches == []


def test_a_bad_payee_is_an_invalid_choice() -> None:
    """The payee's refusal has the code of a wrong choice."""
    data = b"provider_id,tax_id,name,zip_codes,payee\nP1,311234567,Ann,45402,nobody\n"
    (row,) = read_roster(data).rejected
    assert [(error.field, error.code) for error in row.errors] == [("payee", "invalid_choice")]


def test_an_end_date_cell_ends_the_record_on_that_day() -> None:
    """end_date 2026-03-31 is kept; an empty cell is no end date."""
    data = (
        b"provider_id,tax_id,name,zip_codes,end_date\n"
        b"P1,311234567,Ann,45402, 2026-03-31 \n"
        b"P2,311234567,Bob,45402,\n"
    )
    first, second = read_roster(data).records
    assert (first.end_date, second.end_date) == (date(2026, 3, 31), None)


def test_import_roster_reads_with_the_plan_it_is_given() -> None:
    """A third line of business loads under a plan that has it (the seed's would refuse it)."""
    plan = Plan(
        lines=SEED_LINES_OF_BUSINESS.extended(
            PlanLine(code="MedicareAdvantage", display_name="Medicare Advantage", help_line="1")
        )
    )
    data = [
        HEADER.rstrip(b"\n") + b",lines_of_business\n",
        b"P1,311234567,Ann,45402,MedicareAdvantage\n",
    ]
    destination = Destination()
    report = import_roster(data, destination, plan=plan)
    assert (report.loaded, report.rejected, destination.batches) == (1, (), [["P1"]])


def test_records_imported_without_snapshot_end_nothing() -> None:
    """snapshot is off unless asked for: the destination is never told to end records."""
    destination = Destination()
    report = import_records(read_roster(HEADER + GOOD).records, destination)
    assert (report.loaded, report.ended, destination.kept) == (1, (), [])


@pytest.mark.parametrize("zone", ["Etc/GMT-14", "Etc/GMT+12"])
def test_a_snapshot_ends_records_on_the_utc_day_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """In UTC+14 and UTC-12 (26 hours apart, so one of them is always on another day)."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        destination = Destination()
        before = datetime.now(UTC).date()
        import_roster([HEADER, GOOD], destination, snapshot=True)
        after = datetime.now(UTC).date()  # the same day unless midnight passed meanwhile
    finally:
        monkeypatch.undo()
        time.tzset()
    ((_, on),) = destination.kept
    assert on in {before, after}


def test_a_header_the_csv_module_cannot_read_is_refused_in_words() -> None:
    """A header cell over the csv field limit: malformed, in these words."""
    header = b'provider_id,tax_id,name,"' + b"x" * (csv.field_size_limit() + 1) + b'"\n'
    assert header_refusal(header + GOOD) == (
        "header",
        "malformed",
        "The header line is not valid CSV.",
    )


def test_a_row_the_csv_module_cannot_read_is_refused_in_words() -> None:
    """A row cell over the csv field limit: the line is rejected as malformed, in words."""
    row = b'P1,311234567,"' + b"x" * (csv.field_size_limit() + 1) + b'",45402\n'
    assert messages(HEADER + row) == [(2, "row", "malformed", "The line is not valid CSV.")]


def test_the_header_refusal_lists_several_unknown_and_missing_columns() -> None:
    """Several unknown and missing columns are each listed, comma-separated, sorted."""
    field, code, message = header_refusal(b"provider_id,tax_id,fax,email\n" + GOOD)
    assert (field, code) == ("header", "invalid_columns")
    assert message.endswith("(unknown: email, fax; missing: name, zip_codes).")
