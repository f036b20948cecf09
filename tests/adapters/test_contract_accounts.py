"""Every AccountRepository adapter keeps uniqueness and compare-and-set alike."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from provider_identity import (
    AccountNotFound,
    AccountStatus,
    AlreadyRegistered,
    ConcurrentUpdate,
    ProviderType,
    UsernameUnavailable,
)
from tests.adapters.builders import NOW, make_account


def test_round_trips_every_field_exactly(account_repo: Any) -> None:
    """An account comes back equal, hashes, history and microseconds included."""
    stored = make_account(
        1,
        status=AccountStatus.ACTIVE,
        provider_type=ProviderType.GROUP,
        password_history=("$argon2id$old-1", "$argon2id$old-2"),
        activated_at=NOW + timedelta(seconds=1, microseconds=7),
        credential_version=3,
    )
    account_repo.add(stored)
    assert account_repo.get("id-1") == stored
    assert account_repo.find_by_username("user1") == stored
    assert account_repo.find_by_provider_id("P1") == stored
    assert account_repo.find_by_email("user1@example.org") == stored
    found = account_repo.get("id-1")
    assert (found.password_hash, found.password_history) == (
        stored.password_hash,
        stored.password_history,
    )
    assert found.activated_at.utcoffset() == timedelta(0)


def test_unknown_ids_find_nothing(account_repo: Any) -> None:
    """Lookups of what nobody registered return None."""
    account_repo.add(make_account(1))
    assert account_repo.get("id-2") is None
    assert account_repo.find_by_username("user2") is None
    assert account_repo.find_by_provider_id("P2") is None
    assert account_repo.find_by_email("user2@example.org") is None
    assert not account_repo.key_taken("user2")


def test_find_by_email_finds_only_by_the_email_key(account_repo: Any) -> None:
    """An account's username key is no email key: find_by_email and find_by_username stay apart."""
    account_repo.add(make_account(1))
    assert account_repo.find_by_email("user1") is None
    assert account_repo.find_by_username("user1@example.org") is None
    assert account_repo.find_by_email("user1@example.org").id == "id-1"


def test_add_rejects_a_taken_username_email_or_provider(account_repo: Any) -> None:
    """Each unique key is enforced, and the error says which one clashed."""
    account_repo.add(make_account(1))
    with pytest.raises(AlreadyRegistered):
        account_repo.add(make_account(2, provider_id="P1"))
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(2, username_key="user1"))
    assert taken.value.field == "username"
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(2, email_key="user1@example.org"))
    assert taken.value.field == "email"
    assert account_repo.get("id-2") is None


def test_a_taken_provider_is_reported_before_a_taken_username(account_repo: Any) -> None:
    """When several keys clash, AlreadyRegistered wins, then the username, then the email."""
    account_repo.add(make_account(1))
    with pytest.raises(AlreadyRegistered):
        account_repo.add(make_account(1, id="id-2"))
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(1, id="id-2", provider_id="P2"))
    assert taken.value.field == "username"


def test_usernames_and_emails_share_one_key_space(account_repo: Any) -> None:
    """A username may not equal another account's email, nor an email another's username."""
    account_repo.add(make_account(1))
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(2, username_key="user1@example.org"))
    assert taken.value.field == "username"
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(2, email_key="user1"))
    assert taken.value.field == "email"
    assert account_repo.key_taken("user1@example.org")
    assert account_repo.key_taken("user1")
    assert account_repo.find_by_username("user1@example.org") is None


def test_an_account_whose_username_is_its_own_email_is_refused(account_repo: Any) -> None:
    """One key may not serve as both username and email."""
    with pytest.raises(UsernameUnavailable) as taken:
        account_repo.add(make_account(1, email_key="user1"))
    assert taken.value.field == "username"
    assert account_repo.get("id-1") is None
    assert not account_repo.key_taken("user1")


def test_a_refused_add_leaves_no_trace(account_repo: Any) -> None:
    """The keys of a refused account stay free."""
    account_repo.add(make_account(1))
    with pytest.raises(UsernameUnavailable):
        account_repo.add(make_account(2, email_key="user1@example.org"))
    assert not account_repo.key_taken("user2")
    account_repo.add(make_account(2))
    assert account_repo.find_by_username("user2") is not None


def test_keys_are_compared_exactly(account_repo: Any) -> None:
    """Keys arrive canonical; the store adds no folding or collation of its own."""
    account_repo.add(make_account(1, username_key="\u00e4", email_key="a@example.org"))
    account_repo.add(make_account(2, username_key="a\u0308", email_key="b@example.org"))
    account_repo.add(make_account(3, username_key="A", email_key="c@example.org"))
    assert account_repo.find_by_username("\u00e4").id == "id-1"
    assert account_repo.find_by_username("a\u0308").id == "id-2"
    assert account_repo.find_by_username("a") is None


def test_replace_is_compare_and_set_on_credential_version(account_repo: Any) -> None:
    """A write based on a stale credential version is refused."""
    account_repo.add(make_account(1))
    account_repo.replace(make_account(1, credential_version=1), expected_version=0)
    with pytest.raises(ConcurrentUpdate):
        account_repo.replace(make_account(1, credential_version=2), expected_version=0)
    with pytest.raises(AccountNotFound):
        account_repo.replace(make_account(9), expected_version=0)
    assert account_repo.get("id-1").credential_version == 1


def test_replace_stores_every_changed_field(account_repo: Any) -> None:
    """Status, hashes, history, times and the display names are overwritten."""
    original = make_account(1)
    account_repo.add(original)
    changed = attrs.evolve(
        original,
        username="USER1",
        email="user1@EXAMPLE.org",
        status=AccountStatus.ACTIVE,
        password_hash="$argon2id$new",
        password_history=("$argon2id$hash-1",),
        security_answer_hash="$argon2id$new-answer",
        activated_at=NOW + timedelta(days=1),
        credential_version=1,
    )
    account_repo.replace(changed, expected_version=0)
    assert account_repo.get("id-1") == changed
    assert account_repo.find_by_username("user1") == changed


def test_replace_cannot_change_identifiers(account_repo: Any) -> None:
    """Username key, email key and provider are fixed once stored."""
    account_repo.add(make_account(1))
    for change in ({"username_key": "other"}, {"email_key": "o@x.org"}, {"provider_id": "P9"}):
        with pytest.raises(ConcurrentUpdate):
            account_repo.replace(make_account(1, **change), expected_version=0)
    assert account_repo.get("id-1") == make_account(1)


def test_parallel_adds_of_one_username_store_exactly_one(account_repo: Any) -> None:
    """8 threads racing to add the same username: exactly one wins."""
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def add(n: int) -> None:
        barrier.wait()
        try:
            account_repo.add(make_account(n, username_key="same"))
            outcomes.append("added")
        except UsernameUnavailable:
            outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["refused"] * 7
    winner = account_repo.find_by_username("same")
    assert sum(account_repo.get(f"id-{n}") is not None for n in range(8)) == 1
    assert account_repo.key_taken(winner.email_key)
