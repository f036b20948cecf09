"""Roster sources at their edges: each kind of spreadsheet dirt, each mapping refusal in words."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from provider_identity.errors import ConfigurationError, FieldError, InvalidInput
from provider_identity.providers import LineOfBusiness, Payee, ProviderCategory, ProviderRecord
from provider_identity.roster import RejectedRow, SkippedRow
from provider_identity.sources.mapped import iter_mapped_roster, record_from_cells
from provider_identity.sources.mapping import (
    Fixes,
    PayeeValues,
    RosterMapping,
    clean,
    clean_zip,
    load_mapping,
    mapping_from_dict,
)
from provider_identity.sources.nppes import NPPES_COLUMNS, enrich_by_npi, iter_nppes
from provider_identity.sources.plan_net import (
    NETWORK_REFERENCE,
    NPI_SYSTEM,
    NUCC_SYSTEM,
    TAX_ID_SYSTEM,
    iter_plan_net,
)
from tests.test_sources_nppes import CLINIC as CLINIC_ROW
from tests.test_sources_nppes import JANE, nppes_file

NONE = Fixes()
ALL = Fixes(excel_prefix=True, unavailable_as_missing=True, zip_leading_zeros=True)


def dirt(result: str | FieldError) -> tuple[str, str, str]:
    """The column, code and words of a cell reported as dirty."""
    assert isinstance(result, FieldError), result
    return result.field, result.code, result.message


# -- clean --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ['="02101"', "=02101", ' = "02101" ', "="])
def test_an_excel_prefix_is_reported_naming_the_option(cell: str) -> None:
    """Off by default: the column, and the option that reads the value instead."""
    assert dirt(clean(cell, "Zip", NONE)) == (
        "Zip",
        "excel_formula",
        "Zip holds an Excel formula (=...); set fixes.excel_prefix to read its value.",
    )


@pytest.mark.parametrize(
    ("cell", "value"), [('="02101"', "02101"), ("=02101", "02101"), (' = " x " ', "x"), ("=", "")]
)
def test_an_excel_prefix_is_read_as_its_value_once_fixed(cell: str, value: str) -> None:
    """With excel_prefix on: the quoted or bare value, trimmed."""
    assert clean(cell, "Zip", Fixes(excel_prefix=True)) == value


@pytest.mark.parametrize("cell", ["<UNAVAIL>", " <unavail> ", "<Unavail>"])
def test_unavail_is_reported_then_empty(cell: str) -> None:
    """In any case: reported with its option when off, an empty cell when on."""
    assert dirt(clean(cell, "NPI", NONE)) == (
        "NPI",
        "unavailable",
        "NPI says <UNAVAIL>; set fixes.unavailable_as_missing to treat it as empty.",
    )
    assert clean(cell, "NPI", Fixes(unavailable_as_missing=True)) == ""


def test_excel_around_unavail_needs_both_fixes() -> None:
    """``="<UNAVAIL>"`` is first a formula, then a withheld value."""
    assert dirt(clean('="<UNAVAIL>"', "NPI", Fixes(excel_prefix=True)))[1] == "unavailable"
    assert clean('="<UNAVAIL>"', "NPI", ALL) == ""


def test_a_clean_cell_is_only_trimmed() -> None:
    """Everything else passes, without its surrounding space, whatever the fixes."""
    assert clean("  Jane Doe \t", "Name", NONE) == "Jane Doe"
    assert clean("a=b", "Name", NONE) == "a=b"
    assert clean("<UNAVAIL>x", "Name", ALL) == "<UNAVAIL>x"


# -- clean_zip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "restored"),
    [
        ("210", "00210"),
        ("2101", "02101"),
        ("2101-1234", "02101-1234"),
        ("21011234", "02101-1234"),
        ("210-1234", "00210-1234"),
        ("2101234", "00210-1234"),
        ("1234567", "00123-4567"),
    ],
)
def test_a_zip_that_lost_its_zeros_is_reported_then_padded(cell: str, restored: str) -> None:
    """3 or 4 digits (maybe with +4), or 7 or 8 digits: reported naming the option, or padded."""
    assert dirt(clean_zip(cell, "Zip", NONE)) == (
        "Zip",
        "zip_lost_leading_zero",
        f"Zip {cell} looks like a ZIP code that lost its leading zero; "
        "set fixes.zip_leading_zeros to restore it.",
    )
    assert clean_zip(cell, "Zip", Fixes(zip_leading_zeros=True)) == restored


@pytest.mark.parametrize(
    "cell", ["21", "02101", "12345", "123456789", "021011234", "2101 1234", "123456", "1234567890"]
)
def test_other_zips_are_left_to_the_normaliser(cell: str) -> None:
    """Two digits, five, six, nine, ten or a space: not a lost zero, left as they are."""
    assert clean_zip(cell, "Zip", NONE) == cell
    assert clean_zip(cell, "Zip", ALL) == cell


# -- the mapping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"columns": 5}, "columns must be a table."),
        (
            {"columns": {"zip": "ZIP"}},
            "columns.zip is not a field (provider_id, tax_id, name, zip_codes, npi, category, "
            "taxonomy, payee, lines_of_business).",
        ),
        ({"columns": {"name": []}}, "columns.name names one column or a list of them."),
        ({"columns": {"name": ["First", " "]}}, "columns.name names one column or a list of them."),
        ({"columns": {"name": [5]}}, "columns.name names one column or a list of them."),
        ({"bogus": 1, "alpha": 2}, "Unknown keys in the mapping: alpha, bogus."),
        ({"payee": 5}, "payee must be a table."),
        ({"values": {"category": 5}}, "category must be a table."),
        (
            {"fixes": {"excel": True}},
            "fixes may set excel_prefix, unavailable_as_missing and zip_leading_zeros.",
        ),
        ({"provider_id_system": 5}, "provider_id_system is an identifier system URI."),
        (
            {"lines_of_business": 5},
            "lines_of_business is a list of {code, display_name, help_line} tables.",
        ),
        (
            {"lines_of_business": [5]},
            "lines_of_business is a list of {code, display_name, help_line} tables.",
        ),
        (
            {"lines_of_business": [{"code": "Dental"}]},
            "Each line of business has code, display_name and help_line.",
        ),
        ({"payee": {"group": 5}}, "payee.group must be text or a list of text."),
        ({"payee": {"individual": [5]}}, "payee.individual must be text or a list of text."),
        ({"categories": 5}, "categories must be text or a list of text."),
        ({"group_categories": [1]}, "group_categories must be text or a list of text."),
        ({"networks": {"Org/a": "Dental"}}, "networks.Org/a must be one of Medicaid, Marketplace."),
    ],
)
def test_each_wrong_mapping_is_refused_in_words(data: dict[str, object], words: str) -> None:
    """The key at fault and what it should be."""
    with pytest.raises(ConfigurationError) as caught:
        mapping_from_dict(data)
    assert caught.value.message == words


def test_a_mapping_built_in_code_with_columns_that_are_no_table_is_refused() -> None:
    """``RosterMapping(columns=...)`` checks what a file's ``columns`` table is checked for."""
    with pytest.raises(ConfigurationError) as caught:
        RosterMapping(columns=["ID", "TIN"])  # type: ignore[arg-type]  # wrong on purpose
    assert caught.value.message == "columns maps record fields to the plan's column names."


