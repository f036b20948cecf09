"""Every ProviderDirectory adapter finds, orders and replaces records alike."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from provider_identity import (
    InvalidInput,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderSearch,
)
from provider_identity.testing import sample_records


def record(provider_id: str, **changes: Any) -> ProviderRecord:
    fields: dict[str, Any] = {
        "provider_id": provider_id,
        "tax_id": "31-1234567",
        "name": "Jane Q. Doe",
        "zip_codes": ("45402",),
    }
    fields.update(changes)
    return ProviderRecord(**fields)


def test_finds_each_record_by_provider_id(directory_store: Any) -> None:
    """Every stored record comes back equal, field for field."""
    directory_store.upsert(sample_records())
    for expected in sample_records():
        assert directory_store.by_provider_id(expected.provider_id) == expected


def test_finds_a_record_by_npi(directory_store: Any) -> None:
    """The NPI lookup returns the record that carries it."""
    directory_store.upsert(sample_records())
    found = directory_store.by_npi("1234567893")
    assert found is not None
    assert found.provider_id == "P1000001"


def test_lists_every_record_under_a_tax_id_ordered_by_provider_id(directory_store: Any) -> None:
    """A Group's Tax ID lists all its providers, sorted by Provider ID."""
    directory_store.upsert(reversed(sample_records()))
    found = directory_store.by_tax_id("317654321")
    assert [r.provider_id for r in found] == ["G2000001", "P2000002", "P2000003"]
    assert tuple(found) == tuple(r for r in sample_records() if r.tax_id == "317654321")


def test_provider_ids_order_by_code_point_whatever_the_collation(directory_store: Any) -> None:
    """A hyphen sorts before digits, as in Python, even where PostgreSQL's collation ignores it."""
    ids = ["P2", "P10", "P1", "P-2"]
    directory_store.upsert(record(provider_id, npi="1234567893") for provider_id in ids)
    assert [r.provider_id for r in directory_store.by_tax_id("311234567")] == sorted(ids)
    found = directory_store.by_npi("1234567893")
    assert found is not None
    assert found.provider_id == "P-2"


def test_unknown_identifiers_find_nothing(directory_store: Any) -> None:
    """Lookups of identifiers nobody has return None or nothing."""
    directory_store.upsert(sample_records())
    assert directory_store.by_provider_id("P9999999") is None
    assert directory_store.by_npi("1234567893"[:-1] + "0") is None
    assert tuple(directory_store.by_tax_id("999999999")) == ()


def test_round_trips_every_field_exactly(directory_store: Any) -> None:
    """ZIP order, lines of business (none, one, both), NPI, payee, category and name survive."""
    records = [
        record(
            "A1",
            zip_codes=("45409-1234", "43215", "45402"),
            npi="1234567893",
            name="Ｊöｓé\u00a0Ñúñez  Jr.",
            category=ProviderCategory.SKILLED_NURSING_FACILITY,
            payee=Payee.GROUP,
            lines_of_business=frozenset(LineOfBusiness),
        ),
        record("A2", lines_of_business=frozenset()),
        record("A3", lines_of_business=frozenset({LineOfBusiness.MARKETPLACE})),
    ]
    directory_store.upsert(records)
    for expected in records:
        found = directory_store.by_provider_id(expected.provider_id)
        assert found == expected
        assert found.zip_codes == expected.zip_codes
        assert found.name_key == expected.name_key


def test_replacing_a_record_moves_it_between_tax_ids_and_npis(directory_store: Any) -> None:
    """A record stored again under the same Provider ID replaces the old one everywhere."""
    first = record("P1", npi="1234567893", tax_id="111111111", zip_codes=("45402", "45403"))
    directory_store.upsert([first])
    directory_store.upsert(
        [attrs.evolve(first, tax_id="222222222", npi=None, zip_codes=("43215",))]
    )
    assert tuple(directory_store.by_tax_id("111111111")) == ()
    assert [r.provider_id for r in directory_store.by_tax_id("222222222")] == ["P1"]
    assert directory_store.by_npi("1234567893") is None
    replaced = directory_store.by_provider_id("P1")
    assert replaced is not None
    assert replaced.zip_codes == ("43215",)


