"""Builders of the values the contract tests store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provider_identity import Account, AccountStatus, ProviderType

#: A moment with microseconds, so that storage that rounds is caught.
NOW = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


def make_account(n: int, **changes: Any) -> Account:
    """Account number ``n``: its keys, id and provider all derive from ``n``."""
    fields: dict[str, Any] = {
        "id": f"id-{n}",
        "username": f"User{n}",
        "username_key": f"user{n}",
        "email": f"User{n}@Example.org",
        "email_key": f"user{n}@example.org",
        "status": AccountStatus.PENDING,
        "provider_type": ProviderType.PRACTITIONER,
        "provider_id": f"P{n}",
        "password_hash": f"$argon2id$hash-{n}",
        "security_question": "What is the name of your first pet?",
        "security_answer_hash": f"$argon2id$answer-{n}",
        "agreement_version": "1",
        "agreement_accepted_at": NOW,
        "created_at": NOW,
    }
    fields.update(changes)
    return Account(**fields)