def test_a_full_mapping_reads_every_key() -> None:
    """Columns trimmed, values folded, payee words trimmed and folded, fixes, networks, system."""
    mapping = mapping_from_dict(
        {
            "columns": {"name": ["First", " Last "], "provider_id": "ID"},
            "values": {"category": {"PCP": "primary_care"}},
            "payee": {"group": [" GROUP ", "Org"], "individual": "Person", "default": " Group "},
            "fixes": {"excel_prefix": 1, "zip_leading_zeros": "yes"},
            "networks": {"Organization/acme": "marketplace"},
            "provider_id_system": "urn:acme:provider",
            "categories": ["Chiropractic"],
            "group_categories": "Dentistry",
            "taxonomy": {"1223": "orthodontics"},
        }
    )
    assert mapping.columns == {"name": ("First", "Last"), "provider_id": ("ID",)}
    assert mapping.payee == PayeeValues(
        group=frozenset({"group", "org"}), individual=frozenset({"person"}), default="group"
    )
    assert mapping.fixes == Fixes(excel_prefix=True, zip_leading_zeros=True)
    assert mapping.networks == {"Organization/acme": LineOfBusiness("Marketplace")}
    assert mapping.provider_id_system == "urn:acme:provider"
    chiropractic, dentistry, orthodontics = (
        ProviderCategory(name) for name in ("chiropractic", "dentistry", "orthodontics")
    )
    assert {chiropractic, dentistry, orthodontics} <= mapping.plan.categories
    assert ProviderCategory.RADIOLOGY in mapping.plan.categories
    assert dentistry in mapping.plan.group_categories
    assert chiropractic not in mapping.plan.group_categories
    assert ProviderCategory.HOSPITAL in mapping.plan.group_categories
    assert mapping.plan.taxonomy.prefixes["1223"] == orthodontics
    assert mapping.translate("category", "pcp") == "primary_care"
    assert mapping.translate("category", "PCP") == "primary_care"
    assert mapping.translate("category", "Other") == "Other"
    assert mapping.translate("lines_of_business", "pcp") == "pcp"


def test_an_empty_mapping_takes_the_seed_plan_and_no_fixes() -> None:
    """No key: no columns, individual payees by default, every fix off, no networks."""
    mapping = mapping_from_dict({})
    assert mapping == RosterMapping()
    assert mapping.payee == PayeeValues(
        group=frozenset({"group"}), individual=frozenset({"individual"}), default="individual"
    )
    assert mapping.provider_id_system is None


def test_declared_lines_of_business_replace_the_seeds() -> None:
    """A plan's own lines, with their help lines, parsed by their codes."""
    mapping = mapping_from_dict(
        {
            "lines_of_business": [
                {"code": "Dental", "display_name": "Dental Plan", "help_line": "1-800-555-0100"}
            ],
            "networks": {"Organization/dental": "dental"},
        }
    )
    (line,) = mapping.plan.lines.lines
    assert (line.code, line.display_name, line.help_line) == (
        LineOfBusiness("Dental"),
        "Dental Plan",
        "1-800-555-0100",
    )
    assert mapping.networks == {"Organization/dental": LineOfBusiness("Dental")}


