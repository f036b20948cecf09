"""Testing views built on provider-identity with its pytest fixtures (no conftest needed).

Installing ``provider-identity[test]`` registers the fixtures: ask for
``identity_service``, ``identity_mailer``, ``identity_clock`` and friends by name.
"""

# ruff: noqa: S101  # pytest test files: assert is how they check

from __future__ import annotations

from datetime import timedelta

from portal_views import (
    RESET_REQUESTED,
    activate_view,
    forgot_password_view,
    login_view,
    register_view,
    reset_password_view,
)

from provider_identity import NIST_POLICY, Branding, IdentityService, LockoutPolicy
from provider_identity.testing import ManualClock, RecordingMailer
from provider_identity.testing.pytest_plugin import IdentityServiceFactory

#: Matches the sample record P1000001 that ``identity_directory`` holds.
JANE = {
    "provider_type": "practitioner",
    "name": "Jane Q. Doe",
    "tax_id": "31-1234567",
    "zip_code": "45409-1234",
    "provider_id": "P1000001",
    "username": "jdoe",
    "password": "Blue-Heron-2031",
    "email": "jane.doe@example.org",
    "security_question": "What is the name of your first pet?",
    "security_answer": "Rex",
    "agreement_confirmed": "yes",
}
JANE_LOGIN = {"username": "jdoe", "password": "Blue-Heron-2031"}


def test_registration_mails_the_activation_link(
    identity_service: IdentityService, identity_mailer: RecordingMailer
) -> None:
    """Registering answers 201 and mails an Activate Account link to the address given."""
    response = register_view(identity_service, JANE)

    assert response.status == 201
    assert response.body["status"] == "pending"
    message = identity_mailer.last(JANE["email"])
    assert message["Subject"] == "Activate Your Provider Portal Account"
    assert identity_mailer.last_link(JANE["email"]).startswith(
        "https://provider-portal.example/activate?token="
    )


def test_activation_then_login(
    identity_service: IdentityService, identity_mailer: RecordingMailer
) -> None:
    """The mailed token activates the account; then the password logs in."""
    register_view(identity_service, JANE)
    assert login_view(identity_service, JANE_LOGIN).status == 403  # not activated yet

    token = identity_mailer.last_token(JANE["email"])
    assert activate_view(identity_service, token).status == 200
    assert activate_view(identity_service, token).body["code"] == "token_already_used"
    assert login_view(identity_service, JANE_LOGIN).status == 200


def activated(service: IdentityService, mailer: RecordingMailer) -> None:
    register_view(service, JANE)
    activate_view(service, mailer.last_token(JANE["email"]))


def test_wrong_passwords_lock_the_account_for_a_day(
    identity_service: IdentityService, identity_mailer: RecordingMailer, identity_clock: ManualClock
) -> None:
    """Five wrong passwords lock; even the right one is refused until 24 hours have passed."""
    activated(identity_service, identity_mailer)
    for _ in range(5):
        login_view(identity_service, {**JANE_LOGIN, "password": "Not-The-Password-1"})

    locked = login_view(identity_service, JANE_LOGIN)
    assert (locked.status, locked.body["code"]) == (403, "account_locked")

    identity_clock.advance(timedelta(hours=24))  # no sleep: the clock is manual
    assert login_view(identity_service, JANE_LOGIN).status == 200


def test_reset_link_changes_the_password_and_expires(
    identity_service: IdentityService, identity_mailer: RecordingMailer, identity_clock: ManualClock
) -> None:
    """Forgot password mails a link that sets a new password; an hour later it is expired."""
    activated(identity_service, identity_mailer)
    assert forgot_password_view(identity_service, {"username": "JDoe"}).body == {
        "message": RESET_REQUESTED
    }
    token = identity_mailer.last_token(JANE["email"])

    identity_clock.advance(hours=1, seconds=1)
    expired = reset_password_view(identity_service, token, {"password": "Green-Finch-7742"})
    assert expired.body["code"] == "token_expired"

    forgot_password_view(identity_service, {"username": "jdoe"})
    token = identity_mailer.last_token(JANE["email"])
    new_password = {"password": "Green-Finch-7742"}
    assert reset_password_view(identity_service, token, new_password).status == 200
    assert login_view(identity_service, {"username": "jdoe", **new_password}).status == 200


def test_your_own_settings_through_the_factory(
    identity_service_factory: IdentityServiceFactory, identity_mailer: RecordingMailer
) -> None:
    """Build the service with your production settings: policy, lockout, branding."""
    service = identity_service_factory(
        password_policy=NIST_POLICY,
        lockout_policy=LockoutPolicy(max_failures=3),
        branding=Branding(activation_url="https://portal.example.net/activate/?token={token}"),
    )

    short = register_view(service, {**JANE, "password": "Heron-2031!"})
    assert short.body["errors"] == {"password": "too_short"}  # NIST: 15 or more

    assert register_view(service, {**JANE, "password": "heron blue twenty31"}).status == 201
    assert identity_mailer.last_link().startswith("https://portal.example.net/activate/")
