"""A Group's providers a page at a time, searched by Provider ID, NPI or name."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provider_identity import (
    AccountNotFound,
    IdentityService,
    InvalidInput,
    ProviderRecord,
    ProviderSearch,
)
from provider_identity.testing import MemoryProviderDirectory, sample_records
from tests.helpers import group, practitioner

GROUP_TAX_ID = "317654321"


def staff(count: int) -> list[ProviderRecord]:
    """``count`` more providers under the sample group's Tax ID."""
    return [
        ProviderRecord(
            provider_id=f"S{n:05d}",
            tax_id=GROUP_TAX_ID,
            name=f"Staff {n}",
            zip_codes="45440",
            npi="1234567893" if n == 7 else None,
        )
        for n in range(count)
    ]


class LookupsOnly:
    """A directory with only the three lookups of the ProviderDirectory port."""

    def __init__(self, records: Sequence[ProviderRecord]) -> None:
        self._inner = MemoryProviderDirectory(records)

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        return self._inner.by_provider_id(provider_id)

    def by_npi(self, npi: str) -> ProviderRecord | None:
        return self._inner.by_npi(npi)

    def by_tax_id(self, tax_id: str) -> Sequence[ProviderRecord]:
        return tuple(reversed(self._inner.by_tax_id(tax_id)))  # in no particular order


@pytest.fixture(params=["searchable", "lookups only"])
def grouped(
    request: pytest.FixtureRequest, make_service: Callable[..., IdentityService]
) -> tuple[IdentityService, str]:
    """A service whose group account sees the sample group and 120 staff records."""
    records = [*sample_records(), *staff(120)]
    directory = (
        MemoryProviderDirectory(records) if request.param == "searchable" else LookupsOnly(records)
    )
    service = make_service(directory=directory)
    return service, service.register(group()).account.id


def test_pages_list_every_accessible_provider_once_in_order(
    grouped: tuple[IdentityService, str],
) -> None:
    """Pages of 50 give the same records as accessible_providers: 123, then no next page."""
    service, account_id = grouped
    pages = [service.accessible_providers_page(account_id)]
    while pages[-1].next_after is not None:
        pages.append(service.accessible_providers_page(account_id, after=pages[-1].next_after))
    assert [len(page.records) for page in pages] == [50, 50, 23]
    listed = [record for page in pages for record in page.records]
    every = sorted(service.accessible_providers(account_id), key=lambda r: r.provider_id)
    assert listed == every
    assert listed[0].provider_id == "G2000001"


def test_a_page_exactly_full_at_the_end_says_there_is_no_next(
    grouped: tuple[IdentityService, str],
) -> None:
    """123 records in pages of 41: three full pages, the last with next_after None."""
    service, account_id = grouped
    first = service.accessible_providers_page(account_id, size=41)
    second = service.accessible_providers_page(account_id, size=41, after=first.next_after)
    third = service.accessible_providers_page(account_id, size=41, after=second.next_after)
    assert [len(page.records) for page in (first, second, third)] == [41, 41, 41]
    assert third.next_after is None


def test_search_by_name_provider_id_and_npi(grouped: tuple[IdentityService, str]) -> None:
    """'staff 11' finds 11 and 110-119; 's0000' the first ten staff; an NPI start its record."""
    service, account_id = grouped
    by_name = service.accessible_providers_page(account_id, search="  STAFF 11")
    assert [r.provider_id for r in by_name.records] == [
        "S00011",
        *(f"S{n:05d}" for n in range(110, 120)),
    ]
    by_id = service.accessible_providers_page(account_id, search="s0000", size=5)
    assert [r.provider_id for r in by_id.records] == [f"S{n:05d}" for n in range(5)]
    assert by_id.next_after == "S00004"
    by_npi = service.accessible_providers_page(account_id, search="123456")
    assert [r.provider_id for r in by_npi.records] == ["S00007"]


def test_a_practitioner_page_holds_its_own_record_if_it_matches(
    make_service: Callable[..., IdentityService],
) -> None:
    """A Practitioner sees itself on the one page, and nothing for a search it does not match."""
    service = make_service()
    account_id = service.register(practitioner()).account.id
    page = service.accessible_providers_page(account_id)
    assert [r.provider_id for r in page.records] == ["P1000001"]
    assert page.next_after is None
    assert service.accessible_providers_page(account_id, search="nobody").records == ()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 501}, "size"),
        ({"size": "50"}, "size"),
        ({"size": True}, "size"),
        ({"after": "not an id!"}, "after"),
        ({"after": 7}, "after"),
        ({"search": "a\x00b"}, "search"),
        ({"search": "x" * 201}, "search"),
        ({"search": 12}, "search"),
    ],
)
def test_bad_paging_arguments_are_refused_by_field(
    grouped: tuple[IdentityService, str], changes: dict[str, object], field: str
) -> None:
    """A size outside 1..500, an after that is no Provider ID, a bad search: InvalidInput."""
    service, account_id = grouped
    with pytest.raises(InvalidInput) as caught:
        service.accessible_providers_page(account_id, **changes)  # type: ignore[arg-type]
    assert [error.field for error in caught.value.errors] == [field]


def test_an_unknown_account_has_no_page(grouped: tuple[IdentityService, str]) -> None:
    """As accessible_providers: AccountNotFound."""
    service, _ = grouped
    with pytest.raises(AccountNotFound):
        service.accessible_providers_page("no-such-account")


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=8), ids=st.lists(st.integers(0, 40), max_size=25, unique=True))
def test_a_search_matches_exactly_what_its_definition_says(text: str, ids: list[int]) -> None:
    """Against a plain restatement: ID or NPI starts with the text, or the folded name holds it."""
    try:
        search = ProviderSearch.parse(text)
    except InvalidInput:
        return
    records = [
        ProviderRecord(provider_id=f"P{n}", tax_id="1" * 9, name=f"Name {n}", zip_codes="45402")
        for n in ids
    ]
    page = MemoryProviderDirectory(records).page_by_tax_id(
        "111111111", after=None, limit=100, search=search
    )
    typed = " ".join(unicodedata.normalize("NFKC", text).split()).casefold()
    prefix = text.strip().upper()
    expected = sorted(
        (r for r in records
         if not typed or r.provider_id.startswith(prefix) or typed in r.name.casefold()),
        key=lambda r: r.provider_id,
    )  # fmt: skip
    assert list(page) == expected
