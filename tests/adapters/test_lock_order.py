"""Two writers interleaved by hand on PostgreSQL: one waits for the other, neither deadlocks.

Every write of the account repository locks the ``identity_accounts`` row
(and its unique entries) before any ``identity_account_keys`` row, so two
transactions meeting on one address queue up instead of waiting for each
other: the one that loses the race gets its real answer, never
``store_unavailable`` from a deadlock. Each test holds the first writer in a
thread just before one statement and lets it go when the second writer is
about to run the statement that meets it. (SQLite has no such test: its
write transactions take the database's one write lock first.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from provider_identity import Account, IdentityError
from provider_identity.adapters.sql import SqlAccountRepository
from tests.adapters.builders import make_account
from tests.adapters.conftest import Target

TIMEOUT = 30
ADDRESS = "race@example.org"


@pytest.fixture
def engines(postgres: Target) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on the test schema, one per writer, each with its own listeners."""
    pair = postgres.database.engine(), postgres.database.engine()
    yield pair
    for engine in pair:
        engine.dispose()


def before(engine: Engine, verb: str, table: str, action: Callable[[], None]) -> None:
    """Run ``action`` before each statement of ``engine`` that starts with ``verb`` on ``table``."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _hook(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith(verb) and f".{table} " in statement:
            action()


def outcome(write: Callable[[], None]) -> str:
    """``done``, or the code of the error ``write`` raised."""
    try:
        write()
    except IdentityError as err:
        return err.code
    return "done"


def interleaved(
    first: Callable[[], None],
    held_before: tuple[Engine, str, str],
    second: Callable[[], None],
    released_before: tuple[Engine, str, str],
) -> tuple[str, str]:
    """Both outcomes: ``first`` held before one statement until ``second`` reaches another."""
    holding, go = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        go.wait(TIMEOUT)

    before(*held_before, hold)
    before(*released_before, go.set)
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(outcome(first)))
    thread.start()
    try:
        assert holding.wait(TIMEOUT)
        second_outcome = outcome(second)
    finally:
        go.set()
        thread.join(TIMEOUT)
    return outcomes[0], second_outcome


@pytest.fixture
def jane(postgres: Target) -> Account:
    """A stored account, whose email the tests move to ADDRESS."""
    account = make_account(1)
    SqlAccountRepository(postgres.engine).add(account)
    return account


def moving_email(engine: Engine, account: Account) -> Callable[[], None]:
    """The write that confirms ``account``'s change to ADDRESS, through ``engine``."""
    moved = account.with_email(ADDRESS, ADDRESS)
    return lambda: SqlAccountRepository(engine).change_email(
        moved, expected_version=account.credential_version
    )


def test_a_registration_and_an_email_change_to_its_address_queue_up(
    postgres: Target, engines: tuple[Engine, Engine], jane: Account
) -> None:
    """The registration holds the address in the account table; the change waits, then loses."""
    registering, changing = engines
    racer = make_account(2, email=ADDRESS, email_key=ADDRESS)

    registration, change = interleaved(
        lambda: SqlAccountRepository(registering).add(racer),
        (registering, "INSERT", "identity_account_keys"),
        moving_email(changing, jane),
        (changing, "UPDATE", "identity_accounts"),
    )

    assert (registration, change) == ("done", "username_unavailable")
    accounts = SqlAccountRepository(postgres.engine)
    assert accounts.find_by_email(ADDRESS) == racer
    assert accounts.get(jane.id) == jane


def test_removing_an_account_while_its_email_changes_waits_for_the_change(
    postgres: Target, engines: tuple[Engine, Engine], jane: Account
) -> None:
    """The change holds the account row; the removal waits, then finds a newer version."""
    changing, removing = engines

    change, removal = interleaved(
        moving_email(changing, jane),
        (changing, "INSERT", "identity_account_keys"),
        lambda: SqlAccountRepository(removing).remove(
            jane.id, expected_version=jane.credential_version
        ),
        (removing, "DELETE", "identity_accounts"),
    )

    assert (change, removal) == ("done", "concurrent_update")
    accounts = SqlAccountRepository(postgres.engine)
    assert accounts.get(jane.id) == jane.with_email(ADDRESS, ADDRESS)
    assert accounts.key_taken(ADDRESS)
    assert not accounts.key_taken(jane.email_key)
