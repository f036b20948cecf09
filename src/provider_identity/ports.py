"""The ports: small Protocols the domain depends on. Adapters implement them.

Adapters do not inherit from these classes; mypy checks structurally that each
adapter satisfies its protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from provider_identity.clock import Clock

if TYPE_CHECKING:
    from provider_identity.accounts import Account, AccountStatus
    from provider_identity.events import AuditEvent
    from provider_identity.mfa.records import FactorRecord
    from provider_identity.providers import ProviderRecord, ProviderSearch

__all__ = [
    "AccountRepository",
    "Clock",
    "DeliveryQueue",
    "EventLog",
    "EventSink",
    "FactorStore",
    "HumanCheck",
    "ImportProgress",
    "ImportProgressCallback",
    "LockoutState",
    "LockoutStore",
    "Mailer",
    "MessageKind",
    "OutboxEntry",
    "OutboxStore",
    "PasswordBlocklist",
    "PreparingDestination",
    "ProviderDirectory",
    "ProviderPage",
    "Renderer",
    "RosterDestination",
    "SearchableDirectory",
    "SnapshotDestination",
    "WritableDirectory",
]


class ProviderDirectory(Protocol):
    """Protocol: the plan's provider records, looked up by normalised identifiers."""

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        """The record with this (normalised) Provider ID, if any."""
        ...

    def by_npi(self, npi: str) -> ProviderRecord | None:
        """The record with this NPI, if any."""
        ...

    def by_tax_id(self, tax_id: str) -> Sequence[ProviderRecord]:
        """Every record listed under this 9-digit Tax ID, as of now."""
        ...


@attrs.frozen(kw_only=True)
class ProviderPage:
    """One page of a Group's providers, ordered by Provider ID.

    Attributes:
        records: The page's records.
        next_after: Pass it as ``after`` for the next page; ``None`` on the last page.
    """

    records: tuple[ProviderRecord, ...]
    next_after: str | None


@runtime_checkable
class SearchableDirectory(ProviderDirectory, Protocol):
    """Protocol: a directory that pages through a Tax ID's records itself (every one we ship).

    :meth:`~provider_identity.service.IdentityService.accessible_providers_page`
    uses it when the directory has it, and pages through ``by_tax_id``
    otherwise.
    """

    def page_by_tax_id(
        self, tax_id: str, *, after: str | None, limit: int, search: ProviderSearch | None
    ) -> Sequence[ProviderRecord]:
        """Up to ``limit`` records under ``tax_id`` that match ``search``, by Provider ID.

        Only records whose Provider ID sorts after ``after`` (by code point)
        are listed, so a page starts where the previous one ended (keyset
        paging: each page costs the same, however deep).
        """
        ...


class RosterDestination(Protocol):
    """Protocol: where :func:`~provider_identity.roster.import_roster` writes records."""

    def upsert(self, records: Iterable[ProviderRecord]) -> int:
        """Insert or replace ``records`` atomically and idempotently; return how many distinct.

        All or nothing: an item that is not a ``ProviderRecord`` writes
        nothing. A Provider ID given twice is stored as given last.
        """
        ...


@attrs.frozen(kw_only=True)
class ImportProgress:
    """How far an import has come, as handed to an :class:`ImportProgressCallback`.

    Attributes:
        rows: Rows read so far (loaded, rejected and skipped together).
        loaded: Distinct records written so far.
        rejected: Rows rejected so far.
        done: True on the last call, once every row is read and written.
    """

    rows: int
    loaded: int
    rejected: int
    done: bool = False


class ImportProgressCallback(Protocol):
    """Protocol: told how an import goes, after each batch it writes and once at the end.

    A callable of one argument will do, e.g. ``lambda progress: print(progress.rows)``.
    """

    def __call__(self, progress: ImportProgress, /) -> None:
        """Take note of ``progress``; must be quick (the import waits for it)."""
        ...


@runtime_checkable
class SnapshotDestination(RosterDestination, Protocol):
    """Protocol: a roster destination that can also end the records a snapshot left out."""

    def end_missing(self, keep: AbstractSet[str], *, on: date) -> tuple[str, ...]:
        """Set ``end_date = on`` on every open record not in ``keep``; return their IDs, sorted."""
        ...


@runtime_checkable
class PreparingDestination(RosterDestination, Protocol):
    """Protocol: a roster destination that writes a batch in two steps.

    :func:`~provider_identity.roster.import_records` with ``overlap`` runs the
    first step in the thread that reads the file and the second in a thread
    of its own, while the next batch is read.
    """

    def prepare_upsert(self, records: Iterable[ProviderRecord]) -> Callable[[], int]:
        """Check and send ``records`` now; calling the result (once, from any thread) stores them.

        Together the two steps do what ``upsert(records)`` does, and the
        result returns the same count.
        """
        ...


