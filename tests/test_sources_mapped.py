"""Mapped rosters: the plan's own columns, errors under its column names, dirt fixed by option."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider_identity import (
    ConfigurationError,
    InvalidInput,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
)
from provider_identity.roster import RejectedRow
from provider_identity.sources import iter_mapped_roster, load_mapping
from provider_identity.sources.mapping import Fixes, clean, clean_zip, mapping_from_dict

MAPPING_TOML = """
[columns]
provider_id = "Prov Nbr"
tax_id = ["TIN", "SSN"]
name = ["First", "Last"]
zip_codes = ["Practice ZIP", "Billing ZIP"]
npi = "NPI"
category = "Spec"
payee = "Pay To"
lines_of_business = ["LOB 1", "LOB 2"]

[payee]
group = ["G", "GRP"]
individual = ["I"]

[values.category]
RAD = "radiology"
FP = "primary_care"

[values.lines_of_business]
MCD = "Medicaid"
MA = "MedicareAdvantage"

[[lines_of_business]]
code = "Medicaid"
display_name = "Medicaid"
help_line = "1-855-202-1058"

[[lines_of_business]]
code = "MedicareAdvantage"
display_name = "Medicare Advantage"
help_line = "1-844-607-2827"
"""
HEADER = "Prov Nbr,TIN,SSN,First,Last,Practice ZIP,Billing ZIP,NPI,Spec,Pay To,LOB 1,LOB 2,Notes\n"
GOOD = "p1000001,31-1234567,,Jane Q.,Doe,45402,,1234567893,FP,I,MCD,MA,call first\n"


def read(rows: str, **fixes: bool) -> list[object]:
    """The items of a roster of ``rows`` under the test mapping, with ``fixes`` on."""
    data = tomllib.loads(MAPPING_TOML) | {"fixes": fixes}
    mapping = mapping_from_dict(data)
    return list(iter_mapped_roster((HEADER + rows).encode().splitlines(keepends=True), mapping))


def records(items: list[object]) -> list[ProviderRecord]:
    """The records among ``items``."""
    return [item for item in items if isinstance(item, ProviderRecord)]


def errors(items: list[object]) -> list[tuple[str, str]]:
    """``(column, code)`` of every error of the rejected rows."""
    return [(e.field, e.code) for i in items if isinstance(i, RejectedRow) for e in i.errors]


def test_a_good_row_becomes_a_record_through_the_plans_columns() -> None:
    """Every field comes from the plan's column; values are translated; extra columns ignored."""
    [record] = records(read(GOOD))
    assert record.provider_id == "P1000001"
    assert record.tax_id == "311234567"
    assert record.name == "Jane Q. Doe"
    assert record.category == ProviderCategory.PRIMARY_CARE
    assert record.payee is Payee.INDIVIDUAL
    assert record.lines_of_business == {
        LineOfBusiness.MEDICAID,
        LineOfBusiness("MedicareAdvantage"),
    }


def test_several_zip_columns_combine_and_the_first_tax_id_wins() -> None:
    """Both ZIP columns count; the SSN column is used only when TIN is empty."""
    [record] = records(read("G1,,317654321,,Lakeshore Radiology,45440,45402,,RAD,GRP,MCD,,\n"))
    assert record.zip_codes == ("45440", "45402")
    assert record.tax_id == "317654321"
    assert record.payee is Payee.GROUP


def test_every_error_names_the_plans_own_column() -> None:
    """A bad Tax ID, ZIP, NPI, specialty and payee are reported under TIN, Practice ZIP ..."""
    items = read("P2,31-12,,Ann,Lee,4540x,,1234567890,XYZ,Q,MCD,,\n")
    assert errors(items) == [
        ("TIN", "invalid_format"),
        ("Practice ZIP", "invalid_format"),
        ("NPI", "invalid_check_digit"),
        ("Spec", "invalid_choice"),
        ("Pay To", "invalid_choice"),
    ]


def test_a_missing_required_field_names_its_columns() -> None:
    """No Tax ID in either column: one error naming both."""
    assert errors(read("P3,,,Ann,Lee,45402,,,FP,I,,,\n")) == [("TIN / SSN", "required")]


def test_a_zip_that_lost_its_leading_zero_is_reported_then_fixed_by_option() -> None:
    """2101 (Boston's 02101 from a spreadsheet) is refused unless zip_leading_zeros is on."""
    row = "P4,311234567,,Ann,Lee,2101,21011234,,FP,I,,,\n"
    assert errors(read(row)) == [
        ("Practice ZIP", "zip_lost_leading_zero"),
        ("Billing ZIP", "zip_lost_leading_zero"),
    ]
    [record] = records(read(row, zip_leading_zeros=True))
    assert record.zip_codes == ("02101",)


def test_zip_plus_4_without_a_hyphen_is_read_as_is() -> None:
    """454021234 is ZIP+4 without its hyphen: no option needed."""
    [record] = records(read("P5,311234567,,Ann,Lee,454021234,,,FP,I,,,\n"))
    assert record.zip_codes == ("45402",)