def test_mapping_files_by_suffix_and_their_refusals(tmp_path: Path) -> None:
    """``.TOML`` is TOML whatever its case; anything else JSON; bad text names the file."""
    toml = tmp_path / "plan.TOML"
    toml.write_text('[columns]\nprovider_id = "ID"\n', "utf-8")
    assert load_mapping(toml).columns == {"provider_id": ("ID",)}
    data = tmp_path / "plan.conf"
    data.write_text(json.dumps({"columns": {"provider_id": "ID"}}), "utf-8")
    assert load_mapping(str(data)).columns == {"provider_id": ("ID",)}
    bad = tmp_path / "bad.json"
    bad.write_text("{", "utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(bad)
    assert caught.value.message.startswith("The mapping file bad.json is not valid: ")
    listed = tmp_path / "list.json"
    listed.write_text("[]", "utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(listed)
    assert caught.value.message == "A mapping file holds one table (a JSON object)."
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"name = '\xe9'")
    with pytest.raises(ConfigurationError) as caught:
        load_mapping(latin)
    assert caught.value.message.startswith("The mapping file latin.toml is not valid: ")


# -- mapped rosters -----------------------------------------------------------------------

TWO_COLUMNS = mapping_from_dict(
    {
        "columns": {
            "provider_id": ["Prov Nbr", "Alt Nbr"],
            "tax_id": ["TIN", "SSN"],
            "name": ["First", "Last"],
            "zip_codes": ["Practice ZIP", "Billing ZIP"],
            "npi": "NPI",
        }
    }
)
ROW = {"Prov Nbr": "P1000001", "TIN": "31-1234567", "First": "Jane", "Last": "Doe"}


def problems(cells: dict[str, str]) -> list[tuple[str, str, str]]:
    """Every problem of a row under TWO_COLUMNS: column, code and words."""
    result = record_from_cells(cells, TWO_COLUMNS)
    assert isinstance(result, tuple), result
    return [(error.field, error.code, error.message) for error in result]


def test_each_required_field_missing_is_named_by_its_label_and_columns() -> None:
    """An empty row: Provider ID, Tax ID, Name and a ZIP code, each naming its columns."""
    assert problems({}) == [
        ("Prov Nbr / Alt Nbr", "required", "Provider ID is required (Prov Nbr or Alt Nbr)."),
        ("TIN / SSN", "required", "Tax ID is required (TIN or SSN)."),
        ("First / Last", "required", "Name is required (First or Last)."),
        (
            "Practice ZIP / Billing ZIP",
            "required",
            "A ZIP code is required (Practice ZIP or Billing ZIP).",
        ),
    ]


def test_a_bad_value_is_reported_under_the_column_that_held_it() -> None:
    """The second Provider ID column, the SSN column, the first name column, the second ZIP."""
    reported = problems(
        {"Alt Nbr": "P_1", "SSN": "31-12", "First": "J" * 201, "Billing ZIP": "4540x"}
    )
    assert reported == [
        ("Alt Nbr", "invalid_format", "Provider ID must be letters and digits."),
        ("SSN", "invalid_format", "Tax ID must be 9 digits, e.g. 12-3456789."),
        ("First", "too_long", "Name must be at most 200 characters."),
        ("Billing ZIP", "invalid_format", "ZIP Code must be 5 digits or ZIP+4."),
    ]


def test_only_zip_columns_are_read_as_zip_codes() -> None:
    """A four-digit NPI is a wrong NPI, not a ZIP code that lost its zero."""
    assert problems({**ROW, "Practice ZIP": "45402", "NPI": "1234"}) == [
        ("NPI", "invalid_format", "NPI must be 10 digits.")
    ]


def test_a_mapped_column_absent_from_the_row_is_empty() -> None:
    """Cells read by name: a column the row does not have (no NPI here) is an empty cell."""
    record = record_from_cells({**ROW, "Billing ZIP": "45402"}, TWO_COLUMNS)
    assert isinstance(record, ProviderRecord)
    assert (record.npi, record.zip_codes, record.name) == (None, ("45402",), "Jane Doe")


def test_a_header_without_a_mapped_column_is_refused_beside_the_header() -> None:
    """The header's problems are field ``header``, code ``invalid_columns``, naming the columns."""
    roster = [b"Prov Nbr,TIN,First\n", b"P1,311234567,Jane\n"]
    with pytest.raises(InvalidInput) as caught:
        list(iter_mapped_roster(roster, TWO_COLUMNS))
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("header", "invalid_columns")
    assert error.message == (
        "The roster has no column Alt Nbr, Billing ZIP, Last, NPI, Practice ZIP, SSN "
        "(named by the mapping)."
    )


def test_a_mapping_with_only_the_required_columns_reads_defaults() -> None:
    """No NPI, category, payee or line column: no NPI, "other", individual, the plan's default."""
    mapping = mapping_from_dict(
        {"columns": {"provider_id": "ID", "tax_id": "TIN", "name": "Name", "zip_codes": "ZIP"}}
    )
    record = record_from_cells(
        {"ID": "P1", "TIN": "311234567", "Name": "Jane Doe", "ZIP": "45402"}, mapping
    )
    assert isinstance(record, ProviderRecord)
    assert record.npi is None
    assert record.category == ProviderCategory.OTHER
    assert record.payee is Payee.INDIVIDUAL
    assert record.lines_of_business == {LineOfBusiness.MEDICAID}


def test_optional_columns_reach_the_record_and_report_their_problems() -> None:
    """An NPI is kept; a line of business the plan lacks is reported under its column."""
    mapping = mapping_from_dict(
        {"columns": dict(TWO_COLUMNS.columns) | {"lines_of_business": "LOB"}}
    )
    cells = {**ROW, "Practice ZIP": "45402", "NPI": "1234567893"}
    record = record_from_cells({**cells, "LOB": "Marketplace"}, mapping)
    assert isinstance(record, ProviderRecord)
    assert (record.npi, record.lines_of_business) == ("1234567893", {LineOfBusiness("Marketplace")})
    refused = record_from_cells({**cells, "LOB": "Dental"}, mapping)
    assert isinstance(refused, tuple)
    assert [(error.field, error.code) for error in refused] == [("LOB", "invalid_choice")]


REQUIRED_COLUMNS = {"provider_id": "ID", "tax_id": "TIN", "name": "Name", "zip_codes": "ZIP"}
REQUIRED_CELLS = {"ID": "P1", "TIN": "311234567", "Name": "Jane Doe", "ZIP": "45402"}


def read_row(data: dict[str, object], **cells: str) -> ProviderRecord | tuple[FieldError, ...]:
    """One row of the required cells and ``cells`` under the required columns and ``data``."""
    columns = REQUIRED_COLUMNS | data.pop("columns", {})  # type: ignore[operator]  # a table
    return record_from_cells(REQUIRED_CELLS | cells, mapping_from_dict({"columns": columns} | data))


def test_taxonomy_columns_decide_the_category_without_a_category_column() -> None:
    """Every taxonomy column's code counts: a radiology code in the second one makes radiology."""
    record = read_row({"columns": {"taxonomy": ["Tax 1", "Tax 2"]}}, **{"Tax 2": "2085R0202X"})
    assert isinstance(record, ProviderRecord)
    assert record.category == ProviderCategory.RADIOLOGY


def test_payee_default_and_the_choices_a_refusal_lists() -> None:
    """No payee column takes the default; a wrong cell lists every accepted word, sorted."""
    grouped = read_row({"payee": {"default": "Group"}})
    assert isinstance(grouped, ProviderRecord)
    assert grouped.payee is Payee.GROUP
    wrong_default = read_row({"payee": {"default": "both"}})
    assert isinstance(wrong_default, tuple)
    assert [(e.field, e.code, e.message) for e in wrong_default] == [
        ("payee", "invalid_choice", "payee must be one of group, individual.")
    ]
    wrong_cell = read_row(
        {"columns": {"payee": "Pay To"}, "payee": {"group": ["G", "GRP"], "individual": "I"}},
        **{"Pay To": "Q"},
    )
    assert isinstance(wrong_cell, tuple)
    assert [(e.field, e.message) for e in wrong_cell] == [
        ("Pay To", "Pay To must be one of g, grp, i.")
    ]


@pytest.mark.parametrize("cell", ["Medicaid;Marketplace", "Medicaid, Marketplace", "Medicaid;;,"])
def test_lines_of_business_split_on_semicolons_commas_and_spaces(cell: str) -> None:
    """Several lines in one cell, however separated."""
    record = read_row({"columns": {"lines_of_business": "LOB"}}, LOB=cell)
    assert isinstance(record, ProviderRecord)
    expected = {LineOfBusiness.MEDICAID}
    if "Marketplace" in cell:
        expected.add(LineOfBusiness("Marketplace"))
    assert record.lines_of_business == expected


def read_roster(*lines: bytes, mapping: RosterMapping | None = None) -> list[object]:
    """Every item of a roster of ``lines`` under the required columns (or ``mapping``)."""
    mapping = mapping or mapping_from_dict({"columns": REQUIRED_COLUMNS})
    return list(iter_mapped_roster(lines, mapping))


def rejections(items: list[object]) -> list[tuple[int, list[tuple[str, str, str]]]]:
    """Line, column, code and words of every rejected row among ``items``."""
    return [
        (item.line, [(e.field, e.code, e.message) for e in item.errors])
        for item in items
        if isinstance(item, RejectedRow)
    ]


def roster_refusal(*lines: object, mapping: RosterMapping | None = None) -> tuple[str, str, str]:
    """The one problem for which a whole roster is refused."""
    with pytest.raises(InvalidInput) as caught:
        read_roster(*lines, mapping=mapping)  # type: ignore[arg-type]  # wrong lines on purpose
    (error,) = caught.value.errors
    return error.field, error.code, error.message


def test_a_roster_refused_as_a_whole_says_why() -> None:
    """Text lines, a mapping without required fields, no header: each in its own words."""
    assert roster_refusal("ID,TIN,Name,ZIP\n") == (
        "roster",
        "wrong_type",
        'A roster is read as bytes: pass a file opened "rb".',
    )
    partial = mapping_from_dict({"columns": {"provider_id": "ID", "name": "Name"}})
    assert roster_refusal(b"ID,Name\n", mapping=partial) == (
        "mapping",
        "required",
        "The mapping names no column for tax_id, zip_codes.",
    )
    assert roster_refusal() == (
        "header",
        "required",
        "The roster is empty: a header line is required.",
    )


def test_a_header_with_a_byte_order_mark_is_read() -> None:
    """Excel's UTF-8 byte order mark before the first column name is not part of the name."""
    items = read_roster(b"\xef\xbb\xbfID,TIN,Name,ZIP\r\n", b"P1,311234567,Jane Doe,45402\r\n")
    assert [item.provider_id for item in items] == ["P1"]  # type: ignore[attr-defined]  # records


def test_a_column_name_may_begin_with_x() -> None:
    """Only a byte order mark is stripped from the front of a column name, not an ``X``."""
    mapping = mapping_from_dict({"columns": REQUIRED_COLUMNS | {"provider_id": "XREF"}})
    items = read_roster(b"XREF,TIN,Name,ZIP\n", b"P1,311234567,Jane Doe,45402\n", mapping=mapping)
    assert [item.provider_id for item in items] == ["P1"]  # type: ignore[attr-defined]  # records


def test_rows_that_are_not_utf8_or_miscounted_are_rejected_in_words() -> None:
    """A line that is not UTF-8 or has too few cells is rejected on its line; blank lines skip."""
    items = read_roster(
        b"ID,TIN,Name,ZIP\n",
        b"P1,311234567,Jos\xe9,45402\n",
        b" , , , \n",
        b"P2,311234567\n",
        b"P4,31-12,Ann Lee,45402\n",
        b"P3,311234567,Ann Lee,45402\n",
    )
    assert rejections(items) == [
        (2, [("row", "invalid_encoding", "The line is not valid UTF-8.")]),
        (4, [("row", "wrong_column_count", "The line has 2 columns; the header has 4.")]),
        (5, [("TIN", "invalid_format", "Tax ID must be 9 digits, e.g. 12-3456789.")]),
    ]
    assert [item.provider_id for item in items if isinstance(item, ProviderRecord)] == ["P3"]


def test_csv_the_reader_cannot_split_is_refused_or_rejected() -> None:
    """A cell over the csv module's field limit: in the header the roster is refused; in a row
    that line is rejected and reading goes on."""
    huge = b"x" * 131_073
    assert roster_refusal(b"ID,TIN,Name,ZIP," + huge + b"\n") == (
        "header",
        "invalid_columns",
        "The header line is not valid CSV.",
    )
    items = read_roster(
        b"ID,TIN,Name,ZIP\n",
        b"P1,311234567,Jane Doe,45402," + huge + b"\n",
        b"P2,311234567,Ann Lee,45402\n",
    )
    assert rejections(items) == [(2, [("row", "malformed", "The line is not valid CSV.")])]
    assert [item.provider_id for item in items if isinstance(item, ProviderRecord)] == ["P2"]


def test_a_repeated_provider_id_is_dropped_when_equal_and_rejected_when_not() -> None:
    """An exact repeat adds nothing; a repeat with other data names the first line."""
    items = read_roster(
        b"ID,TIN,Name,ZIP\n",
        b"P1,311234567,Jane Doe,45402\n",
        b"P2,311234567,Ann Lee,45402\n",
        b"P1,311234567,Jane Doe,45402\n",
        b"P1,311234567,Jane Smith,45402\n",
    )
    assert [item.provider_id for item in items if isinstance(item, ProviderRecord)] == ["P1", "P2"]
    assert rejections(items) == [
        (5, [("ID", "conflicting_duplicate", "Provider ID P1 is on line 2 with other data.")])
    ]


# -- Plan-Net -----------------------------------------------------------------------------

ORG_TYPES = "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/OrgTypeCS"


def ident(system: str, value: object) -> dict[str, object]:
    return {"system": system, "value": value}


def jane(**changes: object) -> dict[str, object]:
    """A practitioner: blank and odd NPIs before the real one, a blank Tax ID, a name in parts."""
    return {
        "resourceType": "Practitioner",
        "id": "p1",
        "identifier": [
            5,
            ident(NPI_SYSTEM, 1234567893),
            ident(NPI_SYSTEM, " "),
            ident(NPI_SYSTEM, " 1234567893 "),
            ident(TAX_ID_SYSTEM, " "),
            {"value": "ZZ9"},  # no system: neither the plan's ID nor a Tax ID
        ],
        "name": [5, {"given": ["Jane", 7, "Q."], "family": "Doe"}],
        "address": {"postalCode": "45402"},
    } | changes


CLINIC = {
    "resourceType": "Organization",
    "id": "o1",
    "identifier": [ident(TAX_ID_SYSTEM, "311234567")],
    "name": " Clinic ",
}
LOCATION = {"resourceType": "Location", "id": "l1", "address": [{"postalCode": "45440"}, {}]}
NETWORK = {
    "resourceType": "Organization",
    "id": "n1",
    "name": "Acme PPO",
    "type": [{"coding": [{"system": ORG_TYPES, "code": "ntwk"}]}],
}


def role(**changes: object) -> dict[str, object]:
    """Jane's role: versioned absolute references, a radiology specialty (after a primary-care
    code of another system), network n1 (after another extension)."""
    return {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "https://fhir.example/Practitioner/p1/_history/3"},
        "organization": {"reference": "Organization/o1/"},
        "location": [{"reference": "Location/l1"}, {"reference": "l2"}],
        "specialty": [
            5,
            {
                "coding": [
                    {"system": "urn:other", "code": "207Q00000X"},
                    {"system": NUCC_SYSTEM, "code": "2085R0202X"},
                ]
            },
        ],
        "extension": [
            {"url": "other", "valueReference": {"reference": "Organization/o1"}},
            {"url": NETWORK_REFERENCE, "valueReference": {"reference": "Organization/n1"}},
        ],
    } | changes


