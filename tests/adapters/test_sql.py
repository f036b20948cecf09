"""What only the SQL adapters promise: schema, indexes, batches, stored formats."""

from __future__ import annotations

import secrets
import select
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from provider_identity import (
    ConfigurationError,
    InvalidInput,
    LineOfBusiness,
    ProviderCategory,
    ProviderRecord,
    ProviderSearch,
    StoreUnavailable,
)
from provider_identity.adapters.sql import (
    SqlAccountRepository,
    SqlLockoutStore,
    SqlProviderDirectory,
    create_schema,
    metadata,
    schema_sql,
)
from provider_identity.adapters.sql import directory as sql_directory
from provider_identity.testing import sample_records
from provider_identity.testing.strategies import provider_records
from tests.adapters.builders import NOW, make_account
from tests.adapters.conftest import Target
from tests.adapters.workers import Database

DAY = timedelta(hours=24)


def records(count: int, prefix: str = "B") -> list[ProviderRecord]:
    return [
        ProviderRecord(
            provider_id=f"{prefix}{n}",
            tax_id="31-1234567",
            name=f"Provider {n}",
            zip_codes=("45402", "45403"),
        )
        for n in range(count)
    ]


def count_rows(target: Target, table: str) -> int:
    query = sa.select(sa.func.count()).select_from(metadata.tables[table])
    with target.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_create_schema_can_run_again(sql: Target) -> None:
    """Creating the schema over an existing one keeps the data."""
    SqlProviderDirectory(sql.engine).upsert(sample_records())
    create_schema(sql.engine)
    assert count_rows(sql, "identity_providers") == len(sample_records())


def test_create_schema_upgrades_a_directory_table_of_the_previous_layout(sql: Target) -> None:
    """A table without name_key and with the tax_id index gains both; search then finds names."""
    with sql.engine.begin() as conn:
        SqlProviderDirectory(conn).upsert(records(3))
        schema = conn.schema_for_object(metadata.tables["identity_providers"])
        at = "" if schema is None else f'"{schema}".'
        conn.exec_driver_sql(f"DROP INDEX {at}ix_identity_providers_tax_id_provider_id")
        conn.exec_driver_sql(
            f"CREATE INDEX ix_identity_providers_tax_id ON {at}identity_providers (tax_id)"
        )
        conn.exec_driver_sql(f"ALTER TABLE {at}identity_providers DROP COLUMN name_key")
    create_schema(sql.engine)
    with sql.engine.connect() as conn:
        inspector = sa.inspect(conn)
        found = inspector.get_indexes("identity_providers", schema=schema)
    indexes = {index["name"] for index in found}
    assert "ix_identity_providers_tax_id" not in indexes
    assert "ix_identity_providers_tax_id_provider_id" in indexes
    directory = SqlProviderDirectory(sql.engine)
    page = directory.page_by_tax_id(
        "311234567", after=None, limit=5, search=ProviderSearch.parse("PROVIDER 2")
    )
    assert [r.provider_id for r in page] == ["B2"]


def analysed_rows(target: Target) -> int:
    """How many rows of the directory the database's statistics know of."""
    with target.engine.connect() as conn:
        if target.engine.dialect.name == "sqlite":
            # Every row of sqlite_stat1 starts with the table's row count.
            query = "SELECT stat FROM sqlite_stat1 WHERE tbl = 'identity_providers' LIMIT 1"
            stat = conn.exec_driver_sql(query).scalar()
            return int(str(stat).split()[0]) if stat else 0
        query = "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(table)s)"
        table = f'"{target.database.schema}".identity_providers'
        return max(int(conn.exec_driver_sql(query, {"table": table}).scalar_one()), 0)


def test_refresh_statistics_tells_the_planner_the_directory_size(sql: Target) -> None:
    """After a bulk load the planner knows the new size (in the caller's schema, too)."""
    directory = SqlProviderDirectory(sql.engine)
    directory.upsert(records(30))
    directory.refresh_statistics()
    assert analysed_rows(sql) == 30


