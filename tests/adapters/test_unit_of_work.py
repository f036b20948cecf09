"""An account change and the mail it queues commit together, or not at all (SQL outbox)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provider_identity import IdentityService, UsernameUnavailable
from provider_identity.adapters.outbox import OutboxMailer
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlOutboxStore,
    SqlProviderDirectory,
    transaction,
)
from provider_identity.testing import ManualClock, sample_records
from tests.adapters.conftest import Target
from tests.helpers import practitioner


class Crash(Exception):
    """The request dies after the service returned, before the commit."""


def registering(
    target: Target, make_service: Callable[..., IdentityService], clock: ManualClock, fail: bool
) -> None:
    with transaction(target.engine) as connection:
        service = make_service(
            directory=SqlProviderDirectory(connection),
            accounts=SqlAccountRepository(connection),
            mailer=OutboxMailer(SqlOutboxStore(connection), clock),
        )
        service.register(practitioner())
        if fail:
            raise Crash


@pytest.mark.parametrize("fail", [False, True])
def test_the_account_and_its_activation_mail_commit_together(
    sql: Target,
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    fail: bool,
) -> None:
    """An account and its activation mail are stored together or, on a crash, neither is."""
    SqlProviderDirectory(sql.engine).upsert(sample_records())
    if fail:
        with pytest.raises(Crash):
            registering(sql, make_service, clock, fail)
    else:
        registering(sql, make_service, clock, fail)
    stored = SqlAccountRepository(sql.engine).find_by_username("jdoe")
    queued = SqlOutboxStore(sql.engine).pending()
    assert (stored is not None, queued) == ((False, 0) if fail else (True, 1))


def test_a_refused_write_leaves_the_callers_transaction_usable(
    sql: Target, make_service: Callable[..., IdentityService], clock: ManualClock
) -> None:
    """A registration refused inside a caller's transaction leaves it usable for the next one."""
    SqlProviderDirectory(sql.engine).upsert(sample_records())
    registering(sql, make_service, clock, fail=False)
    with transaction(sql.engine) as connection:
        accounts = SqlAccountRepository(connection)
        service = make_service(
            directory=SqlProviderDirectory(connection),
            accounts=accounts,
            mailer=OutboxMailer(SqlOutboxStore(connection), clock),
        )
        with pytest.raises(UsernameUnavailable):
            service.register(
                practitioner(provider_id="P2000002", name="Ravi Patel", tax_id="31-7654321",
                             zip_code="45440", email="jane.doe@example.org", username="jdoe2")
            )  # fmt: skip
        service.register(
            practitioner(provider_id="P2000002", name="Ravi Patel", tax_id="31-7654321",
                         zip_code="45440", email="ravi@example.org", username="rpatel")
        )  # fmt: skip
    assert SqlAccountRepository(sql.engine).find_by_username("rpatel") is not None
    assert SqlOutboxStore(sql.engine).pending() == 2