def plan_net(*resources: object, mapping: RosterMapping | None = None) -> list[object]:
    """The items of a Bundle of ``resources``."""
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    return list(iter_plan_net(json.dumps(bundle).encode(), mapping))


def test_a_practitioner_record_follows_every_reference() -> None:
    """Tax ID from the role's organization, ZIPs from its locations then its own, the
    category from the specialty, the line from the network's name, the name from its parts."""
    by_name = RosterMapping(networks={"acme ppo": LineOfBusiness("Marketplace")})
    record, *skipped = plan_net(jane(), CLINIC, LOCATION, NETWORK, role(), mapping=by_name)
    assert record == ProviderRecord(
        provider_id="1234567893",
        tax_id="311234567",
        name="Jane Q. Doe",
        zip_codes=["45440", "45402"],
        npi="1234567893",
        category=ProviderCategory.RADIOLOGY,
        payee=Payee.INDIVIDUAL,
        lines_of_business=frozenset({LineOfBusiness("Marketplace")}),
    )
    assert skipped == [
        SkippedRow(line=2, reason="not_a_provider"),
        SkippedRow(line=4, reason="not_a_provider"),
    ]
    by_reference = RosterMapping(
        networks={
            "Organization/n1": LineOfBusiness("Marketplace"),
            "Organization/o1": LineOfBusiness.MEDICAID,  # named by a non-network extension
        }
    )
    (record, *_) = plan_net(jane(), CLINIC, NETWORK, role(), mapping=by_reference)
    assert record.lines_of_business == {LineOfBusiness("Marketplace")}  # type: ignore[attr-defined]  # a record
    (record, *_) = plan_net(jane(), CLINIC, NETWORK, role())
    assert record.lines_of_business == {LineOfBusiness.MEDICAID}  # type: ignore[attr-defined]  # a record


