"""In-memory adapters: thread-safe, for tests, examples and single-process tools.

Each store takes one lock per operation, so check-and-update steps are atomic
across threads, as the ports require.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta

import attrs

from provider_identity.accounts import Account, AccountStatus
from provider_identity.errors import (
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    InvalidInput,
    UsernameUnavailable,
)
from provider_identity.mfa.records import FactorRecord
from provider_identity.ports import LockoutState
from provider_identity.providers import ProviderRecord

__all__ = [
    "MemoryAccountRepository",
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
        self.add_all(records)

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, record: ProviderRecord) -> None:
        """Insert or replace the record with ``record.provider_id``."""
        self.add_all((record,))

    def add_all(self, records: Iterable[ProviderRecord]) -> None:
        """Insert or replace many records: all of them, or none if one is not a record."""
        self.upsert_many(records)

    def upsert_many(self, records: Iterable[ProviderRecord]) -> int:
        """Insert or replace many records atomically; return how many were given."""
        batch = tuple(records)
        if not all(isinstance(record, ProviderRecord) for record in batch):
            raise InvalidInput.single("record", "wrong_type", "Not a ProviderRecord.")
        with self._lock:
            for record in batch:
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


class MemoryLockoutStore:
    """Failure counters in a dictionary, each update under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, LockoutState] = {}

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count a failure atomically (see :class:`~provider_identity.ports.LockoutStore`)."""
        with self._lock:
            state = self._states.get(key, _NO_FAILURES)
            state = self._states[key] = state.after_failure(
                now, max_failures=max_failures, lock_for=lock_for
            )
            return state

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (expired ones included until purged)."""
        return self._states.get(key)

    def purge(self, now: datetime) -> int:
        """Forget every expired state and return how many (call it now and then)."""
        with self._lock:
            expired = [key for key, state in self._states.items() if state.is_expired(now)]
            for key in expired:
                del self._states[key]
            return len(expired)

    def clear(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._states.pop(key, None)


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
