"""In-memory adapters: thread-safe, for tests, examples and single-process tools.

Each store takes one lock per operation, so check-and-update steps are atomic
across threads, as the ports require.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, timedelta

import attrs

from provider_identity.accounts import Account, AccountStatus
from provider_identity.clock import ensure_utc
from provider_identity.errors import (
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    InvalidInput,
    UsernameUnavailable,
)
from provider_identity.events import AuditEvent, EventFilter, stored_form
from provider_identity.mfa.records import FactorRecord
from provider_identity.ports import LockoutState
from provider_identity.providers import ProviderRecord, ProviderSearch, page_of

__all__ = [
    "MemoryAccountRepository",
    "MemoryEventLog",
    "MemoryFactorStore",
    "MemoryLockoutStore",
    "MemoryProviderDirectory",
]


class MemoryProviderDirectory:
    """Provider records in dictionaries keyed by Provider ID, NPI and Tax ID.

    Several records may share an NPI or a Tax ID; ``by_npi`` then returns the
    one with the lowest Provider ID, as the SQL directory does.
    """

    def __init__(self, records: Iterable[ProviderRecord] = ()) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, ProviderRecord] = {}
        self._by_npi: dict[str, dict[str, ProviderRecord]] = {}
        self._by_tax_id: dict[str, dict[str, ProviderRecord]] = {}
        self.upsert(records)

    def __len__(self) -> int:
        return len(self._by_id)

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        """Insert or replace records atomically; return how many distinct records.

        All or nothing: if one item is not a ``ProviderRecord``, none is
        stored. A Provider ID given twice is stored as given last.

        Raises:
            InvalidInput: an item is not a ProviderRecord (code ``wrong_type``).
        """
        batch: dict[str, ProviderRecord] = {}
        for record in records:
            if not isinstance(record, ProviderRecord):
                raise InvalidInput.single("record", "wrong_type", "Not a ProviderRecord.")
            batch[record.provider_id] = record
        with self._lock:
            for record in batch.values():
                self._put(record)
        return len(batch)

    def _put(self, record: ProviderRecord) -> None:
        old = self._by_id.get(record.provider_id)
        if old is not None:
            _unindex(self._by_tax_id, old.tax_id, old.provider_id)
            if old.npi is not None:
                _unindex(self._by_npi, old.npi, old.provider_id)
        self._by_id[record.provider_id] = record
        self._by_tax_id.setdefault(record.tax_id, {})[record.provider_id] = record
        if record.npi is not None:
            self._by_npi.setdefault(record.npi, {})[record.provider_id] = record

    def end_missing(self, keep: AbstractSet[str], *, on: date) -> tuple[str, ...]:
        """End (``end_date = on``) every open record whose Provider ID is not in ``keep``."""
        with self._lock:
            missing = sorted(
                provider_id
                for provider_id, record in self._by_id.items()
                if record.end_date is None and provider_id not in keep
            )
            for provider_id in missing:
                self._put(attrs.evolve(self._by_id[provider_id], end_date=on))
        return tuple(missing)

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        """The record with this Provider ID, if any."""
        return self._by_id.get(provider_id)

    def by_npi(self, npi: str) -> ProviderRecord | None:
        """The record with this NPI (the lowest Provider ID if several), if any."""
        with self._lock:
            records = self._by_npi.get(npi)
            return records[min(records)] if records else None

    def by_tax_id(self, tax_id: str) -> Sequence[ProviderRecord]:
        """Every record under this Tax ID, ordered by Provider ID."""
        with self._lock:
            records = self._by_tax_id.get(tax_id, {})
            return tuple(records[key] for key in sorted(records))

    def page_by_tax_id(
        self, tax_id: str, *, after: str | None, limit: int, search: ProviderSearch | None
    ) -> Sequence[ProviderRecord]:
        """Up to ``limit`` matching records under this Tax ID after ``after``, by Provider ID."""
        return tuple(page_of(self.by_tax_id(tax_id), after=after, limit=limit, search=search))


def _unindex(index: dict[str, dict[str, ProviderRecord]], key: str, provider_id: str) -> None:
    records = index[key]
    del records[provider_id]
    if not records:
        del index[key]


class MemoryAccountRepository:
    """Accounts in a dictionary; usernames and emails share one key space."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}
        self._keys: dict[str, str] = {}
        self._by_provider: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(tuple(self._accounts.values()))

    def add(self, account: Account) -> None:
        """Store a new account, refusing any clash atomically."""
        with self._lock:
            if account.provider_id in self._by_provider:
                raise AlreadyRegistered
            for field, key in (("username", account.username_key), ("email", account.email_key)):
                if key in self._keys:
                    raise UsernameUnavailable(field)
            if account.username_key == account.email_key or account.id in self._accounts:
                raise UsernameUnavailable("username")
            self._accounts[account.id] = account
            self._keys[account.username_key] = account.id
            self._keys[account.email_key] = account.id
            self._by_provider[account.provider_id] = account.id

    def get(self, account_id: str) -> Account | None:
        """The account with this id, if any."""
        return self._accounts.get(account_id)

    def find_by_username(self, username_key: str) -> Account | None:
        """The account whose canonical username is ``username_key``, if any."""
        account = self._accounts.get(self._keys.get(username_key, ""))
        return account if account is not None and account.username_key == username_key else None

    def find_by_provider_id(self, provider_id: str) -> Account | None:
        """The account registered for this provider, if any."""
        return self._accounts.get(self._by_provider.get(provider_id, ""))

    def find_by_email(self, email_key: str) -> Account | None:
        """The account whose canonical email is ``email_key``, if any."""
        account = self._accounts.get(self._keys.get(email_key, ""))
        return account if account is not None and account.email_key == email_key else None

    def key_taken(self, key: str) -> bool:
        """True if ``key`` is some account's canonical username or email."""
        return key in self._keys

    def replace(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account if its credential version is still ``expected_version``."""
        with self._lock:
            stored = self._stored(account, expected_version)
            if (stored.username_key, stored.email_key, stored.provider_id) != (
                account.username_key,
                account.email_key,
                account.provider_id,
            ):
                raise ConcurrentUpdate.identifiers_changed()
            self._accounts[account.id] = account

    def change_email(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account, its email key moved to ``account.email_key``, atomically.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored version differs, or the username or provider would change.
            UsernameUnavailable: the new email key is some account's username or email.
        """
        with self._lock:
            stored = self._stored(account, expected_version)
            if (stored.username_key, stored.provider_id) != (
                account.username_key,
                account.provider_id,
            ):
                raise ConcurrentUpdate.identifiers_changed()
            if account.email_key != stored.email_key:
                if account.email_key in self._keys:
                    raise UsernameUnavailable("email")
                del self._keys[stored.email_key]
                self._keys[account.email_key] = account.id
            self._accounts[account.id] = account

    def remove(self, account_id: str, *, expected_version: int) -> None:
        """Forget the account and free its keys, if its version is still ``expected_version``."""
        with self._lock:
            stored = self._accounts.get(account_id)
            if stored is None:
                raise AccountNotFound
            if stored.credential_version != expected_version:
                raise ConcurrentUpdate
            del self._accounts[account_id]
            del self._keys[stored.username_key], self._keys[stored.email_key]
            del self._by_provider[stored.provider_id]

    def find_by_status(self, status: AccountStatus) -> Sequence[Account]:
        """Every account in ``status``, ordered by id."""
        with self._lock:
            found = [account for account in self._accounts.values() if account.status is status]
        return tuple(sorted(found, key=lambda account: account.id))

    def _stored(self, account: Account, expected_version: int) -> Account:
        stored = self._accounts.get(account.id)
        if stored is None:
            raise AccountNotFound
        if stored.credential_version != expected_version:
            raise ConcurrentUpdate
        return stored


_NO_FAILURES = LockoutState(failures=0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND_US = 1_000_000
_FIELD = 64  # bits of each of a state's three numbers, packed in one int
_MASK = (1 << _FIELD) - 1
_OFFSET = 1 << 60  # years 1 to 9999 in microseconds from 1970, made positive
_NONE = 0  # a moment not set, as stored
#: Expired states dropped, at most, by each ``record_failure`` (one state is
#: added at most, so the store keeps up while each step stays short).
PURGE_STEP = 8
#: Dictionaries a MemoryLockoutStore spreads its keys over.
SHARDS = 64


def _micros(moment: datetime | None) -> int:
    return _NONE if moment is None else (moment - _EPOCH) // _MICROSECOND + _OFFSET


def _moment(micros: int) -> datetime | None:
    return None if micros == _NONE else _EPOCH + (micros - _OFFSET) * _MICROSECOND


def _pack(state: LockoutState) -> int:
    expires_at, locked_until = _micros(state.expires_at), _micros(state.locked_until)
    return (expires_at << _FIELD | locked_until) << _FIELD | state.failures


def _expiry(packed: int) -> int:
    return packed >> (2 * _FIELD)


class MemoryLockoutStore:
    """Failure counters in dictionaries, each update under one lock; expired ones purged as it goes.

    Each state is kept as one integer, and the index of expiry times as
    dictionaries of strings, so the garbage collector has nothing of them to
    walk: a million keys cost no collection pause. The keys are spread over
    :data:`SHARDS` dictionaries, so that none grows big enough for its
    resizing to stall a call. States are filed by the second of their expiry;
    each :meth:`record_failure` drops up to :data:`PURGE_STEP` states of its
    shard whose second has passed, so the store holds about the keys of the
    last lock duration, without any :meth:`purge`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards = tuple(_Shard() for _ in range(SHARDS))

    def _shard(self, key: str) -> _Shard:
        return self._shards[hash(key) % SHARDS]

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`)."""
        with self._lock:
            return self._shard(key).record_failure(
                key, now=now, max_failures=max_failures, lock_for=lock_for
            )

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (an expired one until it is purged)."""
        with self._lock:
            return self._shard(key).state(key)

    def purge(self, now: datetime) -> int:
        """Forget every expired state now; return how many (the store also purges as it goes)."""
        with self._lock:
            return sum(shard.purge(now) for shard in self._shards)

    def clear(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._shard(key).clear(key)

    def states(self) -> dict[str, LockoutState]:
        """Every stored state by key, expired ones included until purged (a copy, for tests)."""
        with self._lock:
            return {
                key: shard.state(key) or _NO_FAILURES for shard in self._shards for key in shard
            }

    def __len__(self) -> int:
        return sum(len(shard) for shard in self._shards)


class _Shard:
    """One part of a :class:`MemoryLockoutStore`: its keys, their states and expiry index."""

    def __init__(self) -> None:
        # key -> expires_at, locked_until, failures packed (see _pack): a dict of
        # str and int is not tracked by the garbage collector, a tuple would be
        self._states: dict[str, int] = {}
        # second of expiry -> the keys expiring in it; the seconds, as a heap
        self._expiring: dict[int, dict[str, None]] = {}
        self._seconds: list[int] = []

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        state = self.state(key) or _NO_FAILURES
        state = state.after_failure(now, max_failures=max_failures, lock_for=lock_for)
        self._put(key, state)
        self._drop_expired(_micros(now), PURGE_STEP)
        return state

    def purge(self, now: datetime) -> int:
        now_us = _micros(now)
        dropped = self._drop_expired(now_us, len(self._states))
        for key in list(self._expiring.get(now_us // _SECOND_US, ())):
            if _expiry(self._states[key]) <= now_us:
                self._forget(key)
                dropped += 1
        return dropped

    def clear(self, key: str) -> None:
        if key in self._states:
            self._forget(key)

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def state(self, key: str) -> LockoutState | None:
        stored = self._states.get(key)
        if stored is None:
            return None
        return LockoutState(
            stored & _MASK, _moment(stored >> _FIELD & _MASK), _moment(_expiry(stored))
        )

    def _put(self, key: str, state: LockoutState) -> None:
        if key in self._states:
            self._unfile(key)
        packed = self._states[key] = _pack(state)
        expires_at = _expiry(packed)
        if expires_at != _NONE:
            second = expires_at // _SECOND_US
            keys = self._expiring.get(second)
            if keys is None:
                keys = self._expiring[second] = {}
                heapq.heappush(self._seconds, second)
            keys[key] = None

    def _forget(self, key: str) -> None:
        self._unfile(key)
        del self._states[key]

    def _unfile(self, key: str) -> None:
        expires_at = _expiry(self._states[key])
        if expires_at != _NONE:
            second = expires_at // _SECOND_US
            keys = self._expiring[second]
            del keys[key]
            if not keys:  # its second stays in the heap until it comes round
                del self._expiring[second]

    def _drop_expired(self, now_us: int, budget: int) -> int:
        """Drop up to ``budget`` states whose whole second of expiry is over."""
        dropped = 0
        seconds = self._seconds
        while seconds and (seconds[0] + 1) * _SECOND_US <= now_us and dropped < budget:
            keys = self._expiring.get(seconds[0])
            if not keys:
                self._expiring.pop(heapq.heappop(seconds), None)
                continue
            while keys and dropped < budget:
                key, _ = keys.popitem()
                del self._states[key]
                dropped += 1
        return dropped


class MemoryEventLog:
    """A persisted-trail stand-in: an EventSink and an EventLog in one list.

    Keeps each event in its :func:`~provider_identity.events.stored_form`, as
    ``SqlEventSink`` does, so tests see what the database would hold.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[AuditEvent] = []

    def __len__(self) -> int:
        return len(self._events)

    def emit(self, event: AuditEvent) -> None:
        """Keep ``event`` (in its stored form)."""
        stored = stored_form(event)
        with self._lock:
            self._events.append(stored)

    def query(
        self,
        *,
        account_id: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[AuditEvent]:
        """The matching events, oldest first; with ``limit``, the newest ``limit`` of them."""
        wanted = EventFilter.of(
            account_id=account_id, username=username, since=since, until=until, limit=limit
        )
        with self._lock:
            found = sorted(
                (event for event in self._events if wanted.matches(event)),
                key=lambda event: event.at,
            )
        if wanted.limit is not None:
            found = found[len(found) - wanted.limit :] if wanted.limit else []
        return tuple(found)

    def purge(self, *, before: datetime) -> int:
        """Delete the events older than ``before``; return how many."""
        cutoff = ensure_utc(before)
        with self._lock:
            kept = [event for event in self._events if event.at >= cutoff]
            removed = len(self._events) - len(kept)
            self._events[:] = kept
        return removed


class MemoryFactorStore:
    """Second-factor records in a dictionary; each write a compare-and-set under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, FactorRecord] = {}

    def get(self, account_id: str) -> FactorRecord | None:
        """The account's record, if any."""
        return self._records.get(account_id)

    def put(self, record: FactorRecord, *, expected_revision: int) -> None:
        """Store ``record`` if the stored revision is still ``expected_revision`` (0: none)."""
        if record.revision != expected_revision + 1:
            raise ConcurrentUpdate("A factor record's revision goes up by one per write.")
        with self._lock:
            stored = self._records.get(record.account_id)
            if (0 if stored is None else stored.revision) != expected_revision:
                raise ConcurrentUpdate
            self._records[record.account_id] = record