def test_a_practitioners_name_text_wins_and_its_own_tax_id_first() -> None:
    """``name.text`` over the parts; a Tax ID on the practitioner over the organization's."""
    own = jane(
        name=[{"text": " Dr. Jane Doe ", "given": ["X"]}],
        identifier=[ident(NPI_SYSTEM, "1234567893"), ident(TAX_ID_SYSTEM, "317654321")],
    )
    (record, *_) = plan_net(own, CLINIC, role(code=[{"coding": [{"system": NUCC_SYSTEM}]}]))
    assert isinstance(record, ProviderRecord)
    assert (record.name, record.tax_id) == ("Dr. Jane Doe", "317654321")
    radiology = [{"coding": [{"system": NUCC_SYSTEM, "code": "2085R0202X"}]}]
    (record, *_) = plan_net(own, CLINIC, role(specialty=None, code=radiology))
    assert record.category == ProviderCategory.RADIOLOGY  # type: ignore[attr-defined]  # a record


def test_a_reference_keeps_an_id_that_ends_in_x() -> None:
    """Only a trailing slash is trimmed from a reference: an id ``o1X`` stays ``o1X``."""
    clinic = CLINIC | {"id": "o1X"}
    (record, *_) = plan_net(jane(), clinic, role(organization={"reference": "Organization/o1X/"}))
    assert isinstance(record, ProviderRecord)
    assert record.tax_id == "311234567"


@pytest.mark.parametrize("reference", ["Organization/None", "Organization/XXXX"])
def test_a_resource_without_an_id_is_found_by_no_reference(reference: str) -> None:
    """An organization with no id cannot be referred to, by any word standing in for its id."""
    anonymous = {key: value for key, value in CLINIC.items() if key != "id"}
    (rejected, *_) = plan_net(jane(), anonymous, role(organization={"reference": reference}))
    assert isinstance(rejected, RejectedRow)
    assert [(e.field, e.code) for e in rejected.errors] == [("tax_id", "required")]


def test_a_bare_id_is_no_reference_to_a_network() -> None:
    """A network reference without its type names nothing, even an id the mapping lists."""
    mapping = RosterMapping(networks={"n1": LineOfBusiness("Marketplace")})
    bare = [{"url": NETWORK_REFERENCE, "valueReference": {"reference": "n1"}}]
    (record, *_) = plan_net(jane(), CLINIC, NETWORK, role(extension=bare), mapping=mapping)
    assert record.lines_of_business == {LineOfBusiness.MEDICAID}  # type: ignore[attr-defined]  # a record


def test_a_network_without_a_name_matches_no_name_in_the_mapping() -> None:
    """A nameless network is matched by its reference only: not as "None" or any other word."""
    mapping = RosterMapping(
        networks={"None": LineOfBusiness("Marketplace"), "XXXX": LineOfBusiness("Exchange")}
    )
    nameless = {key: value for key, value in NETWORK.items() if key != "name"}
    (record, *_) = plan_net(jane(), CLINIC, nameless, role(), mapping=mapping)
    assert record.lines_of_business == {LineOfBusiness.MEDICAID}  # type: ignore[attr-defined]  # a record


def test_what_a_practitioner_lacks_is_said_per_field() -> None:
    """No NPI, no Tax ID anywhere, no name, no ZIP: each in words, on the resource's line."""
    bare = {"resourceType": "Practitioner", "id": "p1", "name": [{"given": [], "family": 5}]}
    nameless = {"resourceType": "Practitioner", "id": "p1"}
    (other,) = plan_net(nameless, role(organization=None, location=None))
    assert isinstance(other, RejectedRow)
    assert ("name", "required", "Practitioner has no name.") in [
        (e.field, e.code, e.message) for e in other.errors
    ]
    (rejected,) = plan_net(bare, role(organization=None, location=None))
    assert isinstance(rejected, RejectedRow)
    assert rejected.line == 1
    assert [(e.field, e.code, e.message) for e in rejected.errors] == [
        ("provider_id", "required", "Practitioner has no Provider ID or NPI."),
        ("tax_id", "required", "Practitioner has no Tax ID."),
        ("name", "required", "Practitioner has no name."),
        ("zip_codes", "required", "Practitioner has no ZIP code."),
    ]


