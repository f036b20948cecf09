"""Every OutboxStore adapter leases, retries and retires entries alike."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from tests.adapters.builders import NOW

LEASE = timedelta(minutes=5)


def test_a_new_entry_is_due_at_once_and_counts_the_attempt(outbox_store: Any) -> None:
    """add then claim gives the bytes back with one attempt."""
    entry_id = outbox_store.add(b"Subject: hi\r\n\r\nbody\r\n", now=NOW)
    [entry] = outbox_store.claim(now=NOW, limit=10, lease=LEASE)
    assert (entry.id, entry.message, entry.created_at, entry.attempts) == (
        entry_id,
        b"Subject: hi\r\n\r\nbody\r\n",
        NOW,
        1,
    )


def test_a_claimed_entry_is_leased_until_the_lease_ends(outbox_store: Any) -> None:
    """Within the lease nobody else gets it; after, it is due again (at least once)."""
    outbox_store.add(b"m", now=NOW)
    outbox_store.claim(now=NOW, limit=10, lease=LEASE)
    assert (
        list(outbox_store.claim(now=NOW + LEASE - timedelta(seconds=1), limit=10, lease=LEASE))
        == []
    )
    [again] = outbox_store.claim(now=NOW + LEASE, limit=10, lease=LEASE)
    assert again.attempts == 2


def test_claims_oldest_first_up_to_the_limit(outbox_store: Any) -> None:
    """Entries come out in the order they were added, ``limit`` at a time."""
    ids = [outbox_store.add(f"m{i}".encode(), now=NOW + timedelta(seconds=i)) for i in range(5)]
    later = NOW + timedelta(minutes=1)
    first = outbox_store.claim(now=later, limit=3, lease=LEASE)
    second = outbox_store.claim(now=later, limit=3, lease=LEASE)
    assert [e.id for e in first] + [e.id for e in second] == ids


def test_a_sent_entry_is_never_claimed_again(outbox_store: Any) -> None:
    """mark_sent retires the entry for good."""
    entry_id = outbox_store.add(b"m", now=NOW)
    outbox_store.claim(now=NOW, limit=10, lease=LEASE)
    outbox_store.mark_sent(entry_id, now=NOW)
    assert list(outbox_store.claim(now=NOW + 10 * LEASE, limit=10, lease=LEASE)) == []
    assert outbox_store.pending() == 0


def test_a_failed_entry_is_retried_at_its_time_or_given_up(outbox_store: Any) -> None:
    """mark_failed with retry_at makes it due then; with None, never."""
    retried = outbox_store.add(b"r", now=NOW)
    given_up = outbox_store.add(b"g", now=NOW)
    outbox_store.claim(now=NOW, limit=10, lease=LEASE)
    outbox_store.mark_failed(
        retried, retry_at=NOW + timedelta(hours=1), error="mail_delivery_failed"
    )
    outbox_store.mark_failed(given_up, retry_at=None, error="mail_delivery_failed")
    assert list(outbox_store.claim(now=NOW + LEASE, limit=10, lease=LEASE)) == []
    [entry] = outbox_store.claim(now=NOW + timedelta(hours=1), limit=10, lease=LEASE)
    assert entry.id == retried
    assert outbox_store.pending() == 2


def test_parallel_dispatchers_never_claim_one_entry_twice(outbox_store: Any) -> None:
    """4 threads claiming 5 at a time from 40 entries: each entry is claimed exactly once."""
    ids = {outbox_store.add(f"m{i}".encode(), now=NOW) for i in range(40)}
    barrier = threading.Barrier(4)
    claimed: list[str] = []

    def dispatch() -> None:
        barrier.wait()
        while batch := outbox_store.claim(now=NOW, limit=5, lease=LEASE):
            claimed.extend(entry.id for entry in batch)

    threads = [threading.Thread(target=dispatch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)
