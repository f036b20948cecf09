"""Flows against the provider directory: reconcile, accessible_providers and its pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from provider_identity._flows.base import ServiceBase, _check_client_address
from provider_identity._flows.results import ReconcileReport
from provider_identity.accounts import Account, AccountStatus, DeactivationReason
from provider_identity.errors import AccountNotFound, ConcurrentUpdate, InvalidInput
from provider_identity.events import Action
from provider_identity.ports import ProviderPage, SearchableDirectory
from provider_identity.providers import (
    ProviderRecord,
    ProviderSearch,
    ProviderType,
    normalize_provider_id,
    page_of,
)

#: Records per page of :meth:`IdentityService.accessible_providers_page` by default.
DEFAULT_PAGE_SIZE = 50
#: The most records one page may hold.
MAX_PAGE_SIZE = 500


class DirectoryFlows(ServiceBase):
    """The accounts against the provider directory; mixed into IdentityService."""

    __slots__ = ()

    def reconcile(self, *, client_address: str | None = None) -> ReconcileReport:
        """Bring accounts in line with the provider directory; safe to run again.

        An account whose record is gone, or has an ``end_date`` on or before
        today, is deactivated (``provider_left_directory``); one deactivated
        for that reason whose record is back (and not ended) is reactivated.
        Each change is one audit event. An account that changes meanwhile is
        left for the next run.
        """
        _check_client_address(client_address)
        deactivated: list[str] = []
        reactivated: list[str] = []
        today = self.clock.now().date()
        for account in (
            *self.accounts.find_by_status(AccountStatus.ACTIVE),
            *self.accounts.find_by_status(AccountStatus.PENDING),
        ):
            if self._listed(account.provider_id, today):
                continue
            with self._audit(Action.DEACTIVATE, client_address) as audit:
                audit.username, audit.account_id = account.username_key, account.id
                try:
                    self._deactivate(account, DeactivationReason.PROVIDER_LEFT_DIRECTORY, audit)
                except (ConcurrentUpdate, AccountNotFound) as err:  # changed meanwhile
                    audit.outcome = err.code
                    continue
                deactivated.append(account.username)
        for account in self.accounts.find_by_status(AccountStatus.DEACTIVATED):
            if account.deactivation_reason is not DeactivationReason.PROVIDER_LEFT_DIRECTORY:
                continue
            if not self._listed(account.provider_id, today):
                continue
            with self._audit(Action.REACTIVATE, client_address) as audit:
                audit.username, audit.account_id = account.username_key, account.id
                audit.detail["reason"] = "provider_back_in_directory"
                changed = account.reactivated(self.clock.now())
                try:
                    self.accounts.replace(changed, expected_version=account.credential_version)
                except (ConcurrentUpdate, AccountNotFound) as err:
                    audit.outcome = err.code
                    continue
                reactivated.append(account.username)
        return ReconcileReport(
            deactivated=tuple(sorted(deactivated)), reactivated=tuple(sorted(reactivated))
        )

    def _listed(self, provider_id: str, today: date) -> bool:
        record = self.directory.by_provider_id(provider_id)
        return record is not None and record.is_current_on(today)

    def accessible_providers(self, account_id: str) -> Sequence[ProviderRecord]:
        """The providers an account may see: its own record, or every record under a Group's Tax ID.

        Looked up live, so a provider added to the Tax ID later is visible.

        Raises:
            AccountNotFound: no account has ``account_id``.
        """
        account, record = self._own_record(account_id)
        if record is None:
            return ()
        if account.provider_type is ProviderType.GROUP:
            return tuple(self.directory.by_tax_id(record.tax_id))
        return (record,)

    def accessible_providers_page(
        self,
        account_id: str,
        *,
        after: str | None = None,
        size: int = DEFAULT_PAGE_SIZE,
        search: str | None = None,
    ) -> ProviderPage:
        """One page of :meth:`accessible_providers`, optionally searched; for groups of thousands.

        Args:
            account_id: The account.
            after: ``next_after`` of the previous page; ``None`` for the first.
            size: Records per page, 1 to :data:`MAX_PAGE_SIZE`.
            search: A Provider ID or NPI start, or part of a name
                (see :class:`~provider_identity.providers.ProviderSearch`);
                blank or ``None`` lists every provider.

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: ``after``, ``size`` or ``search`` is not valid (fields
                ``after``, ``size``, ``search``).
        """
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            code = "out_of_range" if isinstance(size, int) else "wrong_type"
            raise InvalidInput.single(
                "size", code, f"size must be a whole number from 1 to {MAX_PAGE_SIZE}."
            )
        start = None if after is None else normalize_provider_id(after, field="after")
        wanted = ProviderSearch.parse(search) if search is not None else None
        account, record = self._own_record(account_id)
        if record is None:
            return ProviderPage(records=(), next_after=None)
        if account.provider_type is not ProviderType.GROUP:
            mine = (start is None or record.provider_id > start) and (
                wanted is None or wanted.matches(record)
            )
            return ProviderPage(records=(record,) if mine else (), next_after=None)
        directory = self.directory
        if isinstance(directory, SearchableDirectory):
            found = directory.page_by_tax_id(
                record.tax_id, after=start, limit=size + 1, search=wanted
            )
        else:
            found = page_of(
                directory.by_tax_id(record.tax_id), after=start, limit=size + 1, search=wanted
            )
        records = tuple(found[:size])
        more = len(found) > size
        return ProviderPage(records=records, next_after=records[-1].provider_id if more else None)

    def _own_record(self, account_id: str) -> tuple[Account, ProviderRecord | None]:
        account = self.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise AccountNotFound
        return account, self.directory.by_provider_id(account.provider_id)
