"""The support desk on every store: SQL accounts and trail, and each lockout store's window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provider_identity import (
    AccountStatus,
    CallerNotVerified,
    IdentityService,
    SupportDesk,
)
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlEventSink,
    SqlLockoutStore,
    SqlProviderDirectory,
)
from provider_identity.events import Action
from provider_identity.testing import ManualClock, RecordingMailer, sample_records
from tests.adapters.conftest import Target
from tests.helpers import practitioner

AGENT = "agent-17"


def test_a_support_call_end_to_end_on_sql(
    sql: Target, make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Look up, verify, correct a typo, then history: all stored and read back from SQL."""
    SqlProviderDirectory(sql.engine).upsert(sample_records())
    trail = SqlEventSink(sql.engine)
    service = make_service(
        directory=SqlProviderDirectory(sql.engine),
        accounts=SqlAccountRepository(sql.engine),
        lockouts=SqlLockoutStore(sql.engine),
        events=trail,
    )
    desk = SupportDesk(service=service, trail=trail)
    typo = service.register(practitioner(email="jane.doe@exmaple.org")).account.id
    mailer.clear()

    view = desk.find_account(AGENT, provider_id="P1000001")
    assert (view.account.id, view.account.status) == (typo, AccountStatus.PENDING)
    desk.verify_caller(AGENT, typo, "Rex")
    assert desk.correct_pending_email(AGENT, typo, "jane.doe@example.org")
    service.activate(mailer.last_token("jane.doe@example.org"))
    assert desk.find_account(AGENT, email="jane.doe@example.org").account.id == typo
    desk.deactivate(AGENT, typo)
    desk.reactivate(AGENT, typo)

    history = desk.history(AGENT, typo)
    assert [e.action for e in history] == [
        Action.REGISTER,
        Action.LOOK_UP_ACCOUNT,
        Action.VERIFY_SECURITY_ANSWER,
        Action.CORRECT_PENDING_EMAIL,
        Action.ACTIVATE,
        Action.LOOK_UP_ACCOUNT,
        Action.DEACTIVATE,
        Action.REACTIVATE,
    ]
    assert {dict(e.detail).get("agent") for e in history[1:4]} == {AGENT}


def test_the_verification_window_lives_in_every_lockout_store(
    lockout_store: Any, make_service: Callable[..., IdentityService], clock: ManualClock
) -> None:
    """Memory, SQLite, PostgreSQL and Redis keep the window and end it on time."""
    desk = SupportDesk(service=make_service(lockouts=lockout_store))
    jane = desk.service.register(practitioner()).account.id
    desk.verify_caller(AGENT, jane, "Rex")
    clock.advance(minutes=14)
    assert desk.send_reset_link(AGENT, jane)
    clock.advance(minutes=1)
    with pytest.raises(CallerNotVerified):
        desk.send_reset_link(AGENT, jane)
