"""A plan's own lines of business and categories, and the NUCC taxonomy map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider_identity import (
    GROUP_ELIGIBLE_CATEGORIES,
    ConfigurationError,
    IdentityService,
    InvalidInput,
    LineOfBusiness,
    NotEligibleForGroup,
    Plan,
    PlanLine,
    PlanLines,
    ProviderCategory,
    ProviderNotFound,
    ProviderRecord,
    TaxonomyMap,
)
from provider_identity.adapters.memory import MemoryProviderDirectory
from provider_identity.plan import SEED_LINES_OF_BUSINESS
from provider_identity.roster import read_roster
from tests.helpers import group, practitioner

MEDICARE = PlanLine(
    code="MedicareAdvantage", display_name="Medicare Advantage", help_line="1-844-607-2827"
)
THREE_LINES = SEED_LINES_OF_BUSINESS.extended(MEDICARE)

line_codes = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", fullmatch=True)


def test_the_seed_lines_are_medicaid_and_marketplace_with_their_help_lines() -> None:
    """The default plan is the seed's: two lines, the seed's numbers and names."""
    assert dict(SEED_LINES_OF_BUSINESS) == {
        LineOfBusiness("Medicaid"): "1-855-202-1058",
        LineOfBusiness("Marketplace"): "1-833-230-2030",
    }
    assert list(LineOfBusiness) == [LineOfBusiness("Medicaid"), LineOfBusiness("Marketplace")]


def test_a_third_line_routes_provider_not_found_to_its_own_help_line(
    make_service: Callable[..., IdentityService],
) -> None:
    """A plan with Medicare Advantage: an unknown provider of that line hears its number only."""
    service = make_service(help_lines=THREE_LINES)
    line = LineOfBusiness("MedicareAdvantage")
    with pytest.raises(ProviderNotFound) as err:
        service.register(practitioner(provider_id="P9999999", line_of_business=line))
    assert err.value.help_lines == (("Medicare Advantage", "1-844-607-2827"),)
    assert "1-844-607-2827 (Medicare Advantage)" in err.value.message


def test_without_a_line_every_help_line_of_the_plan_is_given(
    make_service: Callable[..., IdentityService],
) -> None:
    """No line given: the three lines' numbers, in the plan's order, by display name."""
    service = make_service(help_lines=THREE_LINES)
    with pytest.raises(ProviderNotFound) as err:
        service.register(practitioner(provider_id="P9999999"))
    assert [name for name, _ in err.value.help_lines] == [
        "Medicaid",
        "Marketplace",
        "Medicare Advantage",
    ]


def test_a_plain_mapping_of_help_lines_still_works(
    make_service: Callable[..., IdentityService],
) -> None:
    """help_lines={line: number} (as before) names each line by its code."""
    service = make_service(help_lines={LineOfBusiness("Dual"): "1-800-555-0100"})
    with pytest.raises(ProviderNotFound) as err:
        service.register(practitioner(provider_id="P9999999"))
    assert err.value.help_lines == (("Dual", "1-800-555-0100"),)


@pytest.mark.parametrize(
    "value",
    [{"Medicaid": "1-855-202-1058"}, {LineOfBusiness.MEDICAID: 18552021058}, "Medicaid"],
)
def test_help_lines_of_the_wrong_shape_are_a_configuration_error(
    make_service: Callable[..., IdentityService], value: Any
) -> None:
    """Keys must be LineOfBusiness and numbers text."""
    with pytest.raises(ConfigurationError):
        make_service(help_lines=value)


@pytest.mark.parametrize("code", ["", "Medicare Advantage", "a,b", "x" * 41, "é"])
def test_a_line_code_is_a_short_token(code: str) -> None:
    """Codes have no spaces or separators: rosters split cells on them."""
    with pytest.raises(ConfigurationError):
        LineOfBusiness(code)


def test_a_line_is_declared_once_ignoring_case() -> None:
    """Two lines whose codes differ only in case are refused."""
    with pytest.raises(ConfigurationError):
        SEED_LINES_OF_BUSINESS.extended(
            PlanLine(code="MEDICAID", display_name="Again", help_line="1")
        )


@given(st.lists(line_codes, min_size=1, max_size=6, unique_by=str.casefold))
def test_parse_finds_each_declared_line_whatever_its_case(codes: list[str]) -> None:
    """Every declared code parses back to its line, upper-cased or padded."""
    lines = PlanLines([PlanLine(code=c, display_name=c, help_line="1") for c in codes])
    for code in codes:
        assert lines.parse(f" {code.upper()} ") == LineOfBusiness(code)
        assert lines.parse(code.lower()) == LineOfBusiness(code)


def test_parse_refuses_a_line_the_plan_does_not_have() -> None:
    """A roster cell naming another plan's line is an invalid choice."""
    with pytest.raises(InvalidInput) as err:
        SEED_LINES_OF_BUSINESS.parse("MedicareAdvantage")
    assert err.value.errors[0].code == "invalid_choice"


