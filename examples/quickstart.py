"""Register, activate and log in a practitioner with the in-memory adapters.

Run: python examples/quickstart.py
"""

from __future__ import annotations

from provider_identity import (
    IdentityError,
    IdentityService,
    RegistrationRequest,
    SecondFactorDue,
    TokenIssuer,
)
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    cheapest_hasher,
    sample_records,
)


def build_service(clock: ManualClock, mailer: RecordingMailer) -> IdentityService:
    """An IdentityService over in-memory stores (cheap hashing: examples and tests only)."""
    return IdentityService(
        directory=MemoryProviderDirectory(sample_records()),
        accounts=MemoryAccountRepository(),
        lockouts=MemoryLockoutStore(),
        mailer=mailer,
        events=RecordingEventSink(),
        clock=clock,
        tokens=TokenIssuer(current=b"example signing key, 32 bytes or more", clock=clock),
        hasher=cheapest_hasher(),
    )


def main() -> None:
    """Walk one practitioner from registration to login."""
    clock, mailer = ManualClock(), RecordingMailer()
    service = build_service(clock, mailer)
    request = RegistrationRequest(
        provider_type="practitioner",
        name="Jane Q. Doe",
        tax_id="31-1234567",
        zip_code="45402",
        provider_id="P1000001",
        username="jdoe",
        password="Blue-Heron-2031",
        email="jane.doe@example.org",
        security_question="What is the name of your first pet?",
        security_answer="Rex",
        agreement_confirmed=True,
    )
    try:
        service.register(request)
    except IdentityError as err:
        print(f"registration refused [{err.code}]: {err.message}")
        return
    print("sent:", mailer.last()["Subject"])
    service.activate(mailer.last_token())
    print("sent:", mailer.last()["Subject"])
    result = service.login("jdoe", "Blue-Heron-2031")
    if isinstance(result, SecondFactorDue):  # the account has a second factor
        print("second factor due:", ", ".join(sorted(result.methods)))
        return
    print("logged in:", result.account.username, result.account.status.value)


if __name__ == "__main__":
    main()
