"""``import_records(overlap=True)``: a batch is written in the background while the next is read."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider_identity import FieldError, ProviderRecord, StoreUnavailable
from provider_identity.roster import RejectedRow, import_records
from provider_identity.testing import MemoryProviderDirectory
from provider_identity.testing.strategies import provider_records

#: Long enough for a broken overlap to show as a failure, never waited out when it works.
WAIT = 10
BAD_ROW = FieldError(field="row", code="malformed", message="The line is not valid CSV.")


class Recording:
    """A destination that keeps every batch, the thread it ran on, and how many ran at once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[int] = set()
        self.busy = self.most_busy = 0
        self.fail_at = fail_at
        self._lock = threading.Lock()

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        with self._lock:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            batch = [record.provider_id for record in records]
            self.batches.append(batch)
            self.threads.add(threading.get_ident())
            if self.fail_at == len(self.batches):
                raise StoreUnavailable()
            return len(batch)
        finally:
            with self._lock:
                self.busy -= 1


def numbered(count: int) -> list[ProviderRecord]:
    return [
        ProviderRecord(provider_id=f"P{n}", tax_id="311234567", name=f"Provider {n}",
                       zip_codes=("45402",))
        for n in range(count)
    ]  # fmt: skip


@given(
    items=st.lists(
        st.one_of(provider_records(), st.builds(RejectedRow, line=st.integers(2, 99),
                                                errors=st.just((BAD_ROW,)))),
        max_size=30,
    ),
    batch_size=st.integers(1, 7),
)  # fmt: skip
def test_overlapped_and_plain_imports_store_and_report_alike(
    items: list[ProviderRecord | RejectedRow], batch_size: int
) -> None:
    """The same records in the same order, the same report, whichever way the batches go."""
    plain, overlapped = MemoryProviderDirectory(), MemoryProviderDirectory()
    expected = import_records(items, plain, batch_size=batch_size)
    got = import_records(items, overlapped, batch_size=batch_size, overlap=True)
    assert got == expected
    assert len(overlapped) == len(plain)
    for item in items:
        if isinstance(item, ProviderRecord):
            found = overlapped.by_provider_id(item.provider_id)
            assert found == plain.by_provider_id(item.provider_id)


def test_batches_are_written_off_the_reading_thread_one_at_a_time_while_reading_goes_on() -> None:
    """Batch 1's write waits until the reader has read into batch 2: only an overlap lets it."""
    read_into_second = threading.Event()
    destination = Recording()
    first_write_saw_reading = []

    def upsert(records: Iterable[ProviderRecord]) -> int:
        if not destination.batches:
            first_write_saw_reading.append(read_into_second.wait(WAIT))
        return Recording.upsert(destination, records)

    def reader() -> Iterator[ProviderRecord]:
        for n, record in enumerate(numbered(9)):
            if n == 4:
                read_into_second.set()
            yield record

    destination.upsert = upsert  # type: ignore[method-assign]
    report = import_records(reader(), destination, batch_size=3, overlap=True)
    assert first_write_saw_reading == [True]
    assert report.loaded == 9
    assert destination.batches == [["P0", "P1", "P2"], ["P3", "P4", "P5"], ["P6", "P7", "P8"]]
    assert destination.most_busy == 1
    assert threading.get_ident() not in destination.threads


def test_without_overlap_every_batch_is_written_on_the_callers_thread() -> None:
    """The default stays as it was: writes on the caller's thread, before reading goes on."""
    destination = Recording()
    import_records(numbered(5), destination, batch_size=2)
    assert destination.threads == {threading.get_ident()}


def test_a_failed_background_write_is_raised_and_no_later_batch_is_written() -> None:
    """Batch 2 fails: import_records raises it; batch 3 was read but never sent."""
    destination = Recording(fail_at=2)
    with pytest.raises(StoreUnavailable):
        import_records(numbered(12), destination, batch_size=3, overlap=True)
    assert destination.batches == [["P0", "P1", "P2"], ["P3", "P4", "P5"]]


def test_a_reader_failure_waits_for_the_write_in_flight() -> None:
    """The reader fails mid-file: the batch already sent finishes before the error comes out."""
    destination = Recording()

    def reader() -> Iterator[ProviderRecord]:
        yield from numbered(3)
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        import_records(reader(), destination, batch_size=3, overlap=True)
    assert destination.batches == [["P0", "P1", "P2"]]
    assert destination.busy == 0


def test_a_reader_failure_waits_for_a_write_still_running_when_it_fails() -> None:
    """The write goes on after the reader failed: import_records still waits for its end."""
    destination = Recording()
    failing = threading.Event()
    finished = []

    def upsert(records: Iterable[ProviderRecord]) -> int:
        stored = Recording.upsert(destination, records)
        failing.wait(WAIT)  # the reader is failing now
        finished.append(threading.current_thread().name)
        return stored

    def reader() -> Iterator[ProviderRecord]:
        yield from numbered(3)
        yield numbered(4)[3]  # batch 1 is in flight once the reader is here
        failing.set()
        raise OSError("disk")

    destination.upsert = upsert  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk"):
        import_records(reader(), destination, batch_size=3, overlap=True)
    assert len(finished) == 1


def test_every_batch_is_written_by_one_thread_named_for_the_import() -> None:
    """One worker thread, ``import-roster_0``, writes every batch: never two at once."""
    names = []
    destination = Recording()

    def upsert(records: Iterable[ProviderRecord]) -> int:
        names.append(threading.current_thread().name)
        return Recording.upsert(destination, records)

    destination.upsert = upsert  # type: ignore[method-assign]
    assert import_records(numbered(40), destination, batch_size=1, overlap=True).loaded == 40
    assert set(names) == {"import-roster_0"}


class TwoStep(Recording):
    """A destination that sends a batch in one step and stores it in another (as SQL does)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_on: set[int] = set()
        self.stored: list[list[str]] = []

    def prepare_upsert(self, records: Iterable[ProviderRecord]) -> Callable[[], int]:
        self.sent_on.add(threading.get_ident())
        batch = [record.provider_id for record in records]

        def store() -> int:
            self.threads.add(threading.get_ident())
            self.stored.append(batch)
            return len(batch)

        return store


def test_a_two_step_destination_sends_on_the_reading_thread_and_stores_in_the_background() -> None:
    """Sending is the reading thread's; only storing (the server's waiting) goes to the thread."""
    destination = TwoStep()
    report = import_records(numbered(7), destination, batch_size=3, overlap=True)
    assert report.loaded == 7
    assert destination.stored == [["P0", "P1", "P2"], ["P3", "P4", "P5"], ["P6"]]
    assert destination.sent_on == {threading.get_ident()}
    assert destination.threads
    assert threading.get_ident() not in destination.threads
    assert destination.batches == []  # upsert itself is not called


def test_without_overlap_a_two_step_destination_is_upserted_as_any_other() -> None:
    """Two steps are only worth it beside a reader: without overlap, plain upsert."""
    destination = TwoStep()
    import_records(numbered(4), destination, batch_size=3)
    assert destination.batches == [["P0", "P1", "P2"], ["P3"]]
    assert destination.sent_on == set()