def test_a_wrong_value_is_reported_by_its_field() -> None:
    """A bad NPI check digit and a bad ZIP are the normalisers' errors, on the record's fields."""
    wrong = jane(identifier=[ident(NPI_SYSTEM, "1234567890")], address=[{"postalCode": "4540x"}])
    (rejected, _) = plan_net(wrong, CLINIC, role(location=[]))
    assert isinstance(rejected, RejectedRow)
    assert [(e.field, e.code) for e in rejected.errors] == [
        ("npi", "invalid_check_digit"),
        ("zip_codes", "invalid_format"),
    ]


def test_only_active_roles_with_a_practitioner_count() -> None:
    """An inactive role, or one naming no practitioner, leaves the practitioner without a role."""
    for other in (role(active=False), role(practitioner={"reference": "p1"}), role(practitioner=5)):
        assert plan_net(jane(), CLINIC, other) == [
            SkippedRow(line=1, reason="no_role"),
            SkippedRow(line=2, reason="not_a_provider"),
        ]
    (record, _) = plan_net(jane(), CLINIC, role(active=True))
    assert isinstance(record, ProviderRecord)


def test_an_organization_is_a_provider_by_its_npi_or_the_plans_own_id() -> None:
    """With neither it is skipped, as are networks and payers; its ZIPs, services and name."""
    payer = {
        **CLINIC,
        "identifier": [ident(NPI_SYSTEM, "1234567893")],
        "type": [{"coding": [{"system": ORG_TYPES, "code": "pay"}]}],
    }
    assert plan_net(CLINIC, payer) == [
        SkippedRow(line=1, reason="not_a_provider"),
        SkippedRow(line=2, reason="not_a_provider"),
    ]
    own_ids = RosterMapping(provider_id_system="urn:acme:ids")
    clinic = {
        **CLINIC,
        "identifier": [*CLINIC["identifier"], ident("urn:acme:ids", "G2000001")],  # type: ignore[misc]  # a list
        "address": {"postalCode": "45402"},
    }
    managed = {**LOCATION, "managingOrganization": {"reference": "Organization/o1"}}
    service = {
        "resourceType": "HealthcareService",
        "providedBy": {"reference": "Organization/o1"},
        "specialty": [{"coding": [{"system": NUCC_SYSTEM, "code": "2085R0202X"}]}],
    }
    (record, *_) = plan_net(clinic, managed, service, mapping=own_ids)
    assert record == ProviderRecord(
        provider_id="G2000001",
        tax_id="311234567",
        name="Clinic",
        zip_codes=["45440", "45402"],
        npi=None,
        category=ProviderCategory.RADIOLOGY,
        payee=Payee.GROUP,
        lines_of_business=frozenset({LineOfBusiness.MEDICAID}),
    )
    assert plan_net(clinic) == [SkippedRow(line=1, reason="not_a_provider")]
    assert plan_net(CLINIC, mapping=own_ids) == [SkippedRow(line=1, reason="not_a_provider")]
    (alone,) = plan_net(clinic, mapping=own_ids)
    assert alone.zip_codes == ("45402",)  # type: ignore[union-attr]  # a record
    nameless = {key: value for key, value in clinic.items() if key != "name"}
    (rejected,) = plan_net(nameless, mapping=own_ids)
    assert isinstance(rejected, RejectedRow)
    assert [(e.field, e.message) for e in rejected.errors] == [
        ("name", "Organization has no name.")
    ]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("{}", ("wrong_type", 'Read the file as bytes ("rb").')),
        (b"\xff{}", ("invalid_encoding", "The file is not UTF-8.")),
        (
            b'{"resourceType": "Practitioner"}\n{oops\n',
            ("malformed", "The file is neither a FHIR Bundle nor NDJSON (one resource a line)."),
        ),
    ],
)
def test_a_file_plan_net_cannot_read_is_refused_in_words(
    data: object, words: tuple[str, str]
) -> None:
    """Text instead of bytes, bytes that are not UTF-8, lines that are not JSON."""
    with pytest.raises(InvalidInput) as caught:
        list(iter_plan_net(data))  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == ("bundle", *words)


def test_ndjson_and_a_lone_resource_are_read_and_numbered_from_one() -> None:
    """Blank NDJSON lines and entries that are no resource do not count as positions."""
    lines = [json.dumps(jane()), "", json.dumps(CLINIC), json.dumps(role())]
    items = list(iter_plan_net("\n".join(lines).encode()))
    assert [type(item).__name__ for item in items] == ["ProviderRecord", "SkippedRow"]
    assert items[1] == SkippedRow(line=2, reason="not_a_provider")
    assert list(iter_plan_net(json.dumps(jane()).encode())) == [
        SkippedRow(line=1, reason="no_role")
    ]
    bundle = {"resourceType": "Bundle", "entry": [5, {"resource": [1]}, {"resource": jane()}]}
    assert list(iter_plan_net(json.dumps(bundle).encode())) == [
        SkippedRow(line=2, reason="no_role")
    ]
    assert list(iter_plan_net(b'{"resourceType": "Bundle"}')) == []


# -- NPPES --------------------------------------------------------------------------------


def test_an_nppes_practitioners_name_is_first_middle_last_and_suffix() -> None:
    """The four name cells in that order, trimmed, a blank one left out."""
    jane = JANE | {
        "Employer Identification Number (EIN)": "316000002",
        "Provider First Name": " JANE ",
        "Provider Name Suffix Text": "JR.",
    }
    (record,) = iter_nppes(nppes_file(jane))
    assert record.name == "JANE Q. DOE JR."  # type: ignore[union-attr]  # a record
    (plain,) = iter_nppes(nppes_file(jane | {"Provider Middle Name": " "}))
    assert plain.name == "JANE DOE JR."  # type: ignore[union-attr]  # a record


