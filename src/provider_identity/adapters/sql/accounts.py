"""The account repository in ``identity_accounts`` and ``identity_account_keys``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from provider_identity.accounts import Account, AccountStatus
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
    """

    def add(self, account: Account) -> None:
        """Store a new account, refusing any clash atomically.

        Raises:
            AlreadyRegistered: an account exists for ``account.provider_id``.
            UsernameUnavailable: the username or email key is taken (``field`` says which).
        """
        keys = [
            {"key": account.username_key, "account_id": account.id, "kind": "username"},
            {"key": account.email_key, "account_id": account.id, "kind": "email"},
        ]
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

        Rows are never deleted, so the row that made the insert fail is committed and visible.
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
    }


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
    )
