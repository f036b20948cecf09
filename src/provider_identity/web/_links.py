"""What a link would do, looked at without spending it."""

from __future__ import annotations

import enum

from provider_identity.errors import TokenError, TokenExpired
from provider_identity.service import IdentityService
from provider_identity.tokens import TokenPurpose

__all__ = ["LinkState", "peek_link"]


class LinkState(enum.Enum):
    """The state of an activation or reset link."""

    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    INVALID = "invalid"


def peek_link(service: IdentityService, token: object, purpose: TokenPurpose) -> LinkState:
    """The state of the link ``token`` for ``purpose``; reads, changes nothing, audits nothing.

    For a GET of the link's page: show the form only for a valid link, the
    reason otherwise. Spend the link only on POST (mail scanners follow GET
    links), where :meth:`IdentityService.activate` or
    :meth:`~IdentityService.reset_password` decides again.
    """
    try:
        claims = service.tokens.verify(token, purpose)
    except TokenExpired:
        return LinkState.EXPIRED
    except TokenError:
        return LinkState.INVALID
    account = service.accounts.get(claims.account_id)
    if account is None:
        return LinkState.INVALID
    if account.credential_version != claims.credential_version:
        return LinkState.USED
    if purpose is TokenPurpose.ACTIVATION and account.is_active:
        return LinkState.USED
    return LinkState.VALID