def test_an_nppes_file_without_the_optional_name_columns_is_read() -> None:
    """Middle name and suffix are not required columns: without them the name is first and last."""
    columns = [
        c for c in NPPES_COLUMNS if c not in {"Provider Middle Name", "Provider Name Suffix Text"}
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    jane = JANE | {"Employer Identification Number (EIN)": "316000002"}
    writer.writerow([jane.get(column, "") for column in columns])
    (record,) = iter_nppes(out.getvalue().encode().splitlines(keepends=True))
    assert record.name == "JANE DOE"  # type: ignore[union-attr]  # a record


DEACTIVATED = {
    "NPI Deactivation Date": "01/15/2020",
    "NPI Reactivation Date": "03/01/2021",
}  # deactivated, then back: such rows are decided by the full check, not the fast path
EIN = {"Employer Identification Number (EIN)": "316000002"}


def nppes_items(*rows: dict[str, str], **options: object) -> list[object]:
    return list(iter_nppes(nppes_file(*rows), **options))  # type: ignore[arg-type]  # plan, roster


def problems_of(item: object) -> tuple[int, list[tuple[str, str, str]]]:
    assert isinstance(item, RejectedRow), item
    return item.line, [(e.field, e.code, e.message) for e in item.errors]


def test_nppes_skips_say_why_on_their_line() -> None:
    """No Tax ID (none or withheld) and, with a roster, an NPI not in the plan: on their lines."""
    for jane in (JANE, JANE | DEACTIVATED):
        for withheld in ("", "<UNAVAIL>"):
            items = nppes_items(
                CLINIC_ROW, jane | {"Employer Identification Number (EIN)": withheld}
            )
            assert items[1] == SkippedRow(line=3, reason="no_tax_id")
    roster = enrich_by_npi(
        [
            ProviderRecord(
                provider_id="P1",
                tax_id="311234567",
                name="Jane",
                zip_codes="45402",
                npi=JANE["NPI"],
            )
        ]
    )
    for clinic in (CLINIC_ROW, CLINIC_ROW | DEACTIVATED):
        items = nppes_items(JANE, clinic, roster=roster)
        assert items[1] == SkippedRow(line=3, reason="not_in_plan")


def test_nppes_rejections_in_words_on_their_line() -> None:
    """A wrong entity type, an empty name (under the column it belongs to), a bad EIN."""
    items = nppes_items(
        JANE | EIN,
        JANE | EIN | {"Entity Type Code": "3"},
        JANE
        | EIN
        | {
            "Provider Last Name (Legal Name)": "",
            "Provider First Name": "",
            "Provider Middle Name": "",
        },
        CLINIC_ROW | {"Provider Organization Name (Legal Business Name)": " "},
        CLINIC_ROW | {"Employer Identification Number (EIN)": "31-70"},
    )
    assert isinstance(items[0], ProviderRecord)
    assert items[0].payee is Payee.INDIVIDUAL
    assert problems_of(items[1]) == (
        3,
        [
            (
                "Entity Type Code",
                "invalid_choice",
                "Entity Type Code must be 1 (individual) or 2 (organization).",
            )
        ],
    )
    assert problems_of(items[2]) == (
        4,
        [("Provider Last Name (Legal Name)", "required", "The name is empty.")],
    )
    assert problems_of(items[3]) == (
        5,
        [("Provider Organization Name (Legal Business Name)", "required", "The name is empty.")],
    )
    line, found = problems_of(items[4])
    assert (line, [(field, code) for field, code, _ in found]) == (
        6,
        [("Employer Identification Number (EIN)", "invalid_format")],
    )


def test_nppes_file_level_refusals_and_row_shapes() -> None:
    """No header; a header not of NPPES (columns named); a BOM; short and blank lines."""
    with pytest.raises(InvalidInput) as caught:
        list(iter_nppes([]))
    assert [(e.field, e.code, e.message) for e in caught.value.errors] == [
        ("header", "required", "The NPPES file has no readable header line.")
    ]
    with pytest.raises(InvalidInput) as caught:
        list(iter_nppes([b'"NPI","Entity Type Code"\n']))
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("header", "invalid_columns")
    assert error.message.startswith(
        "This is not the NPPES layout: no column Employer Identification Number (EIN), "
        "Provider Organization Name (Legal Business Name), "
    )
    _, row = nppes_file(JANE | EIN)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(NPPES_COLUMNS)  # quoted only where needed
    header = "\ufeff" + out.getvalue()
    items = list(iter_nppes([header.encode(), b'"1","2"\n', b'"",""\n', row]))
    assert problems_of(items[0]) == (
        2,
        [
            (
                "row",
                "wrong_column_count",
                f"The line has 2 columns; the header has {len(NPPES_COLUMNS)}.",
            )
        ],
    )
    assert isinstance(items[1], ProviderRecord)
    assert len(items) == 2


PRACTICE_ZIP = "Provider Business Practice Location Address Postal Code"
MAILING_ZIP = "Provider Business Mailing Address Postal Code"
MAILING_COUNTRY = "Provider Business Mailing Address Country Code (If outside U.S.)"
PRACTICE_COUNTRY = "Provider Business Practice Location Address Country Code (If outside U.S.)"
NO_CODE_1 = {
    "Healthcare Provider Taxonomy Code_1": "",
    "Healthcare Provider Primary Taxonomy Switch_1": "",
}


def nppes_lines(columns: list[str], *rows: dict[str, str]) -> list[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue().encode().splitlines(keepends=True)


def only_record(*rows: dict[str, str], **options: object) -> ProviderRecord:
    (record,) = nppes_items(*rows, **options)
    assert isinstance(record, ProviderRecord), record
    return record


def test_the_nppes_columns_name_both_addresses_as_published() -> None:
    """The 330 names, the two address blocks written out in NPPES's words."""
    assert len(NPPES_COLUMNS) == 330
    assert NPPES_COLUMNS[20:28] == (
        "Provider First Line Business Mailing Address",
        "Provider Second Line Business Mailing Address",
        "Provider Business Mailing Address City Name",
        "Provider Business Mailing Address State Name",
        "Provider Business Mailing Address Postal Code",
        "Provider Business Mailing Address Country Code (If outside U.S.)",
        "Provider Business Mailing Address Telephone Number",
        "Provider Business Mailing Address Fax Number",
    )
    assert NPPES_COLUMNS[28] == "Provider First Line Business Practice Location Address"
    assert NPPES_COLUMNS[32] == PRACTICE_ZIP


def test_an_nppes_reactivation_counts_from_the_deactivation_day_on() -> None:
    """Back the same day or later: read; back before, or a deactivation date unreadable: skipped."""
    same_day = {"NPI Deactivation Date": "01/15/2020", "NPI Reactivation Date": "01/15/2020"}
    assert only_record(JANE | EIN | same_day).npi == JANE["NPI"]
    earlier = {"NPI Deactivation Date": "01/15/2020", "NPI Reactivation Date": "01/14/2020"}
    garbled = {"NPI Deactivation Date": "15.01.2020", "NPI Reactivation Date": "01/14/2020"}
    for dates in (earlier, garbled):
        assert nppes_items(JANE | EIN | dates) == [SkippedRow(line=2, reason="deactivated")]


def test_nppes_zip_codes_are_those_of_us_addresses() -> None:
    """A country code US or blank keeps the ZIP; any other country leaves it out."""
    for country in ("US", "us", " ", " US "):
        record = only_record(JANE | EIN | {MAILING_COUNTRY: country, PRACTICE_COUNTRY: country})
        assert record.zip_codes == ("43215", "45402")
    abroad = only_record(JANE | EIN | {MAILING_COUNTRY: "CA"})
    assert abroad.zip_codes == ("43215",)


def test_nppes_zip_problems_are_named_by_their_column() -> None:
    """No U.S. ZIP at all is one error; a bad ZIP is reported under its column, nothing added."""
    no_zip = {PRACTICE_ZIP: "", MAILING_ZIP: ""}
    assert problems_of(nppes_items(JANE | EIN | no_zip)[0]) == (
        2,
        [(PRACTICE_ZIP, "required", "A U.S. ZIP code is required.")],
    )
    line, found = problems_of(nppes_items(JANE | EIN | {PRACTICE_ZIP: "4321"})[0])
    assert (line, [field for field, _, _ in found]) == (2, [PRACTICE_ZIP])


def test_a_bad_npi_or_zip_of_a_plans_provider_is_rejected_on_its_line() -> None:
    """The NPI's check digit first; with a roster, a bad ZIP is rejected, not enriched."""
    line, found = problems_of(nppes_items(JANE | EIN, JANE | EIN | {"NPI": "1234567890"})[1])
    assert (line, [field for field, _, _ in found]) == (3, ["NPI"])
    mine = ProviderRecord(
        provider_id="P1", tax_id="311234567", name="Jane", zip_codes="45402", npi=JANE["NPI"]
    )
    items = nppes_items(CLINIC_ROW, JANE | {MAILING_ZIP: "4540"}, roster=enrich_by_npi([mine]))
    line, found = problems_of(items[1])
    assert (line, [field for field, _, _ in found]) == (3, [MAILING_ZIP])


def test_enrichment_keeps_a_plans_own_category() -> None:
    """NPPES's category only replaces ``other``: a plan's radiology stays radiology."""
    mine = ProviderRecord(
        provider_id="P1",
        tax_id="311234567",
        name="Jane",
        zip_codes="45402",
        npi=JANE["NPI"],
        category=ProviderCategory.RADIOLOGY,
    )
    record = only_record(JANE, roster=enrich_by_npi([mine]))
    assert record.category == ProviderCategory.RADIOLOGY
    assert record.zip_codes == ("45402", "43215")


def test_nppes_taxonomy_codes_primary_first_in_any_slot() -> None:
    """No code is ``other``; a lower-case ``y`` marks the primary; slot 15 is read."""
    assert only_record(JANE | EIN | NO_CODE_1).category == ProviderCategory.OTHER
    lower = {
        "Healthcare Provider Primary Taxonomy Switch_2": "y",
        "Healthcare Provider Primary Taxonomy Switch_1": "N",
    }
    assert only_record(CLINIC_ROW | lower).category == ProviderCategory.RADIOLOGY
    last = {"Healthcare Provider Taxonomy Code_15": "2085R0202X"}
    assert only_record(JANE | EIN | NO_CODE_1 | last).category == ProviderCategory.RADIOLOGY
    # a licence number is not a taxonomy code, whatever it looks like
    licence = {"Provider License Number_1": "2085R0202X"}
    assert only_record(JANE | EIN | licence).category == ProviderCategory.PRIMARY_CARE
    code_2 = {
        "Provider License Number_1": "2085R0202X",
        "Healthcare Provider Taxonomy Code_2": "207Q00000X",
    }
    assert only_record(JANE | EIN | NO_CODE_1 | code_2).category == ProviderCategory.PRIMARY_CARE


def test_nppes_taxonomy_columns_found_wherever_the_header_puts_them() -> None:
    """A header with only slots 1 and 15 (the others are optional) reads slot 15."""
    unused = {f"Healthcare Provider Taxonomy Code_{slot}" for slot in range(2, 15)}
    columns = [column for column in NPPES_COLUMNS if column not in unused]
    last = {"Healthcare Provider Taxonomy Code_15": "2085R0202X"}
    (record,) = iter_nppes(nppes_lines(columns, JANE | EIN | NO_CODE_1 | last))
    assert isinstance(record, ProviderRecord)
    assert record.category == ProviderCategory.RADIOLOGY


def test_nppes_lines_that_are_not_text_or_not_csv() -> None:
    """Text instead of bytes is refused; a line not UTF-8 or not CSV is rejected on its line."""
    with pytest.raises(InvalidInput) as caught:
        list(iter_nppes(["NPI"]))  # type: ignore[list-item]  # text, the mistake tested
    assert [(e.field, e.code, e.message) for e in caught.value.errors] == [
        ("roster", "wrong_type", 'The NPPES file is read as bytes: open it "rb".')
    ]
    header, row = nppes_file(JANE | EIN)
    items = list(iter_nppes([header, b'"\xff"\n', b"a\rb\n", b"X\r\n", row]))
    assert problems_of(items[0]) == (2, [("row", "invalid_encoding", "The line is not UTF-8.")])
    assert problems_of(items[1]) == (3, [("row", "malformed", "The line is not valid CSV.")])
    assert problems_of(items[2]) == (
        4,
        [("row", "wrong_column_count", "The line has 1 columns; the header has 330.")],
    )
    assert isinstance(items[3], ProviderRecord)
    for first in (b"\xff\n", b"\n"):
        with pytest.raises(InvalidInput) as caught:
            list(iter_nppes([first, row]))
        assert [(e.field, e.code, e.message) for e in caught.value.errors] == [
            ("header", "required", "The NPPES file has no readable header line.")
        ]


def test_nppes_cells_with_quotes_read_as_csv_reads_them() -> None:
    """A doubled quote inside a cell is one quote; a first cell left unquoted keeps its quote."""
    (record,) = iter_nppes(
        nppes_file(CLINIC_ROW | {"Provider Organization Name (Legal Business Name)": 'JOE"S LAB'})
    )
    assert isinstance(record, ProviderRecord)
    assert record.name == 'JOE"S LAB'
    header, row = nppes_file(JANE | EIN)
    (rejected,) = iter_nppes([header, row[1:]])  # 1234567893","1",... : the NPI is 1234567893"
    line, found = problems_of(rejected)
    assert (line, [(field, code) for field, code, _ in found]) == (2, [("NPI", "invalid_format")])
