"""The account repository in ``identity_accounts`` and ``identity_account_keys``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from provider_identity.accounts import Account, AccountStatus, DeactivationReason, PendingEmail
from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._schema import _account_keys, _accounts
from provider_identity.clock import ensure_utc
from provider_identity.errors import (
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    IdentityError,
    UsernameUnavailable,
)
from provider_identity.providers import ProviderType

__all__ = ["SqlAccountRepository"]


class SqlAccountRepository(_Store):
    """Accounts in ``identity_accounts``; usernames and emails share ``identity_account_keys``.

    ``add`` inserts the account and both its keys in one transaction, so the
    database's unique constraints decide every race; ``replace`` is one
    ``UPDATE .. WHERE credential_version = :expected``.

    Every write takes its locks in one order: the ``identity_accounts`` row
    (with its unique entries) first, then the key rows, in key order. Two
    transactions meeting on one address or account then wait for each other
    in a queue, never in a circle: on PostgreSQL the loser of a race gets its
    real answer (``UsernameUnavailable``, ``ConcurrentUpdate``), not a
    deadlock reported as ``StoreUnavailable``.
    """

    def add(self, account: Account) -> None:
        """Store a new account, refusing any clash atomically.

        Raises:
            AlreadyRegistered: an account exists for ``account.provider_id``.
            UsernameUnavailable: the username or email key is taken (``field`` says which).
        """
        keys = sorted(
            [
                {"key": account.username_key, "account_id": account.id, "kind": "username"},
                {"key": account.email_key, "account_id": account.id, "kind": "email"},
            ],
            key=lambda row: row["key"],
        )
        try:
            with self._writing() as conn:
                conn.execute(sa.insert(_accounts).values(_account_row(account)))
                conn.execute(sa.insert(_account_keys), keys)
        except IntegrityError:
            pass
        else:
            return
        # Raised outside the except block: the IntegrityError's message and
        # ``.params`` hold the row, hashes included, and would stay on as
        # ``__context__`` even with ``from None``.
        raise self._clash(account)

    def _clash(self, account: Account) -> IdentityError:
        """Which taken key refused ``account``, checked in the in-memory adapter's order.

        The row that made the insert fail is committed and visible (unless an
        expired pending account was purged meanwhile: then "username" is answered).
        """
        if self.find_by_provider_id(account.provider_id) is not None:
            return AlreadyRegistered()
        for field, key in (("username", account.username_key), ("email", account.email_key)):
            if self.key_taken(key):
                return UsernameUnavailable(field)
        return UsernameUnavailable("username")

    def get(self, account_id: str) -> Account | None:
        """The account with this id, if any."""
        return self._one(_accounts.c.id == account_id)

    def find_by_username(self, username_key: str) -> Account | None:
        """The account whose canonical username is ``username_key``, if any."""
        return self._one(_accounts.c.username_key == username_key)

    def find_by_provider_id(self, provider_id: str) -> Account | None:
        """The account registered for this provider, if any."""
        return self._one(_accounts.c.provider_id == provider_id)

    def find_by_email(self, email_key: str) -> Account | None:
        """The account whose canonical email is ``email_key``, if any."""
        return self._one(_accounts.c.email_key == email_key)

    def key_taken(self, key: str) -> bool:
        """True if ``key`` is some account's canonical username or email."""
        query = sa.select(_account_keys.c.key).where(_account_keys.c.key == key)
        with self._reading() as conn:
            return conn.execute(query).first() is not None

    def replace(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account if its credential version is still ``expected_version``.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored version differs, or an identifier would change.
        """
        row = _account_row(account)
        fixed = ("id", "username_key", "email_key", "provider_id")
        statement = (
            sa.update(_accounts)
            .where(
                _accounts.c.credential_version == expected_version,
                *(_accounts.c[name] == row[name] for name in fixed),
            )
            .values({name: value for name, value in row.items() if name not in fixed})
        )
        with self._writing() as conn:
            if conn.execute(statement).rowcount == 1:
                return
        self._explain_refusal(account, expected_version)

    def change_email(self, account: Account, *, expected_version: int) -> None:
        """Overwrite the account, its email key moved to ``account.email_key``, atomically.

        One transaction: the account row (if its credential version is still
        ``expected_version``), then the new key row in and the old one out. The
        unique constraints on the address decide a race with a registration of it.

        Raises:
            AccountNotFound: no account has ``account.id``.
            ConcurrentUpdate: the stored version differs, or the username or provider would change.
            UsernameUnavailable: the new email key is some account's username or email.
        """
        row = _account_row(account)
        fixed = ("id", "username_key", "provider_id")
        update = (
            sa.update(_accounts)
            .where(
                _accounts.c.credential_version == expected_version,
                *(_accounts.c[name] == row[name] for name in fixed),
            )
            .values({name: value for name, value in row.items() if name not in fixed})
        )
        outcome = "stale"
        try:
            with self._writing() as conn:
                old = conn.execute(
                    sa.select(_accounts.c.email_key).where(_accounts.c.id == account.id)
                ).scalar()
                if conn.execute(update).rowcount != 1:
                    raise _Stale
                if old != account.email_key:
                    conn.execute(
                        sa.insert(_account_keys).values(
                            key=account.email_key, account_id=account.id, kind="email"
                        )
                    )
                    conn.execute(
                        sa.delete(_account_keys).where(
                            _account_keys.c.key == old, _account_keys.c.account_id == account.id
                        )
                    )
                outcome = "done"
        except _Stale:
            pass
        except IntegrityError:
            outcome = "taken"
        if outcome == "done":
            return
        if outcome == "taken":  # raised here: the IntegrityError's params hold the row
            raise UsernameUnavailable("email")
        self._explain_refusal(account, expected_version)

    def remove(self, account_id: str, *, expected_version: int) -> None:
        """Delete the account and its keys, if its credential version is still ``expected_version``.

        Raises:
            AccountNotFound: no account has ``account_id``.
            ConcurrentUpdate: the stored version differs.
        """
        statement = sa.delete(_accounts).where(
            _accounts.c.id == account_id, _accounts.c.credential_version == expected_version
        )
        try:
            with self._writing() as conn:
                if conn.execute(statement).rowcount != 1:
                    raise _Stale
                # The foreign key's cascade deletes them too, where SQLite enforces it.
                keys = _account_keys.c.account_id == account_id
                conn.execute(sa.delete(_account_keys).where(keys))
        except _Stale:
            pass
        else:
            return
        if self.get(account_id) is None:
            raise AccountNotFound
        raise ConcurrentUpdate

    def find_by_status(self, status: AccountStatus) -> Sequence[Account]:
        """Every account in ``status``, ordered by id."""
        query = sa.select(_accounts).where(_accounts.c.status == status.value)
        with self._reading() as conn:
            rows = conn.execute(query.order_by(_accounts.c.id)).all()
        return tuple(_account_from_row(row) for row in rows)

    def _explain_refusal(self, account: Account, expected_version: int) -> None:
        stored = self.get(account.id)
        if stored is None:
            raise AccountNotFound
        if stored.credential_version != expected_version:
            raise ConcurrentUpdate
        raise ConcurrentUpdate.identifiers_changed()

    def _one(self, condition: sa.ColumnElement[bool]) -> Account | None:
        with self._reading() as conn:
            row = conn.execute(sa.select(_accounts).where(condition)).first()
        return None if row is None else _account_from_row(row)


def _account_row(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "username": account.username,
        "username_key": account.username_key,
        "email": account.email,
        "email_key": account.email_key,
        "status": account.status.value,
        "provider_type": account.provider_type.value,
        "provider_id": account.provider_id,
        "password_hash": account.password_hash,
        "password_history": list(account.password_history),
        "security_question": account.security_question,
        "security_answer_hash": account.security_answer_hash,
        "agreement_version": account.agreement_version,
        "agreement_accepted_at": ensure_utc(account.agreement_accepted_at),
        "created_at": ensure_utc(account.created_at),
        "activated_at": None if account.activated_at is None else ensure_utc(account.activated_at),
        "credential_version": account.credential_version,
        "deactivated_at": None
        if account.deactivated_at is None
        else ensure_utc(account.deactivated_at),
        "deactivation_reason": None
        if account.deactivation_reason is None
        else account.deactivation_reason.value,
        **_pending_email_columns(account.pending_email),
    }


def _pending_email_columns(pending: PendingEmail | None) -> dict[str, object]:
    return {
        "pending_email": None if pending is None else pending.address,
        "pending_email_key": None if pending is None else pending.key,
        "pending_email_nonce": None if pending is None else pending.nonce,
        "pending_email_requested_at": None if pending is None else ensure_utc(pending.requested_at),
    }


def _pending_email_from_row(row: Row[Any]) -> PendingEmail | None:
    if row.pending_email is None:
        return None
    return PendingEmail(
        address=row.pending_email,
        key=row.pending_email_key,
        nonce=row.pending_email_nonce,
        requested_at=row.pending_email_requested_at,
    )


class _Stale(Exception):
    """Rolls a write back whose account row was not as expected."""


def _account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        username_key=row.username_key,
        email=row.email,
        email_key=row.email_key,
        status=AccountStatus(row.status),
        provider_type=ProviderType(row.provider_type),
        provider_id=row.provider_id,
        password_hash=row.password_hash,
        password_history=tuple(row.password_history),
        security_question=row.security_question,
        security_answer_hash=row.security_answer_hash,
        agreement_version=row.agreement_version,
        agreement_accepted_at=row.agreement_accepted_at,
        created_at=row.created_at,
        activated_at=row.activated_at,
        credential_version=row.credential_version,
        deactivated_at=row.deactivated_at,
        deactivation_reason=None
        if row.deactivation_reason is None
        else DeactivationReason(row.deactivation_reason),
        pending_email=_pending_email_from_row(row),
    )