def test_unavail_is_reported_then_treated_as_missing_by_option() -> None:
    """<UNAVAIL> in TIN is dirt; with the fix the SSN column supplies the Tax ID."""
    row = "P6,<UNAVAIL>,311234567,Ann,Lee,45402,,,FP,I,,,\n"
    assert errors(read(row)) == [("TIN", "unavailable")]
    [record] = records(read(row, unavailable_as_missing=True))
    assert record.tax_id == "311234567"


def test_excel_prefixes_are_reported_then_stripped_by_option() -> None:
    """="02101" keeps the zero in Excel; the fix reads the value inside."""
    row = 'P7,311234567,,Ann,Lee,"=""02101""",=45402,,FP,I,,,\n'
    assert errors(read(row)) == [
        ("Practice ZIP", "excel_formula"),
        ("Billing ZIP", "excel_formula"),
    ]
    [record] = records(read(row, excel_prefix=True))
    assert record.zip_codes == ("02101", "45402")


def test_a_conflicting_repeat_is_rejected_under_the_provider_id_column() -> None:
    """The second row of a Provider ID with other data is refused, an identical one is silent."""
    other = GOOD.replace("Jane Q.", "Janet")
    items = read(GOOD + GOOD + other)
    assert len(items) == 2
    assert errors(items) == [("Prov Nbr", "conflicting_duplicate")]


def test_a_header_without_a_mapped_column_is_refused_by_name() -> None:
    """The header error says which of the plan's columns is missing."""
    mapping = mapping_from_dict(tomllib.loads(MAPPING_TOML))
    with pytest.raises(InvalidInput) as err:
        list(iter_mapped_roster([b"Prov Nbr,TIN\n"], mapping))
    assert "Billing ZIP" in err.value.errors[0].message


def test_toml_and_json_mapping_files_read_the_same(tmp_path: Path) -> None:
    """The same content as .toml and .json gives equal mappings."""
    toml_file = tmp_path / "plan.toml"
    toml_file.write_text(MAPPING_TOML)
    json_file = tmp_path / "plan.json"
    json_file.write_text(json.dumps(tomllib.loads(MAPPING_TOML)))
    assert load_mapping(toml_file) == load_mapping(json_file)


@pytest.mark.parametrize(
    "data",
    [
        {"colums": {}},
        {"columns": {"zip": "ZIP"}},
        {"columns": {"name": []}},
        {"fixes": {"zip_zeros": True}},
        {"lines_of_business": [{"code": "Medicaid"}]},
        {"networks": {"Organization/x": "Medicare"}},
    ],
)
def test_a_wrong_mapping_is_a_configuration_error(data: dict[str, object]) -> None:
    """Unknown keys, unknown fields, empty columns, bad fixes, half lines, unknown lines."""
    with pytest.raises(ConfigurationError):
        mapping_from_dict(data)


def test_a_mapping_file_that_is_not_toml_is_a_configuration_error(tmp_path: Path) -> None:
    """Invalid TOML is refused with the file's name."""
    path = tmp_path / "plan.toml"
    path.write_text("[columns\n")
    with pytest.raises(ConfigurationError, match=r"plan\.toml"):
        load_mapping(path)


@given(st.from_regex(r"0[1-9][0-9]{3}|00[1-9][0-9]{2}", fullmatch=True))
def test_restoring_leading_zeros_undoes_a_number_format(zip_code: str) -> None:
    """A 5-digit ZIP with leading zeros, read as a number, pads back to itself."""
    assert clean_zip(str(int(zip_code)), "ZIP", Fixes(zip_leading_zeros=True)) == zip_code


@given(st.text(alphabet="0123456789-", min_size=5, max_size=10))
def test_clean_without_fixes_changes_only_surrounding_space(text: str) -> None:
    """With every fix off, an ordinary cell comes back stripped and nothing else."""
    assert clean(f"  {text} ", "ZIP", Fixes()) == text


DOCS = Path(__file__).resolve().parent.parent / "docs" / "sources"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def toml_blocks(page: str) -> list[str]:
    """The ```toml blocks of a docs page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [block.split("\n```", 1)[0] for block in text.split("```toml\n")[1:]]


def test_the_mapping_shown_in_the_docs_is_the_example_file_and_loads() -> None:
    """docs/sources/mapped.md shows examples/plan-mapping.toml as it is, and it is valid."""
    [shown] = toml_blocks("mapped.md")
    assert shown.strip() == (EXAMPLES / "plan-mapping.toml").read_text(encoding="utf-8").strip()
    mapping = load_mapping(EXAMPLES / "plan-mapping.toml")
    assert mapping.columns["zip_codes"] == ("Service ZIP", "Mail ZIP")


def test_the_networks_table_of_the_plan_net_page_is_a_valid_mapping() -> None:
    """docs/sources/plan-net.md's [networks] example maps both networks to seed lines."""
    [shown] = toml_blocks("plan-net.md")
    mapping = mapping_from_dict(tomllib.loads(shown))
    assert set(mapping.networks.values()) == {LineOfBusiness.MARKETPLACE, LineOfBusiness.MEDICAID}