class WritableDirectory(SearchableDirectory, RosterDestination, Protocol):
    """Protocol: a searchable directory that records can be upserted into (every one we ship)."""


class AccountRepository(Protocol):
    """Protocol: where accounts live.

    Uniqueness is the repository's job and must be atomic: no two accounts
    share a provider, and no canonical username or email equals another
    account's canonical username or email (the two share one key space).
    """

    def add(self, account: Account) -> None:
        """Store a new account.

        Raises:
            AlreadyRegistered: an account exists for ``account.provider_id``.
            UsernameUnavailable: the username or email key is taken (``field`` says which).
        """
        ...

    def get(self, account_id: str) -> Account | None:
        """The account with this id, if any."""
        ...

    def find_by_username(self, username_key: str) -> Account | None:
        """The account whose canonical username is ``username_key``, if any."""
        ...

    def find_by_provider_id(self, provider_id: str) -> Account | None:
        """The account registered for this provider, if any."""
        ...

    def find_by_email(self, email_key: str) -> Account | None:
        """The account whose canonical email is ``email_key``, if any."""
        ...

    def key_taken(self, key: str) -> bool:
        """True if ``key`` is some account's canonical username or email."""
        ...

    def replace(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account with the same id, if its stored credential version is unchanged.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored ``credential_version`` is not ``expected_version``.
        """
        ...

    def change_email(self, account: Account, *, expected_version: int) -> None:
        """Like :meth:`replace`, with the email key moved to ``account.email_key`` atomically.

        A race with an :meth:`add` using that key: exactly one succeeds.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored version differs, or the username or provider would change.
            UsernameUnavailable: the new key is some account's username or email.
        """
        ...

    def remove(self, account_id: str, *, expected_version: int) -> None:
        """Delete the account, freeing its username, email and provider (expired pending ones).

        Raises:
            AccountNotFound: no account has ``account_id``.
            ConcurrentUpdate: the stored ``credential_version`` is not ``expected_version``.
        """
        ...

    def find_by_status(self, status: AccountStatus) -> Sequence[Account]:
        """Every account in ``status`` (for purging and reconciling), ordered by id."""
        ...


@attrs.frozen
class LockoutState:
    """What a LockoutStore keeps for one key.

    Attributes:
        failures: Consecutive failures counted.
        locked_until: When the lock ends; ``None`` while not locked.
        expires_at: When the whole state is forgotten: the end of the lock, or
            ``lock_for`` after the latest failure while not locked, so a
            store never grows without bound. ``None``: kept until cleared.
    """

    failures: int
    locked_until: datetime | None = None
    expires_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        """True once the state is to be forgotten (its lock, if any, has ended)."""
        end = self.expires_at if self.expires_at is not None else self.locked_until
        return end is not None and now >= end

    def after_failure(
        self, now: datetime, *, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """The state after one more failure at ``now`` (what every store computes atomically)."""
        if self.is_expired(now):
            failures, locked_until = 1, None
        else:
            failures, locked_until = self.failures + 1, self.locked_until
        if locked_until is None and failures >= max_failures:
            locked_until = now + lock_for
        return LockoutState(
            failures, locked_until, locked_until if locked_until is not None else now + lock_for
        )


class LockoutStore(Protocol):
    """Protocol: failure counters, one per key, updated atomically."""

    def record_failure(
        self, key: str, *, now: datetime, max_failures: int, lock_for: timedelta
    ) -> LockoutState:
        """Count one failure for ``key`` in a single atomic step and return the new state.

        The step is :meth:`LockoutState.after_failure`: an expired state
        (``now >= expires_at``) is forgotten first; then the count goes up by
        one; then, if no lock is set and the count has reached
        ``max_failures``, the lock is set to ``now + lock_for``. An existing
        lock is never extended. ``expires_at`` becomes the lock's end, or
        ``now + lock_for`` while not locked; a store may drop the state then.
        """
        ...

    def get(self, key: str) -> LockoutState | None:
        """The stored state for ``key``, if any (expired ones may be included)."""
        ...

    def clear(self, key: str) -> None:
        """Forget ``key``'s count and lock."""
        ...


class Mailer(Protocol):
    """Protocol: hands a finished message over for delivery."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`~provider_identity.errors.MailDeliveryError`."""
        ...


class MessageKind(enum.StrEnum):
    """The portal's messages."""

    ACTIVATION = "activation"
    VERIFICATION = "verification"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    USERNAME_REMINDER = "username_reminder"
    EMAIL_CHANGE = "email_change"
    EMAIL_CHANGE_NOTICE = "email_change_notice"
    SECURITY_ANSWER_CHANGED = "security_answer_changed"
    ACCOUNT_LOCKED = "account_locked"


class Renderer(Protocol):
    """Protocol: renders a message's bodies.

    :class:`~provider_identity.mail.Templates` is one; so is any callable
    taking the kind and the placeholder values and returning ``(text, html)``.
    """

    def __call__(self, kind: MessageKind, values: Mapping[str, str], /) -> tuple[str, str]:
        """The text and HTML bodies of ``kind`` with ``values`` filled in."""
        ...


class DeliveryQueue(Protocol):
    """Protocol: runs mail jobs after the request has answered.

    ``request_password_reset`` and ``resend_activation`` hand every request
    exactly one job, a delivery for a real account and a no-op otherwise, so
    their outward time holds no mail and tells no username apart, whatever the
    mailer. :class:`~provider_identity.delivery.BackgroundDelivery` is the
    default; ``provider_identity.testing.InlineDelivery`` runs jobs at once.
    """

    def submit(self, job: Callable[[], object]) -> None:
        """Run ``job`` once, later or now; never raise what ``job`` raises."""
        ...


@attrs.frozen(kw_only=True)
class OutboxEntry:
    """A queued message: its bytes, and how often sending was tried."""

    id: str
    message: bytes = attrs.field(repr=False)
    created_at: datetime
    attempts: int = 0


class OutboxStore(Protocol):
    """Protocol: a durable queue of messages waiting to be sent."""

    def add(self, message: bytes, *, now: datetime) -> str:
        """Store a message, due at once; return its id."""
        ...

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[OutboxEntry]:
        """Atomically reserve up to ``limit`` due entries until ``now + lease``.

        Each claimed entry's ``attempts`` goes up by one. An entry is due when
        it is not sent, not given up, and its due time has come (a failed
        claim's lease running out makes it due again: at-least-once).
        """
        ...

    def mark_sent(self, entry_id: str, *, now: datetime) -> None:
        """The relay accepted the entry; it is never claimed again."""
        ...

    def mark_failed(self, entry_id: str, *, retry_at: datetime | None, error: str) -> None:
        """Sending failed with ``error`` (a code): due again at ``retry_at``, or given up."""
        ...


class EventSink(Protocol):
    """Protocol: receives one audit event per state change or authentication decision."""

    def emit(self, event: AuditEvent) -> None:
        """Record ``event``. Must not raise for a well-formed event."""
        ...


class EventLog(Protocol):
    """Protocol: the persisted audit trail, read back (``SqlEventSink``, ``MemoryEventLog``)."""

    def query(
        self,
        *,
        account_id: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[AuditEvent]:
        """The events matching every filter given, oldest first.

        Args:
            account_id: Only events about this account.
            username: Only events naming this canonical username.
            since: Only events at or after this moment.
            until: Only events before this moment.
            limit: At most this many: the newest ones (still returned oldest first).
        """
        ...


class PasswordBlocklist(Protocol):
    """Protocol: passwords nobody may choose (breached, common, expected)."""

    def is_blocked(self, password: str) -> bool:
        """True if the whole (NFKC-normalised) password is on the list."""
        ...


class HumanCheck(Protocol):
    """Protocol: checks the answer of a human check (hCaptcha, Turnstile, reCAPTCHA ...).

    The web layer shows the widget when a flow raises
    :class:`~provider_identity.errors.HumanCheckRequired` and passes the
    widget's answer back as the flow's ``human_check=`` argument; this port
    asks the provider whether it is genuine (usually one HTTPS call).
    ``provider_identity.testing.FakeHumanCheck`` is a fake.
    """

    def verify(self, response: str, *, client_address: str | None) -> bool:
        """True if ``response`` is a fresh, genuine answer given from ``client_address``.

        Must return False (not raise) for an answer that is refused, expired or
        already used; may raise :class:`~provider_identity.errors.StoreUnavailable`
        when the provider does not answer.
        """
        ...


class FactorStore(Protocol):
    """Protocol: every second factor of an account as one record, written by compare-and-set.

    The compare-and-set on ``revision`` is what makes a TOTP code single use
    (the last accepted step is part of the record) and a recovery code too:
    of two writes from the same revision exactly one succeeds.
    """

    def get(self, account_id: str) -> FactorRecord | None:
        """The account's record, if it has one."""
        ...

    def put(self, record: FactorRecord, *, expected_revision: int) -> None:
        """Store ``record`` if the stored revision is ``expected_revision``, in one atomic step.

        ``expected_revision`` 0 means no record is stored yet. ``record.revision``
        must be ``expected_revision + 1``.

        Raises:
            ConcurrentUpdate: the stored revision is another one.
        """
        ...
