"""Login sessions a web framework keeps in its (signed cookie) session, ended for real on logout."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping, MutableMapping
from datetime import timedelta

import attrs

from provider_identity import _checks
from provider_identity.ports import LockoutStore
from provider_identity.service import AccountView, IdentityService, LoginResult

__all__ = ["DEFAULT_SESSION_LIFETIME", "SessionGuard", "csrf_token", "csrf_valid"]

#: How long a login session lasts at most, however active.
DEFAULT_SESSION_LIFETIME = timedelta(hours=8)

_REVOKED = "session-revoked"


def _new_session_id() -> str:
    return secrets.token_urlsafe(18)


@attrs.frozen(kw_only=True)
class SessionGuard:
    """Starts, checks and ends login sessions kept in a framework's session mapping.

    The mapping holds only opaque values (a random session id, the account
    id, its credential version, the start time). Each request's check
    (:meth:`current`) refuses a session that is older than ``lifetime``, was
    ended by :meth:`end` (a revocation list, so a copied cookie dies with the
    logout), or whose account's credential version moved on (the password was
    changed or reset), or whose account is no longer active.

    Attributes:
        service: The identity service (accounts and clock).
        revocations: Where ended sessions are listed until they would have
            expired anyway: any :class:`~provider_identity.LockoutStore`
            (memory, SQL, Redis), shared by every web process.
        lifetime: The longest a session lasts.
        new_session_id: Makes random session ids.
    """

    service: IdentityService
    revocations: LockoutStore = attrs.field(validator=_checks.implements("record_failure", "get"))
    lifetime: timedelta = attrs.field(
        default=DEFAULT_SESSION_LIFETIME, validator=_checks.duration()
    )
    new_session_id: Callable[[], str] = attrs.field(
        default=_new_session_id, validator=_checks.callable_()
    )

    def start(self, login: LoginResult, session: MutableMapping[str, object]) -> None:
        """Begin a session for ``login`` in ``session`` (cleared first: no fixation)."""
        session.clear()
        session.update(
            {
                "sid": self.new_session_id(),
                "account_id": login.account.id,
                "credential_version": login.account.credential_version,
                "since": int(self.service.clock.now().timestamp()),
            }
        )

    def current(self, session: Mapping[str, object]) -> AccountView | None:
        """The account ``session`` is logged in to, or ``None`` (check this on every request)."""
        sid, account_id = session.get("sid"), session.get("account_id")
        version, since = session.get("credential_version"), session.get("since")
        if not (
            isinstance(sid, str)
            and isinstance(account_id, str)
            and type(version) is int
            and type(since) is int
        ):
            return None
        now = self.service.clock.now()
        if not 0 <= now.timestamp() - since <= self.lifetime.total_seconds():
            return None
        state = self.revocations.get(f"{_REVOKED}:{sid}")
        if state is not None and not state.is_expired(now):
            return None
        account = self.service.accounts.get(account_id)
        if account is None or not account.is_active or account.credential_version != version:
            return None
        return AccountView.of(account)

    def end(self, session: MutableMapping[str, object]) -> None:
        """Log out: list the session as ended (so no copy of it works) and clear ``session``."""
        sid = session.get("sid")
        if isinstance(sid, str):
            self.revocations.record_failure(
                f"{_REVOKED}:{sid}",
                now=self.service.clock.now(),
                max_failures=1,
                lock_for=self.lifetime,
            )
        session.clear()


def csrf_token(session: MutableMapping[str, object]) -> str:
    """The session's CSRF token (made on first use): put it in every form as ``csrf_token``."""
    token = session.get("csrf_token")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def csrf_valid(session: Mapping[str, object], submitted: object) -> bool:
    """True if ``submitted`` is the session's CSRF token (compared in constant time).

    An empty token is never valid, even where some code stored one in the session.
    """
    token = session.get("csrf_token")
    return (
        isinstance(token, str)
        and isinstance(submitted, str)
        and bool(token)
        and hmac.compare_digest(token.encode(), submitted.encode(errors="surrogatepass"))
    )
