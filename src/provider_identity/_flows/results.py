"""The results of :class:`~provider_identity.IdentityService`'s flows.

Documented (and imported) as ``provider_identity.service.AccountView`` and so on.
"""

from __future__ import annotations

import attrs

from provider_identity.accounts import Account, AccountStatus
from provider_identity.providers import ProviderType

__all__ = ["AccountView", "LoginResult", "ReconcileReport", "RegistrationResult"]


@attrs.frozen(kw_only=True)
class AccountView:
    """What callers may show or keep about an account: no hash, no answer."""

    id: str
    username: str
    email: str
    status: AccountStatus
    provider_type: ProviderType
    provider_id: str
    security_question: str
    credential_version: int

    @classmethod
    def of(cls, account: Account) -> AccountView:
        """The view of ``account``."""
        return cls(
            id=account.id,
            username=account.username,
            email=account.email,
            status=account.status,
            provider_type=account.provider_type,
            provider_id=account.provider_id,
            security_question=account.security_question,
            credential_version=account.credential_version,
        )


@attrs.frozen(kw_only=True)
class RegistrationResult:
    """A finished registration: a pending account, and whether its activation mail went out."""

    account: AccountView
    activation_sent: bool


@attrs.frozen(kw_only=True)
class LoginResult:
    """A successful login.

    Attributes:
        account: The account logged in to. Keep ``account.credential_version``
            in the session and check it with :meth:`IdentityService.is_session_current`.
        rehashed: The stored hash was upgraded to the current parameters.
        agreement_required: The account accepted an older Provider Agreement than
            the current one: show it, and call :meth:`IdentityService.accept_agreement`.
        device_token: With ``device_lockout`` on: a signed device token to keep
            in a long-lived cookie and pass back as ``login(device_token=)``.
        enrolment_due: Second factors are required and the account has none:
            send the user to the set-up page before anything else.
    """

    account: AccountView
    rehashed: bool
    agreement_required: bool = False
    device_token: str | None = attrs.field(default=None, repr=False)
    enrolment_due: bool = False


@attrs.frozen(kw_only=True)
class ReconcileReport:
    """What :meth:`IdentityService.reconcile` changed: the usernames, sorted.

    Attributes:
        deactivated: Accounts whose provider record is gone or ended.
        reactivated: Accounts deactivated for that reason whose record is back.
    """

    deactivated: tuple[str, ...] = ()
    reactivated: tuple[str, ...] = ()
