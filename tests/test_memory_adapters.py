"""The in-memory adapters keep the ports' contracts, including atomicity under threads."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from provider_identity import (
    Account,
    AccountNotFound,
    AccountStatus,
    AlreadyRegistered,
    ConcurrentUpdate,
    InvalidInput,
    ProviderRecord,
    ProviderType,
    UsernameUnavailable,
)
from provider_identity.ports import LockoutState
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def account(n: int, **changes: object) -> Account:
    fields: dict[str, object] = {
        "id": f"id-{n}",
        "username": f"user{n}",
        "username_key": f"user{n}",
        "email": f"user{n}@example.org",
        "email_key": f"user{n}@example.org",
        "status": AccountStatus.PENDING,
        "provider_type": ProviderType.PRACTITIONER,
        "provider_id": f"P{n}",
        "password_hash": "hash",
        "security_question": "q",
        "security_answer_hash": "answer-hash",
        "agreement_version": "1",
        "agreement_accepted_at": NOW,
        "created_at": NOW,
    }
    fields.update(changes)
    return Account(**fields)  # type: ignore[arg-type]


def test_add_rejects_a_taken_username_email_or_provider() -> None:
    """Each of the three unique keys is enforced, and says which one clashed."""
    repo = MemoryAccountRepository()
    repo.add(account(1))
    with pytest.raises(AlreadyRegistered):
        repo.add(account(2, provider_id="P1"))
    with pytest.raises(UsernameUnavailable) as taken:
        repo.add(account(2, username_key="user1"))
    assert taken.value.field == "username"
    with pytest.raises(UsernameUnavailable) as taken:
        repo.add(account(2, email_key="user1@example.org"))
    assert taken.value.field == "email"
    assert len(repo) == 1


def test_usernames_and_emails_share_one_key_space() -> None:
    """A username may not equal another account's email, nor the reverse."""
    repo = MemoryAccountRepository()
    repo.add(account(1))
    with pytest.raises(UsernameUnavailable):
        repo.add(account(2, username_key="user1@example.org"))
    assert repo.key_taken("user1@example.org")
    assert repo.find_by_username("user1@example.org") is None


def test_parallel_adds_of_one_username_store_exactly_one() -> None:
    """8 threads racing to add the same username: exactly one wins."""
    repo = MemoryAccountRepository()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def add(n: int) -> None:
        barrier.wait()
        try:
            repo.add(account(n, username_key="same"))
            outcomes.append("added")
        except UsernameUnavailable:
            outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["refused"] * 7
    assert len(repo) == 1


def test_replace_is_compare_and_set_on_credential_version() -> None:
    """A write based on a stale credential version is refused."""
    repo = MemoryAccountRepository()
    repo.add(account(1))
    repo.replace(account(1, credential_version=1), expected_version=0)
    with pytest.raises(ConcurrentUpdate):
        repo.replace(account(1, credential_version=1), expected_version=0)
    with pytest.raises(AccountNotFound):
        repo.replace(account(9), expected_version=0)
    stored = repo.get("id-1")
    assert stored is not None
    assert stored.credential_version == 1


def test_replace_cannot_change_identifiers() -> None:
    """Usernames, emails and providers of an account are fixed once stored."""
    repo = MemoryAccountRepository()
    repo.add(account(1))
    with pytest.raises(ConcurrentUpdate):
        repo.replace(account(1, username_key="other"), expected_version=0)


def test_directory_reindexes_a_replaced_record() -> None:
    """Replacing a record moves it between Tax IDs and NPIs."""
    first = ProviderRecord(
        provider_id="P1", npi="1234567893", tax_id="111111111", name="A", zip_codes=["45402"]
    )
    directory = MemoryProviderDirectory([first])
    directory.upsert([attrs.evolve(first, tax_id="222222222", npi=None)])
    assert directory.by_tax_id("111111111") == ()
    assert [r.provider_id for r in directory.by_tax_id("222222222")] == ["P1"]
    assert directory.by_npi("1234567893") is None
    assert len(directory) == 1


def test_directory_refuses_what_is_not_a_record() -> None:
    """Only ProviderRecord objects go in."""
    with pytest.raises(InvalidInput):
        MemoryProviderDirectory().upsert([{"provider_id": "P1"}])  # type: ignore[arg-type]


def test_lockout_store_locks_at_the_limit_and_never_extends() -> None:
    """The lock is set when the count reaches the limit and is not moved by later failures."""
    store = MemoryLockoutStore()
    day = timedelta(hours=24)
    states = [
        store.record_failure("k", now=NOW + timedelta(minutes=i), max_failures=3, lock_for=day)
        for i in range(5)
    ]
    assert [s.failures for s in states] == [1, 2, 3, 4, 5]
    assert [s.locked_until for s in states[:2]] == [None, None]
    assert {s.locked_until for s in states[2:]} == {NOW + timedelta(minutes=2) + day}


def test_lockout_store_forgets_an_ended_lock() -> None:
    """At the lock's end the next failure starts a fresh count."""
    store = MemoryLockoutStore()
    day = timedelta(hours=24)
    store.record_failure("k", now=NOW, max_failures=1, lock_for=day)
    state = store.record_failure("k", now=NOW + day, max_failures=2, lock_for=day)
    assert (state.failures, state.locked_until) == (1, None)
    store.clear("k")
    assert store.get("k") is None


def test_lockout_store_purges_expired_states_as_it_goes() -> None:
    """1,000 failure runs end after a minute; later failures drop them all, without purge()."""
    store = MemoryLockoutStore()
    minute = timedelta(minutes=1)
    for n in range(1000):
        store.record_failure(f"old{n}", now=NOW, max_failures=5, lock_for=minute)
    later = NOW + 2 * minute
    for n in range(2000):
        store.record_failure(f"new{n}", now=later, max_failures=5, lock_for=minute)
    assert len(store) == 2000
    assert store.get("old0") is None
    assert store.get("new1999") == LockoutState(1, None, later + minute)


def test_lockout_store_keeps_states_whose_second_has_not_passed() -> None:
    """A state expiring in the current second stays for as-it-goes purging; purge() drops it."""
    store = MemoryLockoutStore()
    store.record_failure("a", now=NOW, max_failures=5, lock_for=timedelta(seconds=10))
    end = NOW + timedelta(seconds=10, microseconds=500)
    store.record_failure("b", now=end, max_failures=5, lock_for=timedelta(seconds=10))
    assert store.get("a") is not None
    assert store.purge(end) == 1
    assert store.get("a") is None
    assert store.get("b") is not None


def test_lockout_store_gives_the_garbage_collector_nothing_per_key() -> None:
    """10,000 keys add almost no objects the collector walks (so no pauses at a million)."""
    store = MemoryLockoutStore()
    store.record_failure("warm-up", now=NOW, max_failures=5, lock_for=timedelta(hours=24))
    gc.collect()
    before = len(gc.get_objects())
    for n in range(10_000):
        store.record_failure(f"k{n}", now=NOW, max_failures=5, lock_for=timedelta(hours=24))
    gc.collect()
    assert len(gc.get_objects()) - before < 100


def test_lockout_store_states_lists_every_stored_state() -> None:
    """states() holds each key's state as get() gives it, and nothing for a cleared key."""
    store = MemoryLockoutStore()
    day = timedelta(hours=24)
    for key in ("a", "b", "a", "c"):
        store.record_failure(key, now=NOW, max_failures=5, lock_for=day)
    store.clear("c")
    assert store.states() == {
        "a": LockoutState(2, None, NOW + day),
        "b": LockoutState(1, None, NOW + day),
    }
