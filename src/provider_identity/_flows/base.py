"""The plumbing every flow of :class:`~provider_identity.IdentityService` shares.

:class:`ServiceBase` declares the service's fields for the type checker and
holds the helpers the flows (and the support desk) call: ``_audit`` (one
event per decision), ``_deliver`` and ``_hand_off`` (mail that never fails a
flow), ``_linked_message`` (link mail built alike for known and unknown
accounts), the account lookups and the rate-limit guard of the silent flows.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

import attrs

from provider_identity.accounts import Account
from provider_identity.errors import (
    AccountLocked,
    AccountNotFound,
    ConcurrentUpdate,
    IdentityError,
    InvalidCredentials,
    InvalidInput,
    SecurityAnswerLocked,
    TokenAlreadyUsed,
    TokenInvalid,
)
from provider_identity.events import Action, AuditEvent
from provider_identity.limits import LimitKind
from provider_identity.mail import activation_message, password_reset_message
from provider_identity.tokens import TokenPurpose

if TYPE_CHECKING:
    from provider_identity.accounts import DeactivationReason
    from provider_identity.clock import Clock
    from provider_identity.limits import Limiter, RateLimits
    from provider_identity.lockout import LockoutPolicy, LockoutStatus, LockoutTracker, Throttle
    from provider_identity.mail import Branding
    from provider_identity.mfa.results import SecondFactorDue
    from provider_identity.passwords import PasswordHasher, PasswordPolicy
    from provider_identity.ports import (
        AccountRepository,
        DeliveryQueue,
        EventSink,
        HumanCheck,
        LockoutStore,
        Mailer,
        ProviderDirectory,
    )
    from provider_identity.providers import LineOfBusiness, ProviderCategory
    from provider_identity.registration import RegistrationMatcher
    from provider_identity.security_questions import SecurityQuestions
    from provider_identity.tokens import TokenIssuer

CLIENT_ADDRESS_MAX_LENGTH = 256

# The service's logger, under the name the docs give it.
_log = logging.getLogger("provider_identity.service")


@attrs.define
class _Draft:
    outcome: str = "success"
    username: str | None = None
    account_id: str | None = None
    detail: dict[str, str] = attrs.Factory(dict)


class ServiceBase:
    """The fields and shared helpers of IdentityService; the flow mixins build on it."""

    __slots__ = ()

    if TYPE_CHECKING:
        directory: ProviderDirectory
        accounts: AccountRepository
        lockouts: LockoutStore
        mailer: Mailer
        events: EventSink
        delivery: DeliveryQueue
        clock: Clock
        tokens: TokenIssuer
        hasher: PasswordHasher
        password_policy: PasswordPolicy
        lockout_policy: LockoutPolicy
        mail_throttle: LockoutPolicy
        security_questions: SecurityQuestions
        branding: Branding
        help_lines: Mapping[LineOfBusiness, str]
        group_categories: frozenset[ProviderCategory]
        agreement_version: str
        pending_lifetime: timedelta
        new_account_id: Callable[[], str]
        limits: RateLimits
        human_check: HumanCheck | None
        device_lockout: bool
        _matcher: RegistrationMatcher
        _logins: LockoutTracker
        _answers: LockoutTracker
        _mail: Throttle
        _limiter: Limiter
        _devices: LockoutTracker

        # Flows of one mixin that another calls.
        def has_second_factor(self, account_id: str) -> bool: ...

        def _second_step(self, account: Account) -> SecondFactorDue | bool: ...

        def _check_current_password(
            self, account: Account, password: object, audit: _Draft
        ) -> None: ...

        def _deactivate(
            self, account: Account, reason: DeactivationReason, audit: _Draft
        ) -> Account: ...

    def _activation_message(self, account: Account) -> EmailMessage:
        token = self.tokens.issue(
            TokenPurpose.ACTIVATION,
            account_id=account.id,
            credential_version=account.credential_version,
        )
        return activation_message(
            self.branding,
            to=account.email,
            username=account.username,
            token=token,
            now=self.clock.now(),
        )

    def _linked_message(
        self, purpose: TokenPurpose, account: Account | None, key: str
    ) -> EmailMessage:
        """The link mail of ``purpose``, built alike whether or not ``account`` exists.

        For no account it is addressed to the sender and never sent; building
        it anyway is what makes both paths cost the same.
        """
        token = self.tokens.issue(
            purpose,
            account_id=account.id if account else "",
            credential_version=account.credential_version if account else 0,
        )
        build = activation_message if purpose is TokenPurpose.ACTIVATION else password_reset_message
        return build(
            self.branding,
            to=account.email if account else self.branding.sender_address,
            username=account.username if account else key,
            token=token,
            now=self.clock.now(),
        )

    def _rate_limited(self, kind: LimitKind, client_address: str | None, audit: _Draft) -> bool:
        """The silent flows' guard: True (and the event says which limit) when over the limit.

        Forgot password, resend activation and the user-name reminder answer
        the same when limited, as they do when the mail throttle refuses.
        """
        if self._limiter.allow(kind, client_address, audit.detail):
            return False
        audit.outcome = "rate_limited"
        return True

    def _guard(
        self, audit: _Draft, client_address: str | None, human_check: str | None
    ) -> Callable[[LimitKind, str | None], None]:
        """The refusing flows' guard: ``guard(kind, key)`` counts one attempt or raises."""
        return functools.partial(
            self._limiter.check,
            detail=audit.detail,
            human_check=human_check,
            client_address=client_address,
        )

    def _hand_off(self, message: EmailMessage, *, send: bool) -> None:
        # One job on every path, built and submitted alike; unsent, it does
        # nothing. The job keeps the message either way, so that freeing it
        # (thousands of objects) is not the request's work on one path only.
        self.delivery.submit(functools.partial(self._deliver_later, message, send))

    def _deliver_later(self, message: EmailMessage, send: bool) -> None:
        if send:
            self._deliver(message, None)  # the event is gone by now: the log says it

    def _deliver(self, message: EmailMessage, audit: _Draft | None) -> bool:
        # Any failure of the mailer is a failed delivery, never an error page:
        # an answer that differed would tell known usernames from unknown ones.
        try:
            self.mailer.send(message)
        except Exception as err:  # see above; only the type is logged
            code = err.code if isinstance(err, IdentityError) else "mail_error"
            _log.warning("mail not sent: %s (%s)", code, type(err).__name__)
            if audit is not None:
                audit.detail["mail"] = code
            return False
        return True

    def _account(self, account_id: object, audit: _Draft) -> Account:
        account = self.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise AccountNotFound
        audit.username, audit.account_id = account.username_key, account.id
        return account

    def _account_for_token(self, account_id: str, audit: _Draft) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise TokenInvalid
        audit.username, audit.account_id = account.username_key, account.id
        return account

    def _replace_for_token(self, account: Account, expected_version: int) -> None:
        try:
            self.accounts.replace(account, expected_version=expected_version)
        except ConcurrentUpdate as err:
            raise TokenAlreadyUsed from err

    @contextmanager
    def _audit(
        self, action: Action, client_address: object, *, agent: str | None = None
    ) -> Iterator[_Draft]:
        address = _check_client_address(client_address)
        draft = _Draft()
        if agent is not None:
            draft.detail["agent"] = agent
        try:
            yield draft
        except IdentityError as err:
            draft.outcome = err.code
            if isinstance(err, AccountLocked | SecurityAnswerLocked):
                draft.detail["locked_until"] = err.locked_until.isoformat()
            raise
        except BaseException:
            draft.outcome = "internal_error"
            raise
        finally:
            self.events.emit(
                AuditEvent(
                    action=action,
                    outcome=draft.outcome,
                    at=self.clock.now(),
                    username=draft.username,
                    account_id=draft.account_id,
                    client_address=address,
                    detail=draft.detail,
                )
            )


def _check_client_address(client_address: object) -> str | None:
    if client_address is None or (
        isinstance(client_address, str) and len(client_address) <= CLIENT_ADDRESS_MAX_LENGTH
    ):
        return client_address
    raise InvalidInput.single("client_address", "invalid", "Client address is not valid.")


def _until(status: LockoutStatus) -> datetime:
    assert status.locked_until is not None  # noqa: S101  # only called for a locked status
    return status.locked_until


def _refuse(status: LockoutStatus, locked: Callable[[LockoutStatus], AccountLocked]) -> None:
    if status.is_locked:
        raise locked(status)
    raise InvalidCredentials
