"""Login at its edges: device counters and their notices, rehash audits, the password's words,
the new password's identifiers, the login limits, the reset mail's language, validate's default.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from provider_identity import (
    AccountDeactivated,
    AccountLocked,
    Branding,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    LockoutPolicy,
    LoginResult,
    PasswordHasher,
    PasswordPolicy,
    PasswordRejected,
    RateLimit,
    RateLimits,
    TooManyAttempts,
)
from provider_identity.events import Action
from provider_identity.limits import client_key
from provider_identity.mail import email_verification_message, password_reset_message
from provider_identity.passwords import OWASP_MINIMUM
from provider_identity.testing import (
    FakeHumanCheck,
    ManualClock,
    RecordingEventSink,
    RecordingMailer,
    message_text,
)
from tests.helpers import PASSWORD, practitioner
from tests.test_mutation_flows import with_app

WRONG = "Wrong-Password-99"
ADDRESS = "203.0.113.8"
MINUTE = timedelta(minutes=1)


def login_details(events: RecordingEventSink) -> list[dict[str, str]]:
    """The detail of every login event, in order."""
    return [dict(event.detail) for event in events.events if event.action is Action.LOGIN]


def logged_in(service: IdentityService) -> LoginResult:
    """jdoe's login with the right password, which has no second step."""
    result = service.login("jdoe", PASSWORD)
    assert isinstance(result, LoginResult)
    return result


def day_from(clock: ManualClock) -> str:
    """When a lock started now ends (the default 24 hours), as the event states it."""
    return (clock.now() + timedelta(hours=24)).isoformat()


def refusal(service: IdentityService, password: object) -> list[tuple[str, str, str]]:
    """The field errors of a login of jdoe with ``password`` (which must be refused as input)."""
    with pytest.raises(InvalidInput) as caught:
        service.login("jdoe", password)  # type: ignore[arg-type]  # wrong on purpose
    return [(error.field, error.code, error.message) for error in caught.value.errors]


# -- device counters ------------------------------------------------------------------------


def test_a_trusted_browsers_own_lock_sends_no_lock_notice(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    events: RecordingEventSink,
    clock: ManualClock,
) -> None:
    """Five wrong passwords with a device token lock that token: no notice, no lock_started."""
    service = make_service(device_lockout=True)
    service.register(practitioner())
    service.activate(mailer.last_token())
    token = logged_in(service).device_token
    mailer.clear()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.login("jdoe", WRONG, device_token=token)
    with pytest.raises(AccountLocked):
        service.login("jdoe", WRONG, device_token=token)
    assert mailer.messages == []
    assert [detail for detail in login_details(events) if "lock_started" in detail] == []
    assert login_details(events)[-1] == {"device": "trusted", "locked_until": day_from(clock)}
    assert service.lockout_status("jdoe").failures == 0


def test_without_device_lockout_a_genuine_device_token_counts_on_the_account(
    make_service: Callable[..., IdentityService],
    active_account: str,
    events: RecordingEventSink,
) -> None:
    """device_lockout off: even a genuine device token is ignored; the failure is the account's."""
    token = logged_in(make_service(device_lockout=True)).device_token
    assert token is not None
    service = make_service()
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", WRONG, device_token=token)
    assert service.lockout_status("jdoe").failures == 1
    assert login_details(events)[-1] == {}


# -- the lock notice --------------------------------------------------------------------------


def test_a_lock_raised_to_more_failures_mid_lock_sends_no_second_notice(
    make_service: Callable[..., IdentityService],
    active_account: str,
    mailer: RecordingMailer,
    events: RecordingEventSink,
    clock: ManualClock,
) -> None:
    """Locked after 2 failures, then max_failures goes to 5: the next failure sends no notice."""
    strict = make_service(lockout_policy=LockoutPolicy(max_failures=2))
    for _ in range(2):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            strict.login("jdoe", WRONG)
    assert len(mailer.messages) == 1  # the lock notice of the lock that started
    locked_until = day_from(clock)
    assert login_details(events)[-1] == {"lock_started": "true", "locked_until": locked_until}
    mailer.clear()
    lenient = make_service(lockout_policy=LockoutPolicy(max_failures=5))
    with pytest.raises(AccountLocked):
        lenient.login("jdoe", WRONG)
    assert lenient.lockout_status("jdoe").failures == 3
    assert mailer.messages == []
    assert login_details(events)[-1] == {"locked_until": locked_until}


# -- after the right password -----------------------------------------------------------------


