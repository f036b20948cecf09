"""Forgotten user name: the reminder goes to the stored address, and tells no address apart."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import Branding, IdentityService, InvalidInput
from provider_identity import mail as mail_module
from provider_identity._flows import passwords as service_module  # where the reminder is built
from provider_identity.testing import (
    FailingMailer,
    ManualClock,
    RecordingEventSink,
    RecordingMailer,
    message_text,
)
from tests.helpers import group, member, practitioner
from tests.test_security import CountingAccounts, CountingDelivery, CountingLockouts

SUBJECT = "CareSource Provider Portal User Name"


class EmailLookups(CountingAccounts):
    """Counts ``find_by_email`` too."""

    def find_by_email(self, email_key: str) -> Any:
        self.calls.append("find_by_email")
        return super().find_by_email(email_key)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The recipients of every reminder the service builds."""
    recipients: list[str] = []
    real = mail_module.username_reminder_message

    def counting(*args: Any, **kwargs: Any) -> EmailMessage:
        recipients.append(kwargs["to"])
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "username_reminder_message", counting)
    return recipients


def test_the_user_name_goes_to_the_stored_address_from_webmaster(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """The reminder names the account's user name, from webmaster, with the seed-style subject."""
    service.request_username_reminder("  JANE.DOE@example.ORG ")
    message = mailer.last()
    assert str(message["To"]) == "jane.doe@example.org"
    assert str(message["From"]).startswith("webmaster <")
    assert str(message["Subject"]) == SUBJECT
    assert "jdoe" in message_text(message)
    assert "https://provider-portal.example/login" in message_text(message)


def test_a_pending_account_gets_its_user_name_too(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Someone who registered and forgot the name before activating is reminded as well."""
    service.register(group(username="mvr-admin"))
    mailer.clear()
    service.request_username_reminder("office@mvradiology.example.org")
    assert "mvr-admin" in message_text(mailer.last("office@mvradiology.example.org"))


def test_an_unknown_address_gets_no_mail_and_the_same_answer(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """None for a known and an unknown address alike; only the known one is mailed."""
    answers = [
        service.request_username_reminder(address)
        for address in ("nobody@example.org", "jane.doe@example.org")
    ]
    assert answers == [None, None]
    assert [str(m["To"]) for m in mailer.messages] == ["jane.doe@example.org"]


def test_the_subject_is_configurable_on_branding(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Branding.username_reminder_subject sets the subject, with the branding's names filled in."""
    service = make_service(
        branding=Branding(organisation="Acme", username_reminder_subject="$organisation login name")
    )
    service.register(practitioner())
    service.request_username_reminder("jane.doe@example.org")
    assert str(mailer.last(subject="Acme login name")["To"]) == "jane.doe@example.org"


def test_reminders_are_throttled_per_address(
    service: IdentityService, mailer: RecordingMailer, clock: ManualClock, active_account: str
) -> None:
    """Three reminders an hour per address by default; the fourth is silent; an hour on, again."""
    for _ in range(4):
        service.request_username_reminder("jane.doe@example.org")
    assert len(mailer.messages) == 3
    clock.advance(hours=1)
    service.request_username_reminder("jane.doe@example.org")
    assert len(mailer.messages) == 4


def test_one_audit_event_per_request_with_its_path(
    service: IdentityService, events: RecordingEventSink, active_account: str
) -> None:
    """Known, unknown and throttled requests each leave one event that says which it was."""
    events.events.clear()
    service.request_username_reminder("nobody@example.org", client_address="203.0.113.9")
    for _ in range(4):
        service.request_username_reminder("jane.doe@example.org")
    assert events.outcomes() == [
        ("request_username_reminder", "unknown_email"),
        *[("request_username_reminder", "success")] * 3,
        ("request_username_reminder", "throttled"),
    ]
    unknown, known = events.events[0], events.events[1]
    assert (unknown.account_id, unknown.username, unknown.client_address) == (
        None,
        None,
        "203.0.113.9",
    )
    assert (known.account_id, known.username) == (active_account, "jdoe")
    assert dict(known.detail) == {"email": "jane.doe@example.org"}


@pytest.mark.parametrize("relay", [RecordingMailer(), FailingMailer()], ids=["working", "failing"])
def test_the_same_work_on_every_path(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    built: list[str],
    relay: Any,
) -> None:
    """Known, unknown, pending, throttled: one lookup, one count, one message, one job."""
    store = CountingLockouts()
    accounts = EmailLookups()
    setup = make_service(lockouts=store, accounts=accounts)
    setup.register(practitioner())
    setup.activate(mailer.last_token())
    setup.register(member("throttled"))
    setup.register(group(username="pending"))
    for _ in range(setup.mail_throttle.max_failures):
        setup.request_username_reminder("throttled@example.org")
    delivery = CountingDelivery()
    service = make_service(mailer=relay, lockouts=store, accounts=accounts, delivery=delivery)

    work = {}
    for address in (
        "jane.doe@example.org",
        "nobody@example.org",
        "office@mvradiology.example.org",
        "throttled@example.org",
    ):
        store.writes.clear()
        accounts.calls.clear()
        built.clear()
        delivery.jobs.clear()
        answer = service.request_username_reminder(address)
        work[address] = (answer, [*accounts.calls], [*store.writes], len(built), len(delivery.jobs))
        for job in delivery.jobs:
            job()  # a failing relay fails inside the job, quietly
    assert work == dict.fromkeys(work, (None, ["find_by_email"], ["mail"], 1, 1))


def test_the_request_never_sends_inline(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, active_account: str
) -> None:
    """The mail leaves only from the delivery job, so the request's time holds none."""
    delivery = CountingDelivery()
    service = make_service(delivery=delivery)
    service.request_username_reminder("jane.doe@example.org")
    assert mailer.messages == []
    delivery.jobs[0]()
    assert [str(m["To"]) for m in mailer.messages] == ["jane.doe@example.org"]


@pytest.mark.parametrize(
    "bad", ["", "   ", "not-an-address", "a@b@c", 42, None, "x" * 300 + "@e.org"]
)
def test_a_bad_address_is_refused_with_nothing_changed(
    service: IdentityService,
    mailer: RecordingMailer,
    lockouts: Any,
    events: RecordingEventSink,
    bad: object,
) -> None:
    """Not an address: a typed InvalidInput on the email field, no count, no mail, one event."""
    with pytest.raises(InvalidInput) as refused:
        service.request_username_reminder(bad)  # type: ignore[arg-type]
    assert [error.field for error in refused.value.errors] == ["email"]
    assert mailer.messages == []
    assert lockouts.states() == {}
    assert events.outcomes() == [("request_username_reminder", "invalid_input")]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=st.from_regex(r"[a-z][a-z0-9.]{0,20}[a-z0-9]", fullmatch=True))
def test_any_unknown_address_answers_none_and_mails_nobody(
    service: IdentityService, mailer: RecordingMailer, local: str
) -> None:
    """Whatever address is typed, the answer is None and no mail leaves for an unknown one."""
    mailer.clear()
    assert service.request_username_reminder(f"{local}@unknown.example.org") is None
    assert mailer.messages == []