def test_tax_id_lookup_is_live(directory_store: Any) -> None:
    """A provider added under a Tax ID later is listed at the next lookup."""
    directory_store.upsert([record("P1")])
    assert len(directory_store.by_tax_id("311234567")) == 1
    directory_store.upsert([record("P2")])
    assert [r.provider_id for r in directory_store.by_tax_id("311234567")] == ["P1", "P2"]


def test_adding_the_same_records_again_changes_nothing(directory_store: Any) -> None:
    """Loading a roster twice leaves each record once."""
    directory_store.upsert(sample_records())
    directory_store.upsert(sample_records())
    assert len(directory_store.by_tax_id("317654321")) == 3
    for expected in sample_records():
        assert directory_store.by_provider_id(expected.provider_id) == expected


def test_refuses_what_is_not_a_record(directory_store: Any) -> None:
    """Only ProviderRecord objects go in; nothing is stored otherwise."""
    with pytest.raises(InvalidInput):
        directory_store.upsert([{"provider_id": "P1"}])
    assert directory_store.by_provider_id("P1") is None


def test_upsert_counts_distinct_records_and_the_last_one_wins(directory_store: Any) -> None:
    """Three records, two of them one Provider ID: 2 is returned and the later one is kept."""
    renamed = record("P1", name="Renamed", tax_id="999999999")
    assert directory_store.upsert([record("P1"), record("P2"), renamed]) == 2
    assert directory_store.by_provider_id("P1") == renamed
    assert [r.provider_id for r in directory_store.by_tax_id("311234567")] == ["P2"]


def test_upsert_of_a_bad_batch_stores_none_of_it(directory_store: Any) -> None:
    """A batch with one item that is not a record leaves the directory as it was."""
    with pytest.raises(InvalidInput):
        directory_store.upsert([record("P1"), {"provider_id": "P2"}, record("P3")])
    assert directory_store.by_tax_id("311234567") == ()


def group_of(count: int) -> list[ProviderRecord]:
    """``count`` records under one Tax ID, given out of order, every third with an NPI."""
    npis = ("1234567893", "1245319599", "1003000126")
    return [
        record(f"P{n:04d}", name=f"Provider Number {n}", npi=npis[n % 3] if n % 3 == 0 else None)
        for n in reversed(range(count))
    ]


def test_pages_walk_a_tax_id_in_provider_id_order(directory_store: Any) -> None:
    """Pages of 7 after one another list all 30 records once, in order, and stop."""
    directory_store.upsert(group_of(30))
    directory_store.upsert([record("Q1", tax_id="222222222")])
    seen: list[str] = []
    after = None
    while True:
        page = directory_store.page_by_tax_id("311234567", after=after, limit=7, search=None)
        seen.extend(r.provider_id for r in page)
        if len(page) < 7:
            break
        after = page[-1].provider_id
    assert seen == [f"P{n:04d}" for n in range(30)]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("p001", ["P0010", "P0011", "P0012", "P0013", "P0014"]),
        ("number 2", ["P0002", "P0020", "P0021", "P0022", "P0023"]),
        ("  NUMBER   7 ", ["P0007"]),
        ("12345", ["P0000", "P0003", "P0006", "P0009", "P0012"]),
        ("%", []),
        ("_", []),
    ],
)
def test_search_finds_by_provider_id_npi_or_name(
    directory_store: Any, typed: str, expected: list[str]
) -> None:
    """A Provider ID start, an NPI start or part of the name finds the records; % and _ are text."""
    directory_store.upsert(group_of(30))
    search = ProviderSearch.parse(typed)
    page = directory_store.page_by_tax_id("311234567", after=None, limit=5, search=search)
    assert [r.provider_id for r in page] == expected


def test_search_after_a_provider_id_continues_the_search(directory_store: Any) -> None:
    """The page after P0012 of the search "number 1" starts at P0013."""
    directory_store.upsert(group_of(30))
    search = ProviderSearch.parse("number 1")
    page = directory_store.page_by_tax_id("311234567", after="P0012", limit=3, search=search)
    assert [r.provider_id for r in page] == ["P0013", "P0014", "P0015"]
    assert page[0] == record("P0013", name="Provider Number 13")