def test_a_deactivated_accounts_right_password_ends_the_run_even_with_an_app(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """An app enrolled, then deactivated: the right password is refused, and zeroes the count."""
    service, account_id, _ = with_app(make_service, mailer, clock)
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", WRONG)
    service.deactivate(account_id)
    with pytest.raises(AccountDeactivated):
        service.login("jdoe", PASSWORD)
    assert service.lockout_status("jdoe").failures == 0


def test_a_rehash_on_login_is_in_the_event(
    make_service: Callable[..., IdentityService],
    active_account: str,
    events: RecordingEventSink,
) -> None:
    """A stored hash with outdated parameters: the login's event says rehashed=true, only that."""
    upgraded = make_service(hasher=PasswordHasher(parameters=OWASP_MINIMUM))
    assert logged_in(upgraded).rehashed is True
    assert login_details(events)[-1] == {"rehashed": "true"}


# -- the password as input --------------------------------------------------------------------


def test_a_password_that_is_not_text_or_blank_is_refused_in_words(
    service: IdentityService, active_account: str
) -> None:
    """A number, or only spaces: one error on password, in the words users see."""
    assert refusal(service, 20312031) == [("password", "wrong_type", "Password must be text.")]
    assert refusal(service, "   ") == [("password", "required", "Password is required.")]


def test_a_password_with_a_lone_surrogate_is_refused_but_a_control_is_not(
    service: IdentityService, active_account: str
) -> None:
    """A lone surrogate cannot be a password; a control character is merely a wrong password."""
    assert refusal(service, "Blue-Heron-\ud800-2031") == [
        ("password", "invalid_characters", "Password contains characters that are not allowed.")
    ]
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", "Blue-Heron-\x07-2031")


# -- a new password's identifiers -------------------------------------------------------------


@pytest.mark.parametrize("new", ["Jdoe-Kestrel-2040", "Kestrel-Jane.Doe-2040"])
def test_a_new_password_holding_the_username_or_the_mailbox_is_rejected(
    service: IdentityService, active_account: str, new: str
) -> None:
    """change_password: the user name, or the address before the @, in it: contains_identifier."""
    with pytest.raises(PasswordRejected) as caught:
        service.change_password(active_account, PASSWORD, new)
    assert [(error.field, error.code, error.message) for error in caught.value.errors] == [
        ("password", "contains_identifier", "Must not contain your user name or email address.")
    ]


def test_a_reset_password_holding_the_username_is_rejected(
    service: IdentityService, active_account: str, mailer: RecordingMailer
) -> None:
    """reset_password checks the identifiers too, and the link stays usable."""
    service.request_password_reset("jdoe")
    link = mailer.last_token()
    with pytest.raises(PasswordRejected) as caught:
        service.reset_password(link, "Kestrel-JDOE-2040")
    assert [error.code for error in caught.value.errors] == ["contains_identifier"]
    assert service.reset_password(link, "Green-Kestrel-2040").username == "jdoe"


# -- client addresses and the login limits ----------------------------------------------------


def test_a_zone_index_holding_a_percent_sign_is_dropped_whole() -> None:
    """Everything after the first % is the zone: fe80::1%eth0%1 is fe80::1, and its /64."""
    assert client_key("fe80::1%eth0%1", ipv6_prefix=128) == "fe80::1"
    assert client_key("fe80::1%eth0%1") == "fe80::/64"
    assert client_key("fe80::1%%eth0") == "fe80::/64"


def test_right_passwords_count_toward_the_login_limit(
    make_service: Callable[..., IdentityService], active_account: str
) -> None:
    """Two logins a minute from one address: the third is refused, though every one was right."""
    service = make_service(limits=RateLimits(login=RateLimit(limit=2, period=MINUTE)))
    for _ in range(2):
        assert service.login("jdoe", PASSWORD, client_address=ADDRESS)
    with pytest.raises(TooManyAttempts) as caught:
        service.login("jdoe", PASSWORD, client_address=ADDRESS)
    assert caught.value.limit == "login"
    assert service.login("jdoe", PASSWORD, client_address="198.51.100.1")


def test_a_login_passes_the_human_check_answer_and_the_address_on(
    make_service: Callable[..., IdentityService], active_account: str
) -> None:
    """A check asked from the first login: the provider gets the answer and the client address."""
    limits = RateLimits(login=RateLimit(limit=5, period=MINUTE, human_check_after=0))
    human = FakeHumanCheck()
    service = make_service(limits=limits, human_check=human)
    service.login("jdoe", PASSWORD, client_address=ADDRESS, human_check="passed")
    assert human.calls == [("passed", ADDRESS)]


# -- the reset mail's language, and validate's default ----------------------------------------


def test_a_spanish_reset_mail() -> None:
    """locale="es": the reset mail's subject and link label are Spanish, outside any block."""
    reset = functools.partial(
        password_reset_message,
        Branding(),
        to="j@example.org",
        username="jdoe",
        token="t",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    spanish, english = reset(locale="es"), reset()
    assert spanish["Subject"] != english["Subject"]
    assert message_text(spanish).startswith("Hola, jdoe:")
    assert message_text(english).startswith("Hello jdoe,")


def test_validate_without_a_second_factor_keeps_the_full_minimum() -> None:
    """min 15, 8 with a second factor: a 10-character password fails unless one is named."""
    policy = PasswordPolicy(min_length=15, min_length_with_second_factor=8)
    with pytest.raises(PasswordRejected) as caught:
        policy.validate("Heron-2031")
    assert [(error.code, error.message) for error in caught.value.errors] == [
        ("too_short", "Must be a minimum of 15 characters.")
    ]
    policy.validate("Heron-2031", second_factor=True)


def test_a_spanish_email_verification_mail() -> None:
    """locale="es": the welcome mail after activation is Spanish too."""
    verify = functools.partial(
        email_verification_message,
        Branding(),
        to="j@example.org",
        username="jdoe",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    spanish, english = verify(locale="es"), verify()
    assert spanish["Subject"] != english["Subject"]
    assert message_text(spanish).startswith("Hola, jdoe:")


def test_a_subject_may_hold_any_letter_but_no_line_break() -> None:
    """Only CR and LF are refused in a subject: a plan named "Xavier Health" is fine."""
    branding = Branding(verification_subject="Xavier Health: your address is verified")
    message = email_verification_message(
        branding, to="j@example.org", username="jdoe", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert message["Subject"] == "Xavier Health: your address is verified"


def test_the_message_id_takes_the_domain_after_the_senders_last_at_sign() -> None:
    """A sender address with two @ signs still gives a Message-ID with one domain after it."""
    branding = Branding(sender_address="portal@team@caresource.example")
    message = email_verification_message(
        branding, to="j@example.org", username="jdoe", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert message["Message-ID"].endswith("@caresource.example>")