def test_postgresql_drivers_other_than_psycopg_3_are_refused() -> None:
    """Bulk loads use psycopg 3's COPY; another driver is refused up front, not mid-import."""
    engine = sa.create_mock_engine("postgresql+pg8000://", lambda *args, **kwargs: None)
    with pytest.raises(ConfigurationError, match="psycopg 3"):
        SqlProviderDirectory(engine)  # type: ignore[arg-type]


def test_other_databases_are_refused() -> None:
    """Only SQLite and PostgreSQL are supported, and saying so early beats failing later."""
    engine = sa.create_mock_engine("mysql://", lambda *args, **kwargs: None)
    with pytest.raises(ConfigurationError):
        SqlLockoutStore(engine)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(
    provider_records(),
    st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.frozensets(st.sampled_from(tuple(LineOfBusiness))),
)
def test_a_stored_row_becomes_the_record_it_was_written_from(
    record: ProviderRecord, end_date: date | None, lines: frozenset[LineOfBusiness]
) -> None:
    """The unchecked rebuild from a row sets every field as the checked constructor did."""
    written = attrs.evolve(record, end_date=end_date, lines_of_business=lines)
    row = sql_directory._provider_row(written)
    rebuilt = sql_directory._record_from_row(row)
    assert type(rebuilt) is ProviderRecord
    for field in attrs.fields(ProviderRecord):  # name_key too, which == leaves out
        assert getattr(rebuilt, field.name) == getattr(written, field.name), field.name
    assert rebuilt == written
    assert hash(rebuilt) == hash(written)


def test_an_old_row_without_its_name_key_is_rebuilt_by_the_checked_constructor() -> None:
    """A row an older version wrote (no name_key) gets its key computed, not left empty."""
    written = records(1)[0]
    row = (*sql_directory._provider_row(written)[:-1], None)
    assert sql_directory._record_from_row(row).name_key == written.name_key


def pooled_backend(engine: sa.Engine) -> int:
    """The server process behind the pool's (only) connection."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def end_backend(postgres: Target, pid: int) -> None:
    """End a server process as a restart does, waiting up to 5 s for it to exit."""
    with postgres.engine.connect() as other:
        ended = other.exec_driver_sql(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE pid = %(pid)s AND datname = current_database()",
            {"pid": pid},
        ).scalar_one()
    assert ended is True


def test_a_store_answers_after_the_database_dropped_its_pooled_connections(
    postgres: Target,
) -> None:
    """The first call after PostgreSQL ended the pool's connections (a restart) still succeeds."""
    engine = postgres.database.engine()  # its own pool, so only its connections are ended
    accounts = SqlAccountRepository(engine)
    accounts.add(make_account(1))
    end_backend(postgres, pooled_backend(engine))
    try:
        found = accounts.get(make_account(1).id)
    finally:
        engine.dispose()
    assert found is not None


def test_a_write_succeeds_after_the_database_dropped_its_pooled_connections(
    postgres: Target,
) -> None:
    """A write transaction on a pool whose connection the server ended gets a fresh one."""
    engine = postgres.database.engine()
    accounts = SqlAccountRepository(engine)
    before = pooled_backend(engine)
    end_backend(postgres, before)
    try:
        accounts.add(make_account(2))
        found = accounts.get(make_account(2).id)
        after = pooled_backend(engine)
    finally:
        engine.dispose()
    assert found is not None
    assert after != before


