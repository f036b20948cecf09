"""An import killed midway leaves whole batches only; running it again completes it exactly once."""

from __future__ import annotations

import multiprocessing
import signal

import sqlalchemy as sa

from provider_identity.adapters.sql import SqlProviderDirectory, metadata
from provider_identity.roster import import_roster, read_roster
from tests.adapters.conftest import Target
from tests.adapters.workers import import_and_die

GOOD_ROWS = 50
BATCH = 10


def roster() -> bytes:
    """50 good rows (two ZIP codes each) with a bad row after every tenth."""
    lines = [b"provider_id,tax_id,name,zip_codes,lines_of_business"]
    for n in range(GOOD_ROWS):
        lines.append(
            f"K{n:04d},31-12345{n % 10}{n % 7},Provider {n},45402 4{n:04d},Medicaid".encode()
        )
        if n % 10 == 9:
            lines.append(f"K{n:04d}X,3112345,Bad Tax Id {n},45402,Medicaid".encode())
    return b"\n".join(lines) + b"\n"


def rows(target: Target, table: str) -> int:
    query = sa.select(sa.func.count()).select_from(metadata.tables[table])
    with target.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_killed_import_run_again_lands_every_good_row_once(sql: Target) -> None:
    """SIGKILL inside the third batch: two whole batches stay; the rerun ends with all 50."""
    expected = read_roster(roster()).records
    context = multiprocessing.get_context("forkserver")
    child = context.Process(target=import_and_die, args=(sql.database, roster(), BATCH, 3))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL

    directory = SqlProviderDirectory(sql.engine)
    assert rows(sql, "identity_providers") == 2 * BATCH
    for record in expected[: 2 * BATCH]:
        assert directory.by_provider_id(record.provider_id) == record

    report = import_roster(roster().splitlines(keepends=True), directory, batch_size=BATCH)
    assert report.loaded == GOOD_ROWS
    assert len(report.rejected) == GOOD_ROWS // 10
    assert rows(sql, "identity_providers") == GOOD_ROWS
    for record in expected:
        assert directory.by_provider_id(record.provider_id) == record
