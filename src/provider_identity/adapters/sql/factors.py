"""The second-factor store in ``identity_factors``: one row per account, compare-and-set."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from provider_identity.adapters.sql._base import _Store
from provider_identity.adapters.sql._schema import _factors
from provider_identity.errors import ConcurrentUpdate
from provider_identity.mfa.records import FactorRecord

__all__ = ["SqlFactorStore"]


class SqlFactorStore(_Store):
    """Factor records in ``identity_factors``.

    :meth:`put` is one ``UPDATE .. WHERE revision = :expected`` (or an
    ``INSERT`` for a first record, refused by the primary key if another
    request inserted first), so of two writes from one revision exactly one
    lands, on SQLite and PostgreSQL alike.
    """

    def get(self, account_id: str) -> FactorRecord | None:
        """The account's record, if any."""
        query = sa.select(_factors.c.revision, _factors.c.data).where(
            _factors.c.account_id == account_id
        )
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else FactorRecord.loads(account_id, row.revision, row.data)

    def put(self, record: FactorRecord, *, expected_revision: int) -> None:
        """Store ``record`` if the stored revision is still ``expected_revision`` (0: none).

        Raises:
            ConcurrentUpdate: another write came first.
        """
        if record.revision != expected_revision + 1:
            raise ConcurrentUpdate("A factor record's revision goes up by one per write.")
        values = {"revision": record.revision, "data": record.dumps()}
        try:
            with self._writing() as conn:
                if expected_revision == 0:
                    conn.execute(sa.insert(_factors).values(account_id=record.account_id, **values))
                    return
                done = conn.execute(
                    sa.update(_factors)
                    .where(
                        _factors.c.account_id == record.account_id,
                        _factors.c.revision == expected_revision,
                    )
                    .values(**values)
                )
                if done.rowcount != 1:
                    raise ConcurrentUpdate
        except IntegrityError:  # the first record, inserted by another request meanwhile
            error = ConcurrentUpdate()
            try:
                raise error
            finally:
                error.__context__ = None
