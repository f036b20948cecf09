"""A plan's configuration: the words of each refusal and the edges of the taxonomy codes.

Written for mutation testing of plan.py: each refusal's sentence is written
out, so a garbled one is noticed, and the 10-character limit of a taxonomy
code is tried on both sides.
"""

from __future__ import annotations

from typing import Any

import pytest

from provider_identity import ConfigurationError, InvalidInput, LineOfBusiness, ProviderCategory
from provider_identity.plan import (
    SEED_LINES_OF_BUSINESS,
    SEED_PLAN,
    Plan,
    PlanLine,
    PlanLines,
    TaxonomyMap,
)

RADIOLOGY = ProviderCategory("radiology")
HOSPITAL = ProviderCategory("hospital")


def refusal(build: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        build(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_plan_line_needs_a_display_name_and_a_help_line(blank: Any) -> None:
    """Each refusal names the field: display_name, then help_line."""
    assert refusal(PlanLine, code="X1", display_name=blank, help_line="1") == (
        "display_name must be non-blank text."
    )
    assert refusal(PlanLine, code="X1", display_name="X", help_line=blank) == (
        "help_line must be non-blank text."
    )


def test_a_line_code_given_as_text_becomes_a_line() -> None:
    """PlanLine(code="...") holds a LineOfBusiness equal to one built from the code."""
    line = PlanLine(code="MedicareAdvantage", display_name="Medicare Advantage", help_line="1")
    assert line.code == LineOfBusiness("MedicareAdvantage")
    assert PlanLine(code=line.code, display_name="M", help_line="1").code is line.code


@pytest.mark.parametrize("lines", [[], ["Medicaid"], [None]])
def test_a_plan_declares_at_least_one_plan_line(lines: list[Any]) -> None:
    """No line, or something that is not a PlanLine, is refused in these words."""
    assert refusal(PlanLines, lines) == "A plan declares at least one PlanLine."


def test_a_line_declared_twice_is_refused_in_words() -> None:
    """The message says the codes ignore case."""
    twice = PlanLine(code="medicaid", display_name="Again", help_line="1")
    assert refusal(SEED_LINES_OF_BUSINESS.extended, twice) == (
        "Each line of business is declared once (codes ignore case)."
    )


@pytest.mark.parametrize(
    "value",
    [
        {"Medicaid": "1-855-202-1058"},
        {LineOfBusiness.MEDICAID: 18552021058},
        [(LineOfBusiness.MEDICAID, "1")],
    ],
)
def test_help_lines_of_the_wrong_shape_say_what_is_expected(value: Any) -> None:
    """A mapping of LineOfBusiness to text, in these words."""
    assert refusal(PlanLines.from_help_lines, value) == (
        "help_lines maps each LineOfBusiness to a phone number."
    )


def test_a_plain_mapping_becomes_lines_named_by_their_codes() -> None:
    """Each entry keeps its line, its number, and its code as the display name."""
    lines = PlanLines.from_help_lines(
        {LineOfBusiness.MEDICAID: "1-800-1", LineOfBusiness("Dual"): "1-800-2"}
    )
    assert [(line.code.value, line.display_name, line.help_line) for line in lines.lines] == [
        ("Medicaid", "Medicaid", "1-800-1"),
        ("Dual", "Dual", "1-800-2"),
    ]
    assert list(lines) == [LineOfBusiness.MEDICAID, LineOfBusiness("Dual")]
    assert PlanLines.from_help_lines(lines) is lines


def test_display_names_of_declared_and_undeclared_lines() -> None:
    """A declared line is named as declared; another by its code."""
    plan = SEED_LINES_OF_BUSINESS.extended(
        PlanLine(code="MedicareAdvantage", display_name="Medicare Advantage", help_line="1")
    )
    assert plan.display_name(LineOfBusiness("MedicareAdvantage")) == "Medicare Advantage"
    assert plan.display_name(LineOfBusiness("Dual")) == "Dual"


def test_parse_refusal_names_the_field_and_every_choice() -> None:
    """The field (lines_of_business unless told) and the declared codes, in order."""
    with pytest.raises(InvalidInput) as caught:
        SEED_LINES_OF_BUSINESS.parse("Medicare")
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "lines_of_business",
        "invalid_choice",
        "lines_of_business must be one of Medicaid, Marketplace.",
    )
    with pytest.raises(InvalidInput) as caught:
        SEED_LINES_OF_BUSINESS.parse("Medicare", field="line")
    assert caught.value.errors[0].message == "line must be one of Medicaid, Marketplace."


def test_a_plan_category_refusal_lists_the_categories_alphabetically() -> None:
    """The field (category unless told), the code, and every category the plan knows."""
    with pytest.raises(InvalidInput) as caught:
        SEED_PLAN.category("dentist")
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("category", "invalid_choice")
    assert error.message == (
        "category must be one of anesthesiology, behavioral_health, emergency_urgent_care, "
        "hospital, hospitalist, laboratory, other, other_facility, pathology, primary_care, "
        "radiology, skilled_nursing_facility, specialist."
    )
    with pytest.raises(InvalidInput) as caught:
        SEED_PLAN.category("dentist", field="kind")
    assert caught.value.errors[0].message.startswith("kind must be one of anesthesiology, ")


def test_a_plan_category_is_found_ignoring_case_and_space() -> None:
    """A cell in another case, with spaces around it, names the category."""
    assert SEED_PLAN.category(" Radiology ") == RADIOLOGY


@pytest.mark.parametrize("values", [["radiology"], [RADIOLOGY, None]])
def test_categories_hold_categories_only(values: list[Any]) -> None:
    """Text or None among the categories is refused in these words."""
    assert refusal(Plan, categories=values) == "categories holds ProviderCategory values only."
    assert refusal(Plan, group_categories=values) == (
        "categories holds ProviderCategory values only."
    )


def test_group_eligible_when_any_category_may_register_as_a_group() -> None:
    """One eligible category among several is enough; none is not."""
    plan = Plan(group_categories=frozenset({HOSPITAL}))
    assert plan.group_eligible({HOSPITAL, RADIOLOGY}) is True
    assert plan.group_eligible({RADIOLOGY}) is False


def test_a_taxonomy_code_has_at_most_10_characters() -> None:
    """10 letters and digits are a code; 11 are refused, named in the message."""
    assert TaxonomyMap({"208M00000X": HOSPITAL}).category_of("208m00000x") == HOSPITAL
    assert refusal(TaxonomyMap, {"208M00000XY": HOSPITAL}) == (
        "'208M00000XY' is not a NUCC taxonomy code or code prefix."
    )


@pytest.mark.parametrize("code", ["", "20-8", "208 M", "２０８"])
def test_a_taxonomy_key_is_ascii_letters_and_digits(code: str) -> None:
    """Empty, punctuated, spaced or full-width keys are refused, quoted in the message."""
    assert refusal(TaxonomyMap, {code: HOSPITAL}) == (
        f"{code!r} is not a NUCC taxonomy code or code prefix."
    )


def test_a_taxonomy_keys_category_must_be_a_category() -> None:
    """A category given as text is refused, naming the key."""
    assert refusal(TaxonomyMap, {"2085": "radiology"}) == (
        "The category of 2085 is not a ProviderCategory."
    )


def test_lower_case_keys_and_codes_meet_in_upper_case() -> None:
    """A key given in lower case matches a code in any case; both are upper-cased."""
    taxonomy = TaxonomyMap({" 2085r ": RADIOLOGY})
    assert taxonomy.prefixes == {"2085R": RADIOLOGY}
    assert taxonomy.category_of("2085r0202x") == RADIOLOGY
    assert taxonomy.category_of("2085R0202X") == RADIOLOGY


def test_a_code_as_long_as_a_key_matches_it_and_a_shorter_one_does_not() -> None:
    """A 4-character key matches the 4-character code; a 3-character code is other."""
    taxonomy = TaxonomyMap({"2085": RADIOLOGY})
    assert taxonomy.category_of("2085") == RADIOLOGY
    assert taxonomy.category_of("208") == ProviderCategory.OTHER


def test_the_first_known_code_decides_and_unknown_ones_are_skipped() -> None:
    """Unknown codes are passed over; with none known the category is other."""
    taxonomy = TaxonomyMap({"2085": RADIOLOGY, "282N": HOSPITAL})
    assert taxonomy.category(["999", "282N00000X", "2085R0202X"]) == HOSPITAL
    assert taxonomy.category(["999"]) == ProviderCategory.OTHER


@pytest.mark.parametrize("text", ["label\nx\n", "code,label\n2085,x\n", "category\nradiology\n"])
def test_a_taxonomy_csv_needs_code_and_category_columns(text: str) -> None:
    """A file without either column, or with short rows, is refused in these words."""
    assert refusal(TaxonomyMap.from_csv, text) == (
        "A taxonomy map needs code and category columns."
    )


def test_a_taxonomy_csv_reads_codes_and_trimmed_categories() -> None:
    """Other columns are ignored; a category cell is trimmed."""
    taxonomy = TaxonomyMap.from_csv("code,category,label\n2085, radiology ,Radiology\n")
    assert taxonomy.prefixes == {"2085": RADIOLOGY}
