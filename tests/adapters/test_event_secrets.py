"""No secret and no full Tax ID in any stored audit event, on every persisted trail."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from provider_identity import IdentityError, IdentityService, SupportDesk
from provider_identity.adapters.sql import SqlEventSink, metadata
from provider_identity.events import write_json_lines
from provider_identity.testing import RecordingMailer
from tests.test_security import Run, every_flow, leaks

#: What a user may type into a user-name or email field by mistake.
TAX_IDS_TYPED = ("311234567", "31-1234567", "123-45-6789")


def stored_texts(event_log: Any) -> list[str]:
    """Everything the trail holds: the export, and for SQL every raw column of every row."""
    out = io.StringIO()
    write_json_lines(event_log.query(), out)
    texts = [out.getvalue()]
    if isinstance(event_log, SqlEventSink):
        table = metadata.tables["identity_events"]
        with event_log._engine.connect() as conn:
            texts += [repr(tuple(row)) for row in conn.execute(sa.select(table))]
    return texts


@pytest.fixture
def trail_run(
    event_log: Any, make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> Run:
    """Every flow, right and wrong, Tax IDs typed where a user name belongs, and desk calls."""
    run = Run()
    service = make_service(events=event_log)
    every_flow(service, mailer, run)
    for typed in TAX_IDS_TYPED:
        with contextlib.suppress(IdentityError):
            service.login(typed, "Wrong-Password-1", client_address=typed)
        service.request_password_reset(typed)
        service.resend_activation(typed)
        service.request_username_reminder(f"{typed}@example.org")
    desk = SupportDesk(service=service)
    jane = service.accounts.find_by_username("jdoe")
    assert jane is not None
    with contextlib.suppress(IdentityError):
        desk.verify_caller("agent-311234567", jane.id, "Rover")
    desk.verify_caller("agent-311234567", jane.id, "Rex the Brave")
    desk.send_reset_link("agent-311234567", jane.id)
    run.secrets += ["123456789", "123-45-6789", mailer.last_token()]
    desk.find_account("agent-311234567", provider_id="P1000001")
    return run


def test_no_stored_event_holds_a_secret_or_a_full_tax_id(event_log: Any, trail_run: Run) -> None:
    """Passwords, answers, tokens, hashes, the key and full Tax IDs: none in any stored row."""
    texts = stored_texts(event_log)
    assert len(event_log.query()) >= 40  # the flows really were recorded
    assert leaks(trail_run, texts) == []
    assert "$argon2" not in "".join(texts)


def test_a_typed_tax_id_is_kept_as_its_last_four_digits(event_log: Any, trail_run: Run) -> None:
    """The login attempt with a Tax ID as user name is findable by its masked form."""
    masked = event_log.query(username="*****4567")
    assert {(event.action.value, event.client_address) for event in masked} >= {
        ("login", "*****4567")
    }
