"""The seed's flows end to end through IdentityService with in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provider_identity import (
    AccountLocked,
    AccountNotActivated,
    AccountStatus,
    AlreadyRegistered,
    DetailsMismatch,
    IdentityService,
    InvalidCredentials,
    NotEligibleForGroup,
    ProviderNotFound,
    ProviderRecord,
    TokenAlreadyUsed,
)
from provider_identity.testing import (
    ManualClock,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    message_link,
)
from tests.helpers import PASSWORD, group, practitioner


def test_register_sends_activation_from_webmaster(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Finishing registration stores a pending account and mails the seed's activation email."""
    result = service.register(practitioner())
    assert result.account.status is AccountStatus.PENDING
    assert result.activation_sent
    message = mailer.last("jane.doe@example.org")
    assert message["Subject"] == "Activate Your Provider Portal Account"
    assert str(message["From"]).startswith("webmaster <")
    assert "Activate Account" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message_link(message).startswith("https://provider-portal.example/activate?token=")


def test_activation_then_email_verification_with_login_link(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Activating sends the Email Verification message with a Login link."""
    service.register(practitioner())
    view = service.activate(mailer.last_token())
    assert view.status is AccountStatus.ACTIVE
    message = mailer.last()
    assert message["Subject"] == "Email Verification"
    assert message_link(message) == "https://provider-portal.example/login"


def test_login_before_activation_is_refused(service: IdentityService) -> None:
    """The right password on a pending account says it is not activated."""
    service.register(practitioner())
    with pytest.raises(AccountNotActivated):
        service.login("jdoe", PASSWORD)


@pytest.mark.usefixtures("active_account")
def test_login_accepts_any_spelling_of_the_username(service: IdentityService) -> None:
    """Usernames compare in their canonical form (case, width)."""
    assert service.login("ＪＤＯＥ", PASSWORD).account.username == "jdoe"


def test_activation_link_dies_once_used(service: IdentityService, mailer: RecordingMailer) -> None:
    """A second click on the same activation link is refused as already used."""
    service.register(practitioner())
    token = mailer.last_token()
    service.activate(token)
    with pytest.raises(TokenAlreadyUsed):
        service.activate(token)


def test_resend_activation_sends_a_working_link(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Activation can be re-sent; the new link activates."""
    service.register(practitioner())
    service.resend_activation("jdoe")
    assert len(mailer.to("jane.doe@example.org")) == 2
    assert service.activate(mailer.last_token()).status is AccountStatus.ACTIVE


@pytest.mark.usefixtures("active_account")
def test_five_wrong_passwords_lock_and_reset_unlocks(
    service: IdentityService, mailer: RecordingMailer, clock: ManualClock
) -> None:
    """The seed's lockout and recovery: 5 failures lock; a reset lifts the lock."""
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.login("jdoe", "Wrong-Password-1")
    with pytest.raises(AccountLocked) as locked:
        service.login("jdoe", "Wrong-Password-1")
    assert locked.value.locked_until.isoformat() == "2026-01-06T09:00:00+00:00"  # 24 h on
    with pytest.raises(AccountLocked):
        service.login("jdoe", PASSWORD)
    service.request_password_reset("jdoe")
    assert mailer.last()["Subject"] == "CareSource Provider Portal Password"
    service.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    assert service.login("jdoe", "Green-Kestrel-2032").account.username == "jdoe"


def test_group_sees_every_provider_under_its_tax_id_live(
    service: IdentityService, mailer: RecordingMailer, directory: MemoryProviderDirectory
) -> None:
    """A Group account's providers are looked up live by Tax ID."""
    account = service.register(group()).account
    assert [r.provider_id for r in service.accessible_providers(account.id)] == [
        "G2000001",
        "P2000002",
        "P2000003",
    ]
    directory.upsert(
        [
            ProviderRecord(
                provider_id="P2000009", tax_id="317654321", name="Lee", zip_codes=["45440"]
            )
        ]
    )
    assert "P2000009" in [r.provider_id for r in service.accessible_providers(account.id)]


def test_practitioner_sees_only_itself(service: IdentityService) -> None:
    """A Practitioner account sees its own record."""
    account = service.register(practitioner()).account
    assert [r.provider_id for r in service.accessible_providers(account.id)] == ["P1000001"]


def test_unknown_provider_names_both_help_lines(service: IdentityService) -> None:
    """'Provider does not exist' carries the Medicaid and Marketplace help lines."""
    with pytest.raises(ProviderNotFound) as err:
        service.register(practitioner(provider_id="P9999999"))
    assert dict(err.value.help_lines) == {
        "Medicaid": "1-855-202-1058",
        "Marketplace": "1-833-230-2030",
    }
    assert "1-855-202-1058" in err.value.message


def test_mismatched_details_are_refused(service: IdentityService) -> None:
    """A record exists but the Tax ID differs: details do not match."""
    with pytest.raises(DetailsMismatch):
        service.register(practitioner(tax_id="31-1234568"))


def test_primary_care_group_is_not_eligible(service: IdentityService) -> None:
    """Group registration is refused for categories the seed does not list."""
    with pytest.raises(NotEligibleForGroup):
        service.register(
            group(
                name="Family Medicine Partners",
                tax_id="315550000",
                zip_code="43215",
                provider_id="G3000001",
            )
        )


def test_registering_twice_says_already_registered(service: IdentityService) -> None:
    """The same provider cannot register a second account (found by NPI too)."""
    service.register(practitioner())
    with pytest.raises(AlreadyRegistered):
        service.register(
            practitioner(provider_id="", npi="1234567893", username="jane2", email="j2@example.org")
        )


def test_every_call_emits_one_audit_event(
    service: IdentityService, events: RecordingEventSink, mailer: RecordingMailer
) -> None:
    """register, activate, login: one event each, with outcome codes."""
    service.register(practitioner())
    service.activate(mailer.last_token())
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", "Wrong-Password-1")
    assert events.outcomes() == [
        ("register", "success"),
        ("activate", "success"),
        ("login", "invalid_credentials"),
    ]


def test_lock_ends_after_24_hours(
    make_service: Callable[..., IdentityService], clock: ManualClock, mailer: RecordingMailer
) -> None:
    """After the lock's 24 hours the right password works again."""
    service = make_service()
    service.register(practitioner())
    service.activate(mailer.last_token())
    for _ in range(5):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            service.login("jdoe", "Wrong-Password-1")
    clock.advance(hours=24)
    assert service.login("jdoe", PASSWORD).account.status is AccountStatus.ACTIVE