def test_a_roster_with_a_third_line_loads_under_a_plan_that_has_it() -> None:
    """The plan decides which lines a roster may name; the seed's refuses the third."""
    data = (
        b"provider_id,tax_id,name,zip_codes,lines_of_business\n"
        b"P1,311234567,Ann,45402,MedicareAdvantage;medicaid\n"
    )
    plan = Plan(lines=THREE_LINES)
    [record] = read_roster(data, plan=plan).records
    assert record.lines_of_business == {
        LineOfBusiness("MedicareAdvantage"),
        LineOfBusiness.MEDICAID,
    }
    [rejected] = read_roster(data).rejected
    assert [(e.field, e.code) for e in rejected.errors] == [("lines_of_business", "invalid_choice")]


def test_a_row_without_lines_gets_the_plans_default_line() -> None:
    """An empty lines_of_business cell means the plan's first line (Medicaid for the seed)."""
    data = b"provider_id,tax_id,name,zip_codes\nP1,311234567,Ann,45402\n"
    assert read_roster(data).records[0].lines_of_business == {LineOfBusiness.MEDICAID}
    plan = Plan(lines=PlanLines([MEDICARE]))
    assert read_roster(data, plan=plan).records[0].lines_of_business == {
        LineOfBusiness("MedicareAdvantage")
    }


def test_a_plan_category_can_be_group_eligible(
    make_service: Callable[..., IdentityService], directory: MemoryProviderDirectory
) -> None:
    """A plan that adds dialysis to the group-eligible set lets a dialysis group register."""
    dialysis = ProviderCategory("dialysis")
    directory.upsert(
        [
            ProviderRecord(
                provider_id="G7000001",
                tax_id="317000001",
                name="Lakeshore Dialysis",
                zip_codes=["45402"],
                category=dialysis,
            )
        ]
    )
    request = group(provider_id="G7000001", tax_id="31-7000001", name="Lakeshore Dialysis",
                    zip_code="45402", username="dialysis-admin", email="d@example.org")  # fmt: skip
    with pytest.raises(NotEligibleForGroup):
        make_service().register(request)
    service = make_service(group_categories=GROUP_ELIGIBLE_CATEGORIES | {dialysis})
    assert service.register(request).account.username == "dialysis-admin"


