"""SupportDesk: what support staff do for a caller, each call carrying the agent's id.

The seed asks providers to keep their security answer "available, as you may
need to answer your security question to confirm your identity when calling
for support". The desk runs on the ports of an :class:`IdentityService` and
through that service's own steps (the answer check and its limit of 3, the
reset link, the lockout), so a rule lives in one place. Every call records
one audit event whose ``detail`` holds ``agent`` (the acting agent's id).

A verified answer never logs anyone in and never sets a password: it opens
a short window (``verification_window``, 15 minutes by default) in which
*this agent* may send a reset link to the account's *stored* address,
correct the address of a *pending* account and resend its activation, or
remove the second factors of a caller who lost them all.
Looking an account up, unlocking, deactivating and reactivating it and
reading its history need no verification; they are staff actions, audited
like the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from provider_identity import _checks
from provider_identity._fields import checked_text
from provider_identity._flows.base import _Draft
from provider_identity.accounts import (
    Account,
    DeactivationReason,
    canonical_email,
    canonical_username,
)
from provider_identity.errors import (
    AccountNotFound,
    CallerNotVerified,
    ConfigurationError,
    InvalidInput,
    InvalidTransition,
    UsernameUnavailable,
)
from provider_identity.events import Action, AuditEvent
from provider_identity.lockout import LockoutPolicy, LockoutTracker
from provider_identity.ports import EventLog
from provider_identity.providers import normalize_provider_id
from provider_identity.service import AccountView, IdentityService
from provider_identity.tokens import TokenPurpose

__all__ = [
    "AGENT_ID_MAX_LENGTH",
    "DEFAULT_HISTORY_LIMIT",
    "DEFAULT_VERIFICATION_WINDOW",
    "CallerVerification",
    "DeskView",
    "SupportDesk",
]

AGENT_ID_MAX_LENGTH = 128
#: How long a verified answer lets the agent act for the caller.
DEFAULT_VERIFICATION_WINDOW = timedelta(minutes=15)
#: How many events :meth:`SupportDesk.history` returns unless told otherwise.
DEFAULT_HISTORY_LIMIT = 100


@attrs.frozen(kw_only=True)
class DeskView:
    """What an agent sees of an account: no hash, no answer, no token.

    Attributes:
        account: The account as any caller may see it (status, address, provider ...).
        login_failures: Consecutive wrong passwords counted now.
        locked_until: When the login lock ends; ``None`` if not locked.
        answer_locked_until: When the security-answer check may be tried again
            after 3 wrong answers; ``None`` if it may be tried now.
        pending_expires_at: When a pending account expires (the service's
            ``pending_lifetime`` after registration); ``None`` otherwise.
        agreement_version: The Provider Agreement version the account accepted.
        agreement_accepted_at: When it accepted it.
        agreement_required: The service's current agreement version is another one.
        created_at: When the account was registered.
        activated_at: When it was activated; ``None`` if never.
        deactivated_at: When it was deactivated; ``None`` unless it is.
        deactivation_reason: Why it was deactivated; ``None`` unless it is.
        pending_email_requested: An email change waits for its confirmation link.
    """

    account: AccountView
    login_failures: int
    locked_until: datetime | None
    answer_locked_until: datetime | None
    pending_expires_at: datetime | None
    agreement_version: str
    agreement_accepted_at: datetime
    agreement_required: bool
    created_at: datetime
    activated_at: datetime | None
    deactivated_at: datetime | None
    deactivation_reason: DeactivationReason | None
    pending_email_requested: bool


@attrs.frozen(kw_only=True)
class CallerVerification:
    """A verified security answer: what the agent may do, and until when.

    Attributes:
        account_id: The account whose caller answered.
        agent_id: The agent who asked.
        valid_until: The end of the window for the actions that need it.
    """

    account_id: str
    agent_id: str
    valid_until: datetime


def _service(value: IdentityService) -> IdentityService:
    _checks.instance_of(IdentityService).check("SupportDesk.service", value)
    return value


@attrs.frozen(kw_only=True)
class SupportDesk:
    """Support staff's flows over an :class:`IdentityService`'s ports.

    Attributes:
        service: The portal's service: its stores, clock, mailer, policies.
        trail: Where :meth:`history` reads the audit trail (the same store as
            ``service.events``: a ``SqlEventSink`` or ``MemoryEventLog``).
            Without one, :meth:`history` raises ``ConfigurationError``.
        verification_window: How long a verified answer lets the agent act.
    """

    service: IdentityService = attrs.field(converter=_service)
    trail: EventLog | None = attrs.field(
        default=None, validator=attrs.validators.optional(_checks.implements("query"))
    )
    verification_window: timedelta = attrs.field(
        default=DEFAULT_VERIFICATION_WINDOW, validator=_checks.duration()
    )

    _verified: LockoutTracker = attrs.field(init=False, repr=False)

    @_verified.default
    def _build_verified(self) -> LockoutTracker:
        # A verification is a one-failure "lock" that lasts the window: every
        # LockoutStore keeps it atomically, expires it on time and never extends it.
        return LockoutTracker(
            store=self.service.lockouts,
            policy=LockoutPolicy(max_failures=1, lock_duration=self.verification_window),
            clock=self.service.clock,
            namespace="desk-verified",
        )

    # -- looking up -------------------------------------------------------------------

    def find_account(
        self,
        agent_id: str,
        *,
        username: str | None = None,
        email: str | None = None,
        provider_id: str | None = None,
    ) -> DeskView:
        """The account with this user name, email or Provider ID (exactly one of them).

        Raises:
            InvalidInput: no or several keys, or one that is not well formed.
            AccountNotFound: no account has it.
        """
        with self.service._audit(
            Action.LOOK_UP_ACCOUNT, None, agent=self._agent(agent_id)
        ) as audit:
            given = {
                name: value
                for name, value in (
                    ("username", username),
                    ("email", email),
                    ("provider_id", provider_id),
                )
                if value is not None
            }
            if len(given) != 1:
                raise InvalidInput.single(
                    "lookup", "one_key", "Give exactly one of user name, email or Provider ID."
                )
            ((field, value),) = given.items()
            audit.detail["lookup"] = field
            accounts = self.service.accounts
            if field == "username":
                account = accounts.find_by_username(canonical_username(value))
            elif field == "email":
                account = accounts.find_by_email(canonical_email(value).key)
            else:
                account = accounts.find_by_provider_id(normalize_provider_id(value))
            if account is None:
                raise AccountNotFound
            audit.username, audit.account_id = account.username_key, account.id
            return self._view(account)

    def _view(self, account: Account) -> DeskView:
        service = self.service
        login = service.lockout_status(account.username_key)
        answers = service._answers.check(account.id)
        return DeskView(
            account=AccountView.of(account),
            login_failures=login.failures,
            locked_until=login.locked_until,
            answer_locked_until=answers.locked_until,
            pending_expires_at=(
                account.pending_expires_at(service.pending_lifetime) if account.is_pending else None
            ),
            agreement_version=account.agreement_version,
            agreement_accepted_at=account.agreement_accepted_at,
            agreement_required=account.needs_agreement(service.agreement_version),
            created_at=account.created_at,
            activated_at=account.activated_at,
            deactivated_at=account.deactivated_at,
            deactivation_reason=account.deactivation_reason,
            pending_email_requested=account.pending_email is not None,
        )

    # -- the caller's answer ------------------------------------------------------------

    def verify_caller(self, agent_id: str, account_id: str, answer: str) -> CallerVerification:
        """Check the caller's security answer; if right, open the agent's window.

        The same check as :meth:`IdentityService.verify_security_answer`,
        with the same limit (3 wrong answers lock the check for 24 hours).

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: the answer is not usable text.
            SecurityAnswerMismatch: wrong; ``attempts_left`` says how many remain.
            SecurityAnswerLocked: too many wrong answers; ``locked_until`` says until when.
        """
        agent = self._agent(agent_id)
        with self.service._audit(Action.VERIFY_SECURITY_ANSWER, None, agent=agent) as audit:
            account = self._account(account_id, audit)
            self.service._check_answer(account, self.service._answer_text(answer))
            opened = self._verified.record_failure(self._window_key(account, agent))
            assert opened.locked_until is not None  # noqa: S101  # one "failure" locks
            audit.detail["verified_until"] = opened.locked_until.isoformat()
            return CallerVerification(
                account_id=account.id, agent_id=agent, valid_until=opened.locked_until
            )

    def _window_key(self, account: Account, agent: str) -> str:
        return f"{account.id}:{agent}"

    def _is_verified(self, account: Account, agent: str) -> bool:
        return self._verified.check(self._window_key(account, agent)).is_locked

    def _require_verified(self, account: Account, agent: str) -> None:
        if not self._is_verified(account, agent):
            raise CallerNotVerified

    # -- actions after a verified answer ----------------------------------------------

    def send_reset_link(self, agent_id: str, account_id: str) -> bool:
        """Mail a reset link to the account's *stored* address; the agent never sees it.

        Needs a verified answer from this agent within the window. Returns
        whether the mail was handed over (a failed send is in the audit event).

        Raises:
            AccountNotFound: no account has ``account_id``.
            CallerNotVerified: no verified answer by this agent in the window.
            InvalidTransition: the account is deactivated (reactivate it first).
        """
        agent = self._agent(agent_id)
        service = self.service
        with service._audit(Action.REQUEST_PASSWORD_RESET, None, agent=agent) as audit:
            account = self._account(account_id, audit)
            self._require_verified(account, agent)
            if account.is_deactivated:
                raise InvalidTransition("The account is deactivated.")
            message = service._linked_message(
                TokenPurpose.PASSWORD_RESET, account, account.username_key
            )
            sent = service._deliver(message, audit)
            if not sent:
                audit.outcome = "not_sent"
            return sent

    def correct_pending_email(self, agent_id: str, account_id: str, new_email: str) -> bool:
        """Fix the address of a pending account and send its activation there.

        For the caller who registered with a mistyped address: the old
        activation link dies (the credential version moves on), the new
        address takes the old one's place in the key space atomically, and a
        fresh activation mail goes to it. Returns whether that mail was handed over.

        Raises:
            AccountNotFound: no account has ``account_id``.
            CallerNotVerified: no verified answer by this agent in the window.
            InvalidTransition: the account is not pending.
            InvalidInput: ``new_email`` is not an address, or is the current one.
            UsernameUnavailable: the address is some account's username or email.
        """
        agent = self._agent(agent_id)
        service = self.service
        with service._audit(Action.CORRECT_PENDING_EMAIL, None, agent=agent) as audit:
            account = self._account(account_id, audit)
            self._require_verified(account, agent)
            if not account.is_pending:
                raise InvalidTransition(f"The account is {account.status.value}, not pending.")
            email = canonical_email(new_email)
            if email.key == account.email_key:
                raise InvalidInput.single(
                    "email", "unchanged", "That is the account's email address already."
                )
            if service.accounts.key_taken(email.key):
                raise UsernameUnavailable("email")
            changed = account.with_email(email.address, email.key)
            service.accounts.change_email(changed, expected_version=account.credential_version)
            sent = service._deliver(service._activation_message(changed), audit)
            if not sent:
                audit.outcome = "not_sent"
            return sent

    def reset_factors(self, agent_id: str, account_id: str) -> None:
        """Remove every second factor of a caller who lost them all (phone and recovery codes).

        Needs a verified answer from this agent within the window; then it is
        :meth:`IdentityService.reset_factors` (a notice to the stored address,
        the password and lockout left alone), with this agent in its event.

        Raises:
            AccountNotFound: no account has ``account_id``.
            CallerNotVerified: no verified answer by this agent in the window.
            SecondFactorsOff: the service has no second factors.
        """
        agent = self._agent(agent_id)
        service = self.service
        account = service.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None or not self._is_verified(account, agent):
            with service._audit(Action.RESET_FACTORS, None, agent=agent) as audit:
                self._account(account_id, audit)
                raise CallerNotVerified
        service.reset_factors(account.id, agent_id=agent)

    # -- staff actions ------------------------------------------------------------------

    def unlock(self, agent_id: str, account_id: str) -> None:
        """End the account's login lock and zero its count.

        Raises:
            AccountNotFound: no account has ``account_id``.
        """
        with self.service._audit(Action.UNLOCK, None, agent=self._agent(agent_id)) as audit:
            account = self._account(account_id, audit)
            self.service._logins.unlock(account.username_key)

    def deactivate(
        self,
        agent_id: str,
        account_id: str,
        reason: DeactivationReason = DeactivationReason.ADMINISTRATOR,
    ) -> DeskView:
        """Switch the account off (no login, reset or mail; its links and sessions die).

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: ``reason`` is not a :class:`DeactivationReason`.
            InvalidTransition: the account is deactivated already.
        """
        with self.service._audit(Action.DEACTIVATE, None, agent=self._agent(agent_id)) as audit:
            account = self._account(account_id, audit)
            return self._view(self.service._deactivate(account, reason, audit))

    def reactivate(self, agent_id: str, account_id: str) -> DeskView:
        """Switch a deactivated account on again (active, or pending if it never was).

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidTransition: the account is not deactivated.
        """
        service = self.service
        with service._audit(Action.REACTIVATE, None, agent=self._agent(agent_id)) as audit:
            account = self._account(account_id, audit)
            changed = account.reactivated(service.clock.now())
            service.accounts.replace(changed, expected_version=account.credential_version)
            return self._view(changed)

    def history(
        self,
        agent_id: str,
        account_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> Sequence[AuditEvent]:
        """The account's audit events, oldest first (the newest ``limit`` in the window).

        This look is itself audited, after the query (so it is not in its own answer).

        Raises:
            ConfigurationError: the desk has no ``trail``.
            AccountNotFound: no account has ``account_id``.
            InvalidInput: a bad window or limit.
        """
        if self.trail is None:
            raise ConfigurationError("SupportDesk.history needs a trail (an EventLog).")
        trail = self.trail
        with self.service._audit(Action.VIEW_HISTORY, None, agent=self._agent(agent_id)) as audit:
            account = self._account(account_id, audit)
            return trail.query(account_id=account.id, since=since, until=until, limit=limit)

    # -- plumbing ----------------------------------------------------------------------

    def _agent(self, agent_id: object) -> str:
        return checked_text(
            "agent_id", agent_id, label="Agent ID", max_length=AGENT_ID_MAX_LENGTH
        ).strip()

    def _account(self, account_id: object, audit: _Draft) -> Account:
        return self.service._account(account_id, audit)
