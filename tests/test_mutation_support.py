"""SupportDesk at its edges: the words of each refusal, what the verification event records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from provider_identity import (
    ConfigurationError,
    IdentityService,
    InvalidInput,
    SecurityAnswerMismatch,
    SupportDesk,
)
from provider_identity.events import Action
from provider_identity.testing import ManualClock, MemoryEventLog, RecordingMailer
from tests.helpers import practitioner

AGENT = "agent-17"


@pytest.fixture
def trail() -> MemoryEventLog:
    return MemoryEventLog()


@pytest.fixture
def portal(make_service: Callable[..., IdentityService], trail: MemoryEventLog) -> IdentityService:
    """The service, its events kept in the trail the desk reads."""
    return make_service(events=trail)


@pytest.fixture
def desk(portal: IdentityService, trail: MemoryEventLog) -> SupportDesk:
    return SupportDesk(service=portal, trail=trail)


@pytest.fixture
def jane(portal: IdentityService, mailer: RecordingMailer) -> str:
    """Jane Doe, registered and active; her account id."""
    account_id = portal.register(practitioner()).account.id
    portal.activate(mailer.last_token())
    mailer.clear()
    return account_id


@pytest.mark.parametrize("service", [None, "portal", object()])
def test_a_desk_without_an_identity_service_names_the_setting(service: Any) -> None:
    """Anything but an IdentityService: a ConfigurationError naming SupportDesk.service."""
    with pytest.raises(ConfigurationError) as refused:
        SupportDesk(service=service)
    assert str(refused.value) == "SupportDesk.service must be of type IdentityService."


def test_the_verification_event_records_when_the_window_ends(
    desk: SupportDesk, jane: str, clock: ManualClock, trail: MemoryEventLog
) -> None:
    """The audit event of a right answer holds verified_until: 15 minutes on, in ISO form."""
    clock.advance(minutes=3)
    desk.verify_caller(AGENT, jane, "Rex")
    event = trail.query(limit=1)[0]
    assert (event.action, event.outcome) == (Action.VERIFY_SECURITY_ANSWER, "success")
    end = clock.now() + timedelta(minutes=15)
    assert dict(event.detail) == {"agent": AGENT, "verified_until": end.isoformat()}


def test_a_wrong_answer_records_no_window(
    desk: SupportDesk, jane: str, trail: MemoryEventLog
) -> None:
    """A refused answer opens nothing, so its event has no verified_until."""
    with pytest.raises(SecurityAnswerMismatch):
        desk.verify_caller(AGENT, jane, "Rover")
    assert "verified_until" not in dict(trail.query(limit=1)[0].detail)


@pytest.mark.parametrize(
    ("agent", "code", "words"),
    [
        (17, "wrong_type", "Agent ID must be text."),
        (None, "wrong_type", "Agent ID must be text."),
        ("x" * 129, "too_long", "Agent ID must be at most 128 characters."),
        ("", "required", "Agent ID is required."),
        ("   ", "required", "Agent ID is required."),
        ("a\nb", "invalid_characters", "Agent ID contains characters that are not allowed."),
    ],
)
def test_a_bad_agent_id_is_refused_in_words(
    desk: SupportDesk, jane: str, agent: Any, code: str, words: str
) -> None:
    """Each way an agent id can be unusable has its own sentence, naming the Agent ID."""
    calls: list[Callable[[], object]] = [
        lambda: desk.find_account(agent, username="jdoe"),
        lambda: desk.verify_caller(agent, jane, "Rex"),
        lambda: desk.send_reset_link(agent, jane),
        lambda: desk.unlock(agent, jane),
        lambda: desk.history(agent, jane),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as refused:
            call()
        [error] = refused.value.errors
        assert (error.field, error.code, str(error.message)) == ("agent_id", code, words)
