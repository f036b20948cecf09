"""Test data builders shared by the test modules."""

from __future__ import annotations

from typing import Any

from provider_identity import RegistrationRequest

KEY = b"k" * 32
PASSWORD = "Blue-Heron-2031"


def practitioner(**changes: Any) -> RegistrationRequest:
    """A registration request matching sample record P1000001 (Jane Q. Doe)."""
    fields: dict[str, Any] = {
        "provider_type": "practitioner",
        "name": "Jane Q. Doe",
        "tax_id": "31-1234567",
        "zip_code": "45402",
        "provider_id": "P1000001",
        "username": "jdoe",
        "password": PASSWORD,
        "email": "jane.doe@example.org",
        "security_question": "What is the name of your first pet?",
        "security_answer": "Rex",
        "agreement_confirmed": True,
    }
    fields.update(changes)
    return RegistrationRequest(**fields)


def group(**changes: Any) -> RegistrationRequest:
    """A Group registration request matching sample record G2000001 (radiology)."""
    fields: dict[str, Any] = {
        "provider_type": "group",
        "name": "Miami Valley Radiology Group",
        "tax_id": "31-7654321",
        "zip_code": "45440",
        "provider_id": "G2000001",
        "username": "mvr-admin",
        "email": "office@mvradiology.example.org",
    }
    fields.update(changes)
    return practitioner(**fields)


def member(username: str = "rpatel", **changes: Any) -> RegistrationRequest:
    """A practitioner request matching sample record P2000002 (Ravi Patel, a group member)."""
    fields: dict[str, Any] = {
        "name": "Ravi Patel",
        "tax_id": "31-7654321",
        "zip_code": "45440",
        "provider_id": "P2000002",
        "username": username,
        "email": f"{username}@example.org",
    }
    fields.update(changes)
    return practitioner(**fields)