def test_a_roster_names_only_the_plans_categories() -> None:
    """'dialysis' is refused by the seed's plan and read by a plan that declares it."""
    data = b"provider_id,tax_id,name,zip_codes,category\nG1,311234567,Clinic,45402,Dialysis\n"
    assert read_roster(data).rejected[0].errors[0].code == "invalid_choice"
    plan = Plan(categories={*ProviderCategory, ProviderCategory("dialysis")})
    assert read_roster(data, plan=plan).records[0].category == ProviderCategory("dialysis")


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("2085R0202X", "radiology"),  # Diagnostic Radiology
        ("207L00000X", "anesthesiology"),
        ("367500000X", "anesthesiology"),  # CRNA
        ("207ZP0102X", "pathology"),
        ("208M00000X", "hospitalist"),
        ("207P00000X", "emergency_urgent_care"),
        ("261QU0200X", "emergency_urgent_care"),  # urgent care clinic
        ("291U00000X", "laboratory"),
        ("282N00000X", "hospital"),  # general acute care hospital
        ("314000000X", "skilled_nursing_facility"),
        ("261QM1300X", "other_facility"),  # multi-specialty clinic
        ("207Q00000X", "primary_care"),
        ("207RC0000X", "specialist"),  # cardiovascular disease
        ("103T00000X", "behavioral_health"),
        ("122300000X", "other"),  # dentist: unknown to the map
    ],
)
def test_the_shipped_taxonomy_map(code: str, category: str) -> None:
    """NUCC codes land in the seed's categories; unknown codes are practitioner-only 'other'."""
    assert TaxonomyMap.shipped().category_of(code) == ProviderCategory(category)


def test_the_primary_taxonomy_decides_when_it_is_known() -> None:
    """Codes are tried in order (primary first): the first known one decides."""
    taxonomy = TaxonomyMap.shipped()
    assert taxonomy.category(["122300000X", "2085R0202X"]) == ProviderCategory.RADIOLOGY
    assert taxonomy.category(["207Q00000X", "2085R0202X"]) == ProviderCategory.PRIMARY_CARE
    assert taxonomy.category([]) == ProviderCategory.OTHER


def test_a_plan_extends_the_taxonomy_map_and_its_codes_win() -> None:
    """A plan's own prefix overrides the shipped entry for that code only."""
    taxonomy = TaxonomyMap.shipped().extended({"261QD0000X": ProviderCategory("dialysis")})
    assert taxonomy.category_of("261QD0000X") == ProviderCategory("dialysis")
    assert taxonomy.category_of("261QU0200X") == ProviderCategory.EMERGENCY_URGENT_CARE


def test_every_shipped_category_is_one_of_the_seeds() -> None:
    """The data file names only categories the seed defines."""
    assert set(TaxonomyMap.shipped().prefixes.values()) <= set(ProviderCategory)


@given(st.from_regex(r"[0-9A-Z]{10}", fullmatch=True))
def test_the_longest_matching_prefix_decides(code: str) -> None:
    """A category comes from the longest key that starts the code, if any."""
    taxonomy = TaxonomyMap.shipped()
    keys = [key for key in taxonomy.prefixes if code.startswith(key)]
    expected = taxonomy.prefixes[max(keys, key=len)] if keys else ProviderCategory.OTHER
    assert taxonomy.category_of(code) == expected


def test_stored_records_keep_their_lines_and_plan_categories_on_sqlite(tmp_path: Any) -> None:
    """The SQL directory stores codes as text: seed and plan values read back equal."""
    from provider_identity.adapters.sql import SqlProviderDirectory, create_schema, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    create_schema(engine)
    directory = SqlProviderDirectory(engine)
    record = ProviderRecord(
        provider_id="G7000001",
        tax_id="317000001",
        name="Lakeshore Dialysis",
        zip_codes=["45402"],
        category=ProviderCategory("dialysis"),
        lines_of_business={LineOfBusiness("MedicareAdvantage"), LineOfBusiness.MEDICAID},
    )
    directory.upsert([record])
    assert directory.by_provider_id("G7000001") == record
    engine.dispose()


def test_the_not_eligible_message_names_a_plans_own_category() -> None:
    """A plan's category in the group set is listed in the refusal, after the seed's."""
    from provider_identity.registration import _not_eligible_message

    message = _not_eligible_message(
        frozenset({ProviderCategory.RADIOLOGY, ProviderCategory("dialysis")})
    )
    assert message == (
        "Group registration is available for radiologists and dialysis providers. "
        "Please register as a Practitioner."
    )