def test_a_read_on_a_live_pooled_connection_sends_nothing_but_its_query(
    postgres: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ping round trip per checkout: the read is the only statement on the wire."""
    import psycopg

    engine = postgres.database.engine()
    directory = SqlProviderDirectory(engine)
    directory.upsert(records(3))
    directory.by_tax_id("311234567")  # the pool now holds a used, live connection
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    try:
        found = directory.by_tax_id("311234567")
    finally:
        engine.dispose()
    assert len(found) == 3
    assert len(sent) == 1
    assert sent[0].lstrip().upper().startswith("SELECT")


def test_a_live_pooled_connection_with_a_message_waiting_is_kept(postgres: Target) -> None:
    """Input waiting on an idle connection (a notification) costs a ping, not the connection."""
    engine = postgres.database.engine()
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        conn.exec_driver_sql("LISTEN provider_identity_test")
        conn.commit()
        driver: Any = conn.connection.driver_connection
    with postgres.engine.begin() as other:
        other.exec_driver_sql("NOTIFY provider_identity_test")
    # Waits for the notification to reach the idle connection's socket (no sleep).
    readable, _, _ = select.select([driver.fileno()], [], [], 5)
    try:
        assert readable
        assert pooled_backend(engine) == pid
    finally:
        engine.dispose()


@pytest.fixture
def statements(sql: Target) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT the adapters send during the test, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(sql.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sql.engine, "before_cursor_execute", record)


def full_scans(target: Target, statement: str, parameters: Any) -> list[str]:
    """The plan lines of ``statement`` that read a whole table instead of an index."""
    with target.engine.connect() as conn:
        if target.engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        return [row[0] for row in plan if "Seq Scan" in row[0]]


def test_every_lookup_the_flows_make_is_an_index_lookup(
    sql: Target, statements: list[tuple[str, Any]]
) -> None:
    """Tax ID, Provider ID, NPI, username, email, account id and lockout key all use an index."""
    directory = SqlProviderDirectory(sql.engine)
    accounts = SqlAccountRepository(sql.engine)
    lockouts = SqlLockoutStore(sql.engine)
    lookups: list[Callable[[], object]] = [
        lambda: directory.by_provider_id("P1000001"),
        lambda: directory.by_npi("1234567893"),
        lambda: directory.by_tax_id("317654321"),
        lambda: accounts.get("id-1"),
        lambda: accounts.find_by_username("user1"),
        lambda: accounts.find_by_provider_id("P1"),
        lambda: accounts.key_taken("user1@example.org"),
        lambda: lockouts.get("login:user1"),
    ]
    for lookup in lookups:
        lookup()
    assert len(statements) == len(lookups)
    for statement, parameters in statements:
        assert full_scans(sql, statement, parameters) == [], statement


def test_upsert_counts_distinct_records_and_the_last_one_wins(sql: Target) -> None:
    """A Provider ID given twice in one batch is stored once, as given last."""
    directory = SqlProviderDirectory(sql.engine)
    first, second = records(2)
    renamed = ProviderRecord(
        provider_id=first.provider_id, tax_id="999999999", name="New", zip_codes=["43215"]
    )
    assert directory.upsert([first, second, renamed]) == 2
    assert directory.by_provider_id(first.provider_id) == renamed
    assert count_rows(sql, "identity_providers") == 2


def test_upsert_is_idempotent(sql: Target) -> None:
    """The same batch twice leaves the same rows, each once."""
    directory = SqlProviderDirectory(sql.engine)
    batch = records(30)
    directory.upsert(batch)
    directory.upsert(batch)
    assert count_rows(sql, "identity_providers") == 30
    assert [directory.by_provider_id(record.provider_id) for record in batch] == batch


def test_upsert_checks_every_item_before_writing(sql: Target) -> None:
    """A batch with something that is not a record writes nothing at all."""
    directory = SqlProviderDirectory(sql.engine)
    with pytest.raises(InvalidInput):
        directory.upsert([*records(3), "not a record", *records(2, "C")])  # type: ignore[list-item]
    assert count_rows(sql, "identity_providers") == 0


def test_upsert_is_one_transaction(sql: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure in the batch's third chunk leaves nothing of its first two."""
    monkeypatch.setattr(sql_directory, "UPSERT_CHUNK", 2)
    directory = SqlProviderDirectory(sql.engine)
    chunks = []

    def fail_third_chunk(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.startswith("INSERT INTO") and "identity_providers " in statement:
            chunks.append(statement)
            if len(chunks) == 3:
                raise RuntimeError("the database went away")

    sa.event.listen(sql.engine, "before_cursor_execute", fail_third_chunk)
    try:
        with pytest.raises(RuntimeError):
            directory.upsert(records(6))
    finally:
        sa.event.remove(sql.engine, "before_cursor_execute", fail_third_chunk)
    assert count_rows(sql, "identity_providers") == 0


def test_upsert_updates_the_rows_already_there(sql: Target) -> None:
    """Known Provider IDs take the batch's data, new ones are added, the rest stay as they were."""
    directory = SqlProviderDirectory(sql.engine)
    kept, changed = records(3), records(3, "C")
    directory.upsert([*kept, *changed])
    updated = [
        attrs.evolve(record, name=f"Renamed {n}", zip_codes=("10001",), tax_id="999999999")
        for n, record in enumerate(changed)
    ]
    added = records(2, "N")
    assert directory.upsert([*updated, *added]) == 5
    everything = [*kept, *updated, *added]
    assert [directory.by_provider_id(record.provider_id) for record in everything] == everything
    assert count_rows(sql, "identity_providers") == 8
    assert [record.name for record in directory.by_tax_id("999999999")] == [
        "Renamed 0",
        "Renamed 1",
        "Renamed 2",
    ]
    page = directory.page_by_tax_id(
        "999999999", after=None, limit=5, search=ProviderSearch.parse("renamed 1")
    )
    assert [record.provider_id for record in page] == ["C1"]  # the name's search key moved too


def write_null_tax_id_for(provider_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the directory write ``provider_id``'s row with no Tax ID, which the table refuses."""
    real_row = sql_directory._provider_row

    def tax_id_null(record: ProviderRecord) -> tuple[str | None, ...]:
        row = real_row(record)
        return (row[0], None, *row[2:]) if record.provider_id == provider_id else row

    monkeypatch.setattr(sql_directory, "_provider_row", tax_id_null)


def test_a_batch_the_database_refuses_leaves_the_table_as_it_was(
    sql: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row the database refuses in the last chunk undoes the updates and inserts before it."""
    directory = SqlProviderDirectory(sql.engine)
    before = records(4)
    directory.upsert(before)
    monkeypatch.setattr(sql_directory, "UPSERT_CHUNK", 2)
    write_null_tax_id_for("N1", monkeypatch)
    batch = [*(attrs.evolve(record, name="Changed") for record in before), *records(2, "N")]
    with pytest.raises(sa.exc.IntegrityError):
        directory.upsert(batch)
    assert [directory.by_provider_id(record.provider_id) for record in before] == before
    assert count_rows(sql, "identity_providers") == 4


def test_purge_forgets_only_expired_states(sql: Target) -> None:
    """Ended locks and stale runs go; running ones stay."""
    lockouts = SqlLockoutStore(sql.engine)
    lockouts.record_failure("ended", now=NOW - 2 * DAY, max_failures=1, lock_for=DAY)
    lockouts.record_failure("stale", now=NOW - DAY, max_failures=5, lock_for=DAY)
    lockouts.record_failure("locked", now=NOW, max_failures=1, lock_for=DAY)
    lockouts.record_failure("counting", now=NOW, max_failures=5, lock_for=DAY)
    assert lockouts.purge(NOW) == 2
    assert [lockouts.get(key) is None for key in ("ended", "stale", "locked", "counting")] == [
        True,
        True,
        False,
        False,
    ]


def test_naive_datetimes_are_refused(sql: Target) -> None:
    """A time without a zone is ambiguous, so it never reaches the database."""
    with pytest.raises(ValueError, match="naive"):
        SqlLockoutStore(sql.engine).record_failure(
            "k", now=NOW.replace(tzinfo=None), max_failures=5, lock_for=DAY
        )
    assert SqlLockoutStore(sql.engine).get("k") is None


def test_datetimes_are_stored_as_documented(sql: Target) -> None:
    """SQLite keeps integer microseconds since the epoch; PostgreSQL keeps timestamptz."""
    SqlAccountRepository(sql.engine).add(make_account(1))
    column = metadata.tables["identity_accounts"].c.created_at
    as_text = sa.cast(column, sa.Text)
    with sql.engine.connect() as conn:
        if sql.engine.dialect.name == "sqlite":
            stored = conn.execute(sa.select(sa.func.typeof(column), as_text)).one()
            assert tuple(stored) == ("integer", "1767603600123456")
        else:
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
            kind = sa.cast(sa.func.pg_typeof(column), sa.Text)
            stored = conn.execute(sa.select(kind, as_text)).one()
            assert tuple(stored) == ("timestamp with time zone", "2026-01-05 09:00:00.123456+00")


def test_the_documented_schema_is_the_one_the_code_makes() -> None:
    """docs/storage.md lists exactly schema_sql('postgresql')."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "storage.md"
    assert f"```sql\n{schema_sql('postgresql')}```" in docs.read_text(encoding="utf-8")


def test_schema_sql_refuses_other_databases() -> None:
    """Only the two supported dialects have a listing."""
    with pytest.raises(ConfigurationError):
        schema_sql("mysql")


def test_the_schema_sql_applied_by_hand_serves_the_stores(sql: Target, tmp_path: Path) -> None:
    """A DBA who runs schema_sql's statements by hand gets tables every store works with."""
    dialect = sql.engine.dialect.name
    database = Database(f"sqlite:///{tmp_path / 'by-hand.db'}")
    if dialect == "postgresql":
        database = Database(sql.database.url, schema=f"pi_by_hand_{secrets.token_hex(4)}")
        with sql.engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{database.schema}"')
    engine = database.engine()
    try:
        with engine.begin() as conn:
            if database.schema is not None:
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{database.schema}"')
            for statement in schema_sql(dialect).split(";\n\n"):
                conn.exec_driver_sql(statement.rstrip(";\n"))
        SqlAccountRepository(engine).add(make_account(1))
        assert SqlAccountRepository(engine).find_by_username("user1") == make_account(1)
        SqlProviderDirectory(engine).upsert(sample_records())
        assert (
            SqlLockoutStore(engine)
            .record_failure("k", now=NOW, max_failures=1, lock_for=DAY)
            .locked_until
            == NOW + DAY
        )
    finally:
        engine.dispose()
        if database.schema is not None:
            with sql.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{database.schema}" CASCADE')


def test_the_sql_package_exports_the_names_the_module_did() -> None:
    """The sql package lists and imports exactly the public names of the old sql module."""
    from provider_identity.adapters import sql

    expected = {
        "SQLITE_MIN_VERSION",
        "SqlAccountRepository",
        "SqlEventSink",
        "SqlFactorStore",
        "SqlLockoutStore",
        "SqlOutboxStore",
        "SqlProviderDirectory",
        "create_schema",
        "drop_schema",
        "make_engine",
        "metadata",
        "schema_sql",
        "transaction",
    }
    assert set(sql.__all__) == expected
    assert all(getattr(sql, name) is not None for name in expected)
    assert sql.SqlProviderDirectory.__module__ == "provider_identity.adapters.sql.directory"


#: A plan's own category at the longest code ProviderCategory takes (50 characters).
LONGEST_CATEGORY = "skilled_nursing_and_long_term_care_facility_groups"


def test_a_category_code_of_the_longest_length_a_plan_may_declare_is_stored(sql: Target) -> None:
    """ProviderCategory takes 50-character codes; the directory column keeps all 50."""
    category = ProviderCategory(LONGEST_CATEGORY)
    record = attrs.evolve(records(1)[0], category=category)
    directory = SqlProviderDirectory(sql.engine)
    directory.upsert([record])
    stored = directory.by_provider_id(record.provider_id)
    assert stored is not None
    assert stored.category == category


def test_create_schema_widens_the_category_column_of_an_older_table(postgres: Target) -> None:
    """A directory made when the column held 32 characters takes a 50-character category."""
    with postgres.engine.begin() as conn:
        at = conn.schema_for_object(metadata.tables["identity_providers"])
        prefix = "" if at is None else f'"{at}".'
        conn.exec_driver_sql(
            f"ALTER TABLE {prefix}identity_providers ALTER COLUMN category TYPE varchar(32)"
        )
    create_schema(postgres.engine)
    record = attrs.evolve(records(1)[0], category=ProviderCategory(LONGEST_CATEGORY))
    directory = SqlProviderDirectory(postgres.engine)
    directory.upsert([record])
    assert directory.by_provider_id(record.provider_id) == record


def test_prepared_records_are_stored_only_when_the_merge_runs_and_it_may_run_on_another_thread(
    sql: Target,
) -> None:
    """Step one sends the batch (nobody sees it); step two, on a thread of its own, stores it."""
    directory = SqlProviderDirectory(sql.engine)
    batch = [*records(3), attrs.evolve(records(1)[0], name="Given Last")]
    merge = directory.prepare_upsert(batch)
    assert directory.by_provider_id("B0") is None
    assert count_rows(sql, "identity_providers") == 0
    counts: list[int] = []
    worker = threading.Thread(target=lambda: counts.append(merge()))
    worker.start()
    worker.join(30)
    assert counts == [3]
    assert [directory.by_provider_id(f"B{n}") for n in range(3)] == [batch[3], *batch[1:3]]
    assert sql.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_refused_item_prepares_nothing_and_takes_no_connection(sql: Target) -> None:
    """Items are checked before a connection is taken; an empty batch has nothing to merge."""
    directory = SqlProviderDirectory(sql.engine)
    with pytest.raises(InvalidInput) as caught:
        directory.prepare_upsert([*records(2), "B9"])  # type: ignore[list-item]
    assert [error.code for error in caught.value.errors] == ["wrong_type"]
    assert sql.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert directory.prepare_upsert([])() == 0


def test_a_prepared_batch_the_database_refuses_leaves_the_table_and_the_pool_as_they_were(
    sql: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge is where constraints bite: it fails, rolls back, gives the connection back."""
    directory = SqlProviderDirectory(sql.engine)
    before = records(2)
    directory.upsert(before)
    write_null_tax_id_for("N0", monkeypatch)
    merge = directory.prepare_upsert(
        [*(attrs.evolve(record, name="Changed") for record in before), *records(1, "N")]
    )
    with pytest.raises(sa.exc.IntegrityError):
        merge()
    assert [directory.by_provider_id(record.provider_id) for record in before] == before
    assert count_rows(sql, "identity_providers") == 2
    assert sql.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_on_a_callers_connection_prepare_writes_at_once_in_the_callers_transaction(
    sql: Target,
) -> None:
    """The caller owns the transaction: both steps run in it, and its rollback undoes them."""
    with sql.engine.connect() as conn:
        directory = SqlProviderDirectory(conn)
        merge = directory.prepare_upsert(records(2))
        assert directory.by_provider_id("B1") == records(2)[1]
        assert merge() == 2
        conn.rollback()
    assert count_rows(sql, "identity_providers") == 0


def test_a_merge_whose_connection_the_server_ended_is_store_unavailable(postgres: Target) -> None:
    """The batch was sent, then the server went: the merge says so, with nothing chained to it."""
    engine = postgres.database.engine()
    directory = SqlProviderDirectory(engine)
    merge = directory.prepare_upsert(records(2))
    with postgres.engine.connect() as other:
        pid = other.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE state LIKE 'idle in transaction%%'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    end_backend(postgres, pid)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            merge()
        assert caught.value.__context__ is None
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    assert count_rows(postgres, "identity_providers") == 0
