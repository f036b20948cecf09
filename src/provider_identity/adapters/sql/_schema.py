"""Tables of the SQL adapters: ``metadata``, one ``Table`` per store, and the UTC datetime type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from provider_identity.clock import ensure_utc

__all__ = ["UtcDateTime", "metadata"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime: ``timestamptz`` on PostgreSQL, integer microseconds on SQLite.

    Both keep every microsecond, so a value round-trips exactly, and both
    compare in SQL as time does. Naive datetimes are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Integer microseconds on SQLite, ``timestamp with time zone`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | int | None:
        """UTC for PostgreSQL, microseconds since the epoch for SQLite."""
        if value is None:
            return None
        moment = ensure_utc(value)
        if dialect.name == "sqlite":
            return (moment - _EPOCH) // _MICROSECOND
        return moment

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        """Back to an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, int):
            return _EPOCH + value * _MICROSECOND
        if isinstance(value, datetime):
            return ensure_utc(value)
        raise TypeError(f"unexpected stored datetime of type {type(value).__name__}")


metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
    }
)
"""Every table of the SQL adapters (a declaration; it holds no connection).

Constraints and indexes have stable names (``uq_identity_accounts_username_key``
and so on), for migrations."""


#: ProviderCategory's longest code (32 before plans declared their own categories).
_CATEGORY_LENGTH = 50


def _code_points(length: int) -> sa.types.TypeEngine[str]:
    """ASCII identifiers compared and ordered by code point, as Python and SQLite do.

    PostgreSQL would otherwise use the database's collation, where ``en_US``
    sorts ``P-2`` after ``P1``; ``"C"`` is also the cheapest to index.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


_providers = sa.Table(
    "identity_providers",
    metadata,
    sa.Column("provider_id", _code_points(30), primary_key=True),
    sa.Column("tax_id", _code_points(9), nullable=False),
    sa.Column("npi", _code_points(10), nullable=True, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.String(_CATEGORY_LENGTH), nullable=False),
    sa.Column("payee", sa.String(16), nullable=False),
    # A record is read and written whole and never searched by these, so they
    # live in its row: a lookup is one index probe, with no join.
    sa.Column("zip_codes", sa.Text, nullable=False),  # "45000,46000", in the record's order
    sa.Column("lines_of_business", sa.Text, nullable=False),  # "Marketplace,Medicaid"
    sa.Column("end_date", sa.String(10), nullable=True),  # ISO "2026-06-30": sorts as dates do
    # The name's comparison key (ProviderRecord.name_key), for a group's search by name.
    # Nullable only so that an older table can gain it (see create_schema).
    sa.Column("name_key", sa.Text, nullable=True),
    # A Tax ID's records in Provider ID order: a page is one range of the index.
    sa.Index("ix_identity_providers_tax_id_provider_id", "tax_id", "provider_id"),
)

_accounts = sa.Table(
    "identity_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("username_key", sa.Text, nullable=False, unique=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("email_key", sa.Text, nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider_type", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(30), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("password_history", sa.JSON, nullable=False),
    sa.Column("security_question", sa.Text, nullable=False),
    sa.Column("security_answer_hash", sa.Text, nullable=False),
    sa.Column("agreement_version", sa.Text, nullable=False),
    sa.Column("agreement_accepted_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("activated_at", UtcDateTime, nullable=True),
    sa.Column("credential_version", sa.Integer, nullable=False),
    # Added with deactivation and email change; nullable, so ``create_schema``
    # adds them to an older table (see docs/storage.md, "Upgrading").
    sa.Column("deactivated_at", UtcDateTime, nullable=True),
    sa.Column("deactivation_reason", sa.String(32), nullable=True),
    sa.Column("pending_email", sa.Text, nullable=True),
    sa.Column("pending_email_key", sa.Text, nullable=True),
    sa.Column("pending_email_nonce", sa.String(64), nullable=True),
    sa.Column("pending_email_requested_at", UtcDateTime, nullable=True),
)

_account_keys = sa.Table(
    "identity_account_keys",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column(
        "account_id",
        sa.String(64),
        sa.ForeignKey(_accounts.c.id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(8), nullable=False),
)

_lockouts = sa.Table(
    "identity_lockouts",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True, index=True),
)

_outbox = sa.Table(
    "identity_outbox",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("message", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Index("ix_identity_outbox_due", "sent_at", "due_at"),
)

_events = sa.Table(
    "identity_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),  # SQLite's rowid, counting up
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("username", sa.Text, nullable=True),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("client_address", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),  # [[key, value], ...], sorted
    sa.Index("ix_identity_events_at", "at"),
    sa.Index("ix_identity_events_account", "account_id", "at"),
    sa.Index("ix_identity_events_username", "username", "at"),
)

_factors = sa.Table(
    "identity_factors",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    # The record as JSON: TOTP secrets sealed, recovery codes as keyed digests.
    sa.Column("data", sa.Text, nullable=False),
)
