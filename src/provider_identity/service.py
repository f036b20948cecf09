"""IdentityService: the seed's flows over the ports.

Register, activate (and re-send activation), log in with lockout, forgot and
reset password, change password, check a security answer for support staff,
and list the providers a Group account can see. Every call that decides
something or changes state emits exactly one audit event, whatever its
outcome; the read-only helpers (``lockout_status``, ``is_session_current``,
``accessible_providers``) emit none.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import attrs

from provider_identity import _checks
from provider_identity._fields import checked_text, collect
from provider_identity.accounts import (
    Account,
    AccountStatus,
    DeactivationReason,
    canonical_email,
    canonical_username,
    mask_email,
)
from provider_identity.clock import Clock, SystemClock
from provider_identity.delivery import BackgroundDelivery
from provider_identity.errors import (
    AccountDeactivated,
    AccountLocked,
    AccountNotActivated,
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    ConfigurationError,
    FieldError,
    IdentityError,
    InvalidCredentials,
    InvalidInput,
    PasswordRejected,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    StoreUnavailable,
    TokenAlreadyUsed,
    TokenError,
    TokenExpired,
    TokenInvalid,
    UsernameUnavailable,
    _duration_words,
)
from provider_identity.events import Action, AuditEvent
from provider_identity.limits import Limiter, LimitKind, RateLimits, provider_key
from provider_identity.lockout import LockoutPolicy, LockoutStatus, LockoutTracker, Throttle
from provider_identity.mail import (
    Branding,
    account_locked_message,
    activation_message,
    email_change_message,
    email_change_notice_message,
    email_verification_message,
    password_changed_message,
    password_reset_message,
    security_answer_changed_message,
    username_reminder_message,
)
from provider_identity.mfa.flows import SecondFactorFlows
from provider_identity.mfa.results import SecondFactorDue
from provider_identity.mfa.settings import SecondFactors
from provider_identity.passwords import (
    RAW_LENGTH_FACTOR,
    PasswordHasher,
    PasswordPolicy,
    normalize_password,
)
from provider_identity.plan import PlanLines
from provider_identity.ports import (
    AccountRepository,
    DeliveryQueue,
    EventSink,
    HumanCheck,
    LockoutStore,
    Mailer,
    ProviderDirectory,
    ProviderPage,
    SearchableDirectory,
)
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    ProviderCategory,
    ProviderRecord,
    ProviderSearch,
    ProviderType,
    normalize_provider_id,
    page_of,
)
from provider_identity.registration import (
    DEFAULT_HELP_LINES,
    RegistrationMatcher,
    RegistrationRequest,
    validate_registration,
)
from provider_identity.security_questions import SecurityQuestions, normalize_answer
from provider_identity.tokens import TokenIssuer, TokenPurpose

__all__ = [
    "DEFAULT_PENDING_LIFETIME",
    "AccountView",
    "IdentityService",
    "LoginResult",
    "ReconcileReport",
    "RegistrationResult",
]

CLIENT_ADDRESS_MAX_LENGTH = 256
#: Records per page of :meth:`IdentityService.accessible_providers_page` by default.
DEFAULT_PAGE_SIZE = 50
#: The most records one page may hold.
MAX_PAGE_SIZE = 500

_log = logging.getLogger(__name__)


#: Activation and reset mail per account before a pause (see ``mail_throttle``).
DEFAULT_MAIL_THROTTLE = LockoutPolicy(max_failures=3, lock_duration=timedelta(hours=1))

#: How long a never-activated account holds its provider, username and email.
DEFAULT_PENDING_LIFETIME = timedelta(days=7)


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


@attrs.define
class _Draft:
    outcome: str = "success"
    username: str | None = None
    account_id: str | None = None
    detail: dict[str, str] = attrs.Factory(dict)


def _new_account_id() -> str:
    return secrets.token_hex(16)


def _same_clock(instance: IdentityService, attribute: object, value: TokenIssuer) -> None:
    if value.clock != instance.clock:
        raise ConfigurationError("TokenIssuer and IdentityService must share one clock.")


def _security_questions(value: SecurityQuestions) -> SecurityQuestions:
    # A converter, not a validator: the answer tracker reads it as soon as it is set.
    _checks.instance_of(SecurityQuestions).check("IdentityService.security_questions", value)
    return value


def _plan_lines(value: Mapping[LineOfBusiness, str]) -> Mapping[LineOfBusiness, str]:
    """A plain mapping becomes :class:`PlanLines`; anything else is left for the validator."""
    return PlanLines.from_help_lines(value) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True)
class IdentityService(SecondFactorFlows[LoginResult]):
    """The Provider Portal's identity flows.

    Attributes:
        directory: Provider records to match registrations against.
        accounts: Where accounts live.
        lockouts: Failure counters (logins, security answers, mail throttle).
        mailer: Delivers the portal's messages.
        events: Receives one audit event per decision.
        delivery: Runs the mail of ``request_password_reset`` and ``resend_activation``
            after they answer (a worker thread by default), so that their time
            holds no mail; ``InlineDelivery`` (testing) runs it at once.
        tokens: Signs and verifies activation and reset links (same clock).
        clock: Where "now" comes from.
        hasher: argon2id hashing of passwords and security answers.
        password_policy: Rules for new passwords (the seed's by default).
        lockout_policy: Failures that lock a login, and for how long.
        mail_throttle: Activation / reset messages per account before a pause
            (3, then 1 hour, by default); refused sends are silent.
        security_questions: Questions, answer rules and the wrong-answer limit.
        branding: Sender, subjects and link templates of the messages.
        help_lines: Help line per line of business: a
            :class:`~provider_identity.plan.PlanLines` (a plan's own lines,
            with display names) or a plain ``{line: number}`` mapping.
        group_categories: Provider categories that may register as a Group.
        agreement_version: The Provider Agreement version a registrant confirms
            (the current one: an account that accepted another is asked again).
        pending_lifetime: How long a never-activated account holds its provider,
            username and email (7 days by default); after it a matched
            registration replaces it, and ``purge_pending`` deletes it.
        new_account_id: Makes opaque account ids.
        limits: Abuse limits per client address and per key, checked before
            any hash or directory work (``RateLimits.off()`` for none).
        human_check: Checks human-check answers, for limits with ``human_check_after``.
        device_lockout: OWASP's device cookies: a login from a browser that
            shows a valid device token counts failures on that token's own
            counter, so a stranger's failures do not lock it out (off by default).
        second_factors: The MFA policy and its store (off by default; see
            :class:`~provider_identity.mfa.SecondFactors` and the flows of
            :class:`~provider_identity.mfa.flows.SecondFactorFlows`).
    """

    directory: ProviderDirectory = attrs.field(
        validator=_checks.implements("by_provider_id", "by_npi", "by_tax_id")
    )
    accounts: AccountRepository = attrs.field(
        validator=_checks.implements("add", "get", "find_by_username", "key_taken", "replace")
    )
    lockouts: LockoutStore = attrs.field(
        validator=_checks.implements("record_failure", "get", "clear")
    )
    mailer: Mailer = attrs.field(validator=_checks.implements("send"))
    events: EventSink = attrs.field(validator=_checks.implements("emit"))
    delivery: DeliveryQueue = attrs.field(
        factory=BackgroundDelivery, validator=_checks.implements("submit")
    )
    clock: Clock = attrs.field(default=SystemClock(), validator=_checks.implements("now"))
    tokens: TokenIssuer = attrs.field(
        validator=attrs.validators.and_(_checks.instance_of(TokenIssuer), _same_clock)
    )
    hasher: PasswordHasher = attrs.field(
        factory=PasswordHasher, validator=_checks.instance_of(PasswordHasher)
    )
    password_policy: PasswordPolicy = attrs.field(
        default=PasswordPolicy(), validator=_checks.instance_of(PasswordPolicy)
    )
    lockout_policy: LockoutPolicy = attrs.field(
        default=LockoutPolicy(), validator=_checks.instance_of(LockoutPolicy)
    )
    mail_throttle: LockoutPolicy = attrs.field(
        default=DEFAULT_MAIL_THROTTLE, validator=_checks.instance_of(LockoutPolicy)
    )
    security_questions: SecurityQuestions = attrs.field(
        default=SecurityQuestions(), converter=_security_questions
    )
    branding: Branding = attrs.field(default=Branding(), validator=_checks.instance_of(Branding))
    help_lines: Mapping[LineOfBusiness, str] = attrs.field(
        default=DEFAULT_HELP_LINES,
        validator=_checks.instance_of(Mapping),
        converter=_plan_lines,
    )
    group_categories: frozenset[ProviderCategory] = attrs.field(
        default=GROUP_ELIGIBLE_CATEGORIES, validator=_checks.instance_of(AbstractSet)
    )
    agreement_version: str = attrs.field(default="1", validator=_checks.text())
    pending_lifetime: timedelta = attrs.field(
        default=DEFAULT_PENDING_LIFETIME, validator=_checks.duration()
    )
    new_account_id: Callable[[], str] = attrs.field(
        default=_new_account_id, validator=_checks.callable_()
    )
    limits: RateLimits = attrs.field(
        default=RateLimits(), validator=_checks.instance_of(RateLimits)
    )
    human_check: HumanCheck | None = attrs.field(
        default=None, validator=_checks.optional(_checks.implements("verify"))
    )
    device_lockout: bool = attrs.field(default=False, validator=_checks.instance_of(bool))
    second_factors: SecondFactors = attrs.field(
        default=SecondFactors(), validator=_checks.instance_of(SecondFactors)
    )

    _matcher: RegistrationMatcher = attrs.field(init=False, repr=False)
    _logins: LockoutTracker = attrs.field(init=False, repr=False)
    _answers: LockoutTracker = attrs.field(init=False, repr=False)
    _mail: Throttle = attrs.field(init=False, repr=False)
    _limiter: Limiter = attrs.field(init=False, repr=False)
    _devices: LockoutTracker = attrs.field(init=False, repr=False)

    @_matcher.default
    def _build_matcher(self) -> RegistrationMatcher:
        return RegistrationMatcher(
            directory=self.directory,
            help_lines=self.help_lines,
            group_categories=self.group_categories,
        )

    @_logins.default
    def _build_logins(self) -> LockoutTracker:
        return LockoutTracker(store=self.lockouts, policy=self.lockout_policy, clock=self.clock)

    @_answers.default
    def _build_answers(self) -> LockoutTracker:
        return LockoutTracker(
            store=self.lockouts,
            policy=self.security_questions.attempts,
            clock=self.clock,
            namespace="security-answer",
        )

    @_mail.default
    def _build_mail(self) -> Throttle:
        return Throttle(
            store=self.lockouts, policy=self.mail_throttle, clock=self.clock, namespace="mail"
        )

    @_limiter.default
    def _build_limiter(self) -> Limiter:
        # Built before the validators run: refuse a wrong store under its own name.
        _checks.implements("record_failure", "get", "clear").check(
            "IdentityService.lockouts", self.lockouts
        )
        return Limiter(
            store=self.lockouts, limits=self.limits, clock=self.clock, human_check=self.human_check
        )

    @_devices.default
    def _build_devices(self) -> LockoutTracker:
        return LockoutTracker(
            store=self.lockouts, policy=self.lockout_policy, clock=self.clock, namespace="device"
        )

    # -- registration -----------------------------------------------------------------

    def register(
        self,
        request: RegistrationRequest,
        *,
        client_address: str | None = None,
        human_check: str | None = None,
    ) -> RegistrationResult:
        """Match the request against the provider records, store a pending account, send activation.

        Raises:
            InvalidInput: field errors, all at once (``PasswordRejected`` if only the password's).
            ProviderNotFound: no such provider; ``help_lines`` says whom to call.
            DetailsMismatch: the details differ from the record.
            NotEligibleForGroup: the provider's category may not register as a Group.
            AlreadyRegistered: the provider has an account already.
            UsernameUnavailable: the username or email is taken.
            TooManyAttempts: too many attempts from ``client_address`` or for the provider.
            HumanCheckRequired: pass the answer of a human check as ``human_check``.
        """
        with self._audit(Action.REGISTER, client_address) as audit:
            if not isinstance(request, RegistrationRequest):
                raise InvalidInput.single("request", "wrong_type", "Not a registration request.")
            guard = functools.partial(
                self._limiter.check,
                detail=audit.detail,
                human_check=human_check,
                client_address=client_address,
            )
            valid = validate_registration(
                request,
                password_policy=self.password_policy,
                security_questions=self.security_questions,
            )
            guard(LimitKind.REGISTRATION, client_address)
            details, username_key, email = valid.details, valid.username_key, valid.email
            audit.username = username_key
            audit.detail["provider_type"] = details.provider_type.value
            guard(LimitKind.REGISTRATION_PROVIDER, provider_key(details.provider_id, details.npi))
            record = self._matcher.match(details)
            audit.detail["provider_id"] = record.provider_id
            expired = self._expired_holder(self.accounts.find_by_provider_id(record.provider_id))
            freed = () if expired is None else (expired.username_key, expired.email_key)
            for field, key in (("username", username_key), ("email", email.key)):
                if key not in freed and self.accounts.key_taken(key):
                    raise UsernameUnavailable(field)
            now = self.clock.now()
            account = Account(
                id=self.new_account_id(),
                username=valid.username,
                username_key=username_key,
                email=email.address,
                email_key=email.key,
                status=AccountStatus.PENDING,
                provider_type=details.provider_type,
                provider_id=record.provider_id,
                password_hash=self.hasher.hash(valid.password),
                security_question=request.security_question,
                security_answer_hash=self.hasher.hash(valid.answer),
                agreement_version=self.agreement_version,
                agreement_accepted_at=now,
                created_at=now,
            )
            # The throttle is counted before the commit: a lockout store that does
            # not answer then stores nothing, and the retry is not "already registered".
            admitted = self._mail.allow(f"activation:{account.id}")
            if expired is not None:
                with contextlib.suppress(AccountNotFound):  # purged meanwhile: the room is there
                    self.accounts.remove(expired.id, expected_version=expired.credential_version)
                audit.detail["replaced_account"] = expired.id
            self.accounts.add(account)
            audit.account_id = account.id
            sent = admitted and self._deliver(self._activation_message(account), None)
            if not sent:
                audit.detail["activation_mail"] = "not_sent"
            return RegistrationResult(account=AccountView.of(account), activation_sent=sent)

    def _expired_holder(self, existing: Account | None) -> Account | None:
        """``existing`` if it is an expired pending account (to be replaced); refuse any other."""
        if existing is None or existing.is_expired_pending(self.clock.now(), self.pending_lifetime):
            return existing
        if existing.is_pending:
            raise AlreadyRegistered(
                pending=True,
                expires_at=existing.pending_expires_at(self.pending_lifetime),
                masked_email=mask_email(existing.email),
            )
        raise AlreadyRegistered

    def purge_pending(self, *, client_address: str | None = None) -> tuple[str, ...]:
        """Delete every pending account older than ``pending_lifetime``; return their usernames.

        Each deletion is one audit event. Safe to run again (and beside
        registrations: an account that changed meanwhile is left alone).
        """
        _check_client_address(client_address)
        purged = []
        for account in self.accounts.find_by_status(AccountStatus.PENDING):
            if not account.is_expired_pending(self.clock.now(), self.pending_lifetime):
                continue
            with self._audit(Action.PURGE_PENDING, client_address) as audit:
                audit.username, audit.account_id = account.username_key, account.id
                try:
                    self.accounts.remove(account.id, expected_version=account.credential_version)
                except (AccountNotFound, ConcurrentUpdate) as err:
                    audit.outcome = err.code
                    continue
                purged.append(account.username)
        return tuple(purged)

    def resend_activation(self, username: str, *, client_address: str | None = None) -> None:
        """Send a fresh activation email to a pending account's stored address.

        Answers the same, and does the same work up to the hand-off to
        ``delivery`` (one lookup, one throttle count, one token, one message,
        one job), whether or not the account exists, is pending, or the mail is
        throttled; only a pending account's job sends. The audit event tells
        the paths apart; a failed send is logged by the job.
        """
        with self._audit(Action.RESEND_ACTIVATION, client_address) as audit:
            audit.username = key = canonical_username(username)
            if self._rate_limited(LimitKind.RESEND_ACTIVATION, client_address, audit):
                return
            account = self.accounts.find_by_username(key)
            # "?" keeps an unknown name's count apart from the (hex) account ids.
            subject = account.id if account is not None else f"?{key}"
            admitted = self._mail.allow(f"activation:{subject}")
            message = self._linked_message(TokenPurpose.ACTIVATION, account, key)
            pending = account is not None and not account.is_active
            self._hand_off(message, send=pending and admitted)
            if account is None or not pending:
                audit.outcome = "no_pending_account"
                return
            audit.account_id = account.id
            if not admitted:
                audit.outcome = "not_sent"

    def activate(self, token: str, *, client_address: str | None = None) -> AccountView:
        """Activate the account an activation link names; send the Email Verification message.

        Raises:
            TokenExpired, TokenInvalid, TokenWrongPurpose: the link is unusable
                (``TokenExpired`` also once the pending account itself has expired).
            TokenAlreadyUsed: the account is active already (or changed since).
        """
        with self._audit(Action.ACTIVATE, client_address) as audit:
            claims = self.tokens.verify(token, TokenPurpose.ACTIVATION)
            account = self._account_for_token(claims.account_id, audit)
            if not account.is_pending or account.credential_version != claims.credential_version:
                raise TokenAlreadyUsed
            now = self.clock.now()
            if account.is_expired_pending(now, self.pending_lifetime):
                raise TokenExpired
            active = account.activated(now)
            self._mail.reset(f"activation:{account.id}")  # before the commit
            self._replace_for_token(active, account.credential_version)
            self._deliver(
                email_verification_message(
                    self.branding, to=account.email, username=account.username, now=now
                ),
                audit,
            )
            return AccountView.of(active)

    # -- login and lockout ------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        *,
        client_address: str | None = None,
        human_check: str | None = None,
        device_token: str | None = None,
    ) -> LoginResult | SecondFactorDue:
        """Check a username and password, applying the lockout.

        Exactly one password-hash verification runs on every path (a dummy
        hash for unknown or locked accounts), and the attempt is counted
        *before* it runs, so parallel attempts cannot exceed the limit.

        An account with a second factor is not logged in by its password: the
        result is :class:`~provider_identity.mfa.SecondFactorDue`, finished by
        :meth:`complete_login`, and the attempt stays counted until then.

        Raises:
            InvalidInput: username or password is not usable text.
            InvalidCredentials: unknown username or wrong password, alike.
            AccountLocked: too many failures; even the right password is refused.
            AccountNotActivated: right password, but the account is pending.
            AccountDeactivated: right password, but the account is deactivated
                (a wrong one is ``InvalidCredentials``, as for anyone).
            TooManyAttempts: too many attempts (or failures) from ``client_address``.
            HumanCheckRequired: pass the answer of a human check as ``human_check``.
        """
        with self._audit(Action.LOGIN, client_address) as audit:
            audit.username = key = canonical_username(username)
            password = self._bounded_password(password)
            self._limiter.check_login(client_address, audit.detail, human_check=human_check)
            logins, counter = self._login_counter(key, device_token, audit)
            status = logins.record_failure(counter)
            account = self.accounts.find_by_username(key)
            if account is not None:
                audit.account_id = account.id
            try:
                account = self._verify(
                    status, key, account, password, audit, logins, counter, end_run=False
                )
            except (InvalidCredentials, AccountLocked):
                self._limiter.record(LimitKind.LOGIN_FAILURE, client_address)
                raise
            second_step = self._second_step(account) if account.is_active else False
            if not isinstance(second_step, SecondFactorDue):  # else it counts until the code
                logins.record_success(counter)
            if account.is_deactivated:
                raise AccountDeactivated
            if not account.is_active:
                raise AccountNotActivated
            rehashed = self._rehash_if_needed(account, password)
            if rehashed:
                audit.detail["rehashed"] = "true"
            if isinstance(second_step, SecondFactorDue):
                audit.outcome = "second_factor_due"
                return second_step
            if second_step:
                audit.detail["enrolment_due"] = "true"
            return self._logged_in(account, audit, rehashed=rehashed, enrolment_due=second_step)

    def _logged_in(
        self, account: Account, audit: _Draft, *, rehashed: bool, enrolment_due: bool
    ) -> LoginResult:
        required = account.needs_agreement(self.agreement_version)
        if required:
            audit.detail["agreement_required"] = "true"
        return LoginResult(
            account=AccountView.of(account),
            rehashed=rehashed,
            agreement_required=required,
            enrolment_due=enrolment_due,
            device_token=self._device_token(account),
        )

    def _login_counter(
        self, key: str, device_token: object, audit: _Draft
    ) -> tuple[LockoutTracker, str]:
        """The account's failure counter, or a trusted device's own (``device_lockout``).

        A device token counts only while it is genuine, unexpired, and bound to
        this username's account and its current credential version; any other
        is ignored, and the attempt counts on the account's counter.
        """
        if not self.device_lockout or device_token is None:
            return self._logins, key
        try:
            claims = self.tokens.verify(device_token, TokenPurpose.DEVICE)
        except TokenError:
            return self._logins, key
        account = self.accounts.find_by_username(key)
        if (
            account is None
            or account.id != claims.account_id
            or account.credential_version != claims.credential_version
        ):
            return self._logins, key
        audit.detail["device"] = "trusted"
        return self._devices, f"{account.id}:{int(claims.issued_at.timestamp())}"

    def _device_token(self, account: Account) -> str | None:
        if not self.device_lockout:
            return None
        return self.tokens.issue(
            TokenPurpose.DEVICE,
            account_id=account.id,
            credential_version=account.credential_version,
        )

    def _verify(
        self,
        status: LockoutStatus,
        key: str,
        account: Account | None,
        password: str,
        audit: _Draft,
        logins: LockoutTracker | None = None,
        counter: str | None = None,
        *,
        end_run: bool = True,
    ) -> Account:
        """One hash check on every path, after the attempt was counted; refuse, or end the run.

        ``logins`` and ``counter``: where the attempt was counted (a trusted
        device's own counter), the account's login counter by default.
        ``end_run=False``: a right password does not end the run of failures
        (the caller does, unless a second factor is due).
        """
        logins = self._logins if logins is None else logins
        if not status.admitted:
            self.hasher.dummy_verify(password)
            raise self._locked(status)
        if account is None:
            self.hasher.dummy_verify(password)
        elif self.hasher.verify(account.password_hash, password):
            if end_run:
                logins.record_success(key if counter is None else counter)
            return account
        lock_started = status.is_locked and status.failures == self.lockout_policy.max_failures
        if lock_started and logins is self._logins:  # a device token's lock sends no notice
            audit.detail["lock_started"] = "true"
            self._notify_locked(account, key)
        _refuse(status, self._locked)
        raise AssertionError("unreachable")  # pragma: no cover  # _refuse always raises

    def _notify_locked(self, account: Account | None, key: str) -> None:
        """The lock notice: built and handed off alike on every path, sent to real accounts only."""
        admitted = self._mail.allow(f"locked:{key}")
        message = account_locked_message(
            self.branding,
            to=account.email if account else self.branding.sender_address,
            username=account.username if account else key,
            now=self.clock.now(),
            wait=_duration_words(self.lockout_policy.lock_duration),
        )
        send = account is not None and admitted and not account.is_deactivated
        self._hand_off(message, send=send)

    def _locked(self, status: LockoutStatus) -> AccountLocked:
        return AccountLocked(_until(status), lock_duration=self.lockout_policy.lock_duration)

    def _bounded_password(self, password: object) -> str:
        errors: list[FieldError] = []
        text = collect(
            errors,
            functools.partial(
                checked_text,
                "password",
                password,
                label="Password",
                max_length=RAW_LENGTH_FACTOR * self.password_policy.max_length,
                refused=("Cs",),  # controls are allowed in a password
            ),
        )
        if text is None:
            if errors[0].code == "too_long":
                raise InvalidCredentials  # can never be right; costs no hash
            raise InvalidInput(errors)
        if len(normalize_password(text)) > self.password_policy.max_length:
            raise InvalidCredentials
        return text

    def _rehash_if_needed(self, account: Account, password: str) -> bool:
        if not self.hasher.needs_rehash(account.password_hash):
            return False
        upgraded = account.with_rehashed_password(self.hasher.hash(password))
        try:
            self.accounts.replace(upgraded, expected_version=account.credential_version)
        except (ConcurrentUpdate, StoreUnavailable):  # decided already; the next login upgrades
            return False
        return True

    def lockout_status(self, username: str) -> LockoutStatus:
        """The login lockout status of ``username`` (``locked_until`` while locked)."""
        return self._logins.check(canonical_username(username))

    def unlock(self, username: str, *, client_address: str | None = None) -> None:
        """End a login lock and zero the count (an administrator's action)."""
        with self._audit(Action.UNLOCK, client_address) as audit:
            audit.username = key = canonical_username(username)
            self._logins.unlock(key)

    def is_session_current(self, account_id: str, credential_version: int) -> bool:
        """False once the password or address changed since the session began, or the account
        was deactivated (compare at each request)."""
        if not isinstance(account_id, str) or type(credential_version) is not int:
            return False
        account = self.accounts.get(account_id)
        return (
            account is not None
            and not account.is_deactivated
            and account.credential_version == credential_version
        )

    # -- passwords ---------------------------------------------------------------------

    def request_password_reset(self, username: str, *, client_address: str | None = None) -> None:
        """Forgot password: mail a reset link to the stored address.

        Answers the same (returns ``None``) for known, unknown, pending and
        locked usernames, when throttled and when the mail fails, and does the
        same work on each path up to the hand-off to ``delivery`` (one lookup,
        one throttle count, one token, one message, one job); only a real
        account's job sends. The audit event records which path it was; a
        failed send is logged by the job. Never counts as a login failure.
        """
        with self._audit(Action.REQUEST_PASSWORD_RESET, client_address) as audit:
            audit.username = key = canonical_username(username)
            if self._rate_limited(LimitKind.PASSWORD_RESET, client_address, audit):
                return
            account = self.accounts.find_by_username(key)
            admitted = self._mail.allow(f"reset:{key}")
            message = self._linked_message(TokenPurpose.PASSWORD_RESET, account, key)
            deactivated = account is not None and account.is_deactivated
            self._hand_off(message, send=account is not None and admitted and not deactivated)
            if account is None:
                audit.outcome = "unknown_user"
                return
            audit.account_id = account.id
            if deactivated:
                audit.outcome = "deactivated"
            elif not admitted:
                audit.outcome = "throttled"

    def request_username_reminder(self, email: str, *, client_address: str | None = None) -> None:
        """Forgotten user name: mail the user name to the stored address.

        Answers the same (returns ``None``) whether or not an account has the
        address, whether it is pending, active or deactivated (which gets no
        mail), when throttled and when the mail fails, and does the same work
        on each path up to the hand-off to ``delivery`` (one lookup, one
        throttle count, one message, one job), as :meth:`request_password_reset`
        does; only a real account's job sends, and always to the stored
        address. The audit event records which path it was.

        Raises:
            InvalidInput: ``email`` is not a valid address (whether or not it is known).
        """
        with self._audit(Action.REQUEST_USERNAME_REMINDER, client_address) as audit:
            key = canonical_email(email).key
            audit.detail["email"] = key
            if self._rate_limited(LimitKind.USERNAME_REMINDER, client_address, audit):
                return
            account = self.accounts.find_by_email(key)
            admitted = self._mail.allow(f"reminder:{key}")
            message = username_reminder_message(
                self.branding,
                to=account.email if account else self.branding.sender_address,
                username=account.username if account else key,
                now=self.clock.now(),
            )
            deactivated = account is not None and account.is_deactivated
            self._hand_off(message, send=account is not None and admitted and not deactivated)
            if account is None:
                audit.outcome = "unknown_email"
                return
            audit.username, audit.account_id = account.username_key, account.id
            if deactivated:
                audit.outcome = "deactivated"
            elif not admitted:
                audit.outcome = "throttled"

    def reset_password(
        self, token: str, new_password: str, *, client_address: str | None = None
    ) -> AccountView:
        """Set a new password from a reset link.

        The account's credential version is bumped (every outstanding link
        dies, and so does every session checked with :meth:`is_session_current`),
        the lock is lifted, a pending account becomes active (the link proves
        the address), and a "password changed" notice goes to the stored address.
        It does not log the user in.

        Raises:
            TokenExpired, TokenInvalid, TokenWrongPurpose, TokenAlreadyUsed: unusable link.
            PasswordRejected: the new password breaks the policy or reuses a recent one.
        """
        with self._audit(Action.RESET_PASSWORD, client_address) as audit:
            claims = self.tokens.verify(token, TokenPurpose.PASSWORD_RESET)
            account = self._account_for_token(claims.account_id, audit)
            if account.credential_version != claims.credential_version:
                raise TokenAlreadyUsed
            changed = self._with_new_password(account, new_password, now=self.clock.now())
            # Unlock before the commit: a lockout store that does not answer then
            # changes nothing and the link stays usable; after the commit nothing
            # but the notice is left, and a failed notice never stops the flow.
            self._logins.unlock(account.username_key)
            self._mail.reset(f"reset:{account.username_key}")
            self._replace_for_token(changed, account.credential_version)
            self._notify_password_changed(changed, audit)
            return AccountView.of(changed)

    def change_password(
        self,
        account_id: str,
        current_password: str,
        new_password: str,
        *,
        client_address: str | None = None,
    ) -> AccountView:
        """Change the password of a logged-in account; the current password must be right.

        Wrong current passwords count toward the login lockout.

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidCredentials, AccountLocked: the current password was not accepted.
            PasswordRejected: the new password breaks the policy or reuses a recent one.
            ConcurrentUpdate: the password changed meanwhile.
        """
        with self._audit(Action.CHANGE_PASSWORD, client_address) as audit:
            account = self._account(account_id, audit)
            self._check_current_password(account, current_password, audit)
            changed = self._with_new_password(account, new_password)
            self.accounts.replace(changed, expected_version=account.credential_version)
            self._notify_password_changed(changed, audit)
            return AccountView.of(changed)

    def _check_current_password(self, account: Account, password: object, audit: _Draft) -> None:
        """A logged-in account's password check: counts toward the login lockout."""
        password = self._bounded_password(password)
        status = self._logins.record_failure(account.username_key)
        self._verify(status, account.username_key, account, password, audit)
        if account.is_deactivated:
            raise AccountDeactivated

    def _with_new_password(
        self, account: Account, password: object, *, now: datetime | None = None
    ) -> Account:
        self.password_policy.validate(
            password,
            username=account.username,
            email=account.email,
            second_factor=self.has_second_factor(account.id),
        )
        assert isinstance(password, str)  # noqa: S101  # validate() refuses anything else
        keep = self.password_policy.history
        if self.hasher.verify_any(password, account.recent_password_hashes(keep)):
            raise PasswordRejected.single(
                "password", "reused", f"Must not be one of your last {keep} passwords."
            )
        return account.with_password(self.hasher.hash(password), keep=keep, now=now)

    # -- the account's details --------------------------------------------------------

    def request_email_change(
        self,
        account_id: str,
        current_password: str,
        new_email: str,
        *,
        client_address: str | None = None,
    ) -> None:
        """Ask to move a logged-in account to ``new_email``: nothing changes until it is confirmed.

        A confirmation link goes to the new address and a notice to the old
        one. The link holds no address (the pending one is kept on the
        account); a later request replaces this one, and its link dies.
        Wrong current passwords count toward the login lockout. Throttled
        like the other mail (the audit event says ``throttled``; nothing is stored).

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: ``new_email`` is not a valid address, or is the current one.
            InvalidCredentials, AccountLocked: the current password was not accepted.
            AccountDeactivated, InvalidTransition: the account is not active.
            UsernameUnavailable: the address is some account's username or email.
        """
        with self._audit(Action.REQUEST_EMAIL_CHANGE, client_address) as audit:
            account = self._account(account_id, audit)
            email = canonical_email(new_email)
            if email.key == account.email_key:
                raise InvalidInput.single(
                    "email", "unchanged", "That is the email address of your account already."
                )
            self._check_current_password(account, current_password, audit)
            if self.accounts.key_taken(email.key):
                raise UsernameUnavailable("email")
            nonce = secrets.token_urlsafe(16)
            changed = account.with_pending_email(email, nonce=nonce, now=self.clock.now())
            if not self._mail.allow(f"email-change:{account.id}"):
                audit.outcome = "throttled"
                return
            self.accounts.replace(changed, expected_version=account.credential_version)
            token = self.tokens.issue(
                TokenPurpose.EMAIL_CHANGE,
                account_id=account.id,
                credential_version=account.credential_version,
                nonce=nonce,
            )
            now = self.clock.now()
            self._deliver(
                email_change_message(
                    self.branding, to=email.address, username=account.username, token=token, now=now
                ),
                audit,
            )
            self._deliver(
                email_change_notice_message(
                    self.branding, to=account.email, username=account.username, now=now
                ),
                audit,
            )

    def confirm_email_change(self, token: str, *, client_address: str | None = None) -> AccountView:
        """Switch the address from a confirmation link; every outstanding link and session dies.

        The switch is atomic against the one key space of usernames and
        emails: racing a registration of the same address, exactly one wins.

        Raises:
            TokenExpired, TokenInvalid, TokenWrongPurpose: the link is unusable.
            TokenAlreadyUsed: the change was made, replaced by a later request, or
                the account changed since.
            UsernameUnavailable: the address was taken meanwhile.
        """
        with self._audit(Action.CONFIRM_EMAIL_CHANGE, client_address) as audit:
            claims = self.tokens.verify(token, TokenPurpose.EMAIL_CHANGE)
            account = self._account_for_token(claims.account_id, audit)
            pending = account.pending_email
            if (
                pending is None
                or claims.nonce is None
                or not secrets.compare_digest(claims.nonce, pending.nonce)
                or account.credential_version != claims.credential_version
                or account.is_deactivated
            ):
                raise TokenAlreadyUsed
            changed = account.with_email(pending.address, pending.key)
            try:
                self.accounts.change_email(changed, expected_version=account.credential_version)
            except ConcurrentUpdate as err:
                raise TokenAlreadyUsed from err
            return AccountView.of(changed)

    def change_security_answer(
        self,
        account_id: str,
        current_password: str,
        question: str,
        answer: str,
        *,
        client_address: str | None = None,
    ) -> AccountView:
        """Set a new security question and answer; a notice goes to the stored address.

        Wrong current passwords count toward the login lockout.

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: the question is not offered, or the answer is not usable text.
            InvalidCredentials, AccountLocked: the current password was not accepted.
            AccountDeactivated: the account is deactivated.
            ConcurrentUpdate: the account changed meanwhile.
        """
        with self._audit(Action.CHANGE_SECURITY_ANSWER, client_address) as audit:
            account = self._account(account_id, audit)
            normalized = self.security_questions.validate(question, answer)
            self._check_current_password(account, current_password, audit)
            changed = account.with_security_answer(question, self.hasher.hash(normalized))
            self.accounts.replace(changed, expected_version=account.credential_version)
            self._deliver(
                security_answer_changed_message(
                    self.branding, to=account.email, username=account.username, now=self.clock.now()
                ),
                audit,
            )
            return AccountView.of(changed)

    def accept_agreement(
        self, account_id: str, version: str, *, client_address: str | None = None
    ) -> AccountView:
        """Record that the account accepted Provider Agreement ``version`` (the current one), now.

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: ``version`` is not the current ``agreement_version``.
            InvalidTransition: the account is not active.
            ConcurrentUpdate: the account changed meanwhile.
        """
        with self._audit(Action.ACCEPT_AGREEMENT, client_address) as audit:
            account = self._account(account_id, audit)
            if version != self.agreement_version:
                raise InvalidInput.single(
                    "version", "not_current", "That is not the current Provider Agreement."
                )
            audit.detail["agreement_version"] = version
            changed = account.accepted_agreement(version, self.clock.now())
            self.accounts.replace(changed, expected_version=account.credential_version)
            return AccountView.of(changed)

    # -- deactivation -------------------------------------------------------------------

    def deactivate(
        self,
        account_id: str,
        reason: DeactivationReason = DeactivationReason.ADMINISTRATOR,
        *,
        client_address: str | None = None,
    ) -> AccountView:
        """Switch an account off: no login, reset or mail; its links and sessions die.

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidInput: ``reason`` is not a :class:`DeactivationReason`.
            InvalidTransition: the account is deactivated already.
            ConcurrentUpdate: the account changed meanwhile.
        """
        with self._audit(Action.DEACTIVATE, client_address) as audit:
            account = self._account(account_id, audit)
            return AccountView.of(self._deactivate(account, reason, audit))

    def reactivate(self, account_id: str, *, client_address: str | None = None) -> AccountView:
        """Switch a deactivated account on again (active, or pending if it never was).

        Raises:
            AccountNotFound: no account has ``account_id``.
            InvalidTransition: the account is not deactivated.
            ConcurrentUpdate: the account changed meanwhile.
        """
        with self._audit(Action.REACTIVATE, client_address) as audit:
            account = self._account(account_id, audit)
            changed = account.reactivated(self.clock.now())
            self.accounts.replace(changed, expected_version=account.credential_version)
            return AccountView.of(changed)

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
        return record is not None and (record.end_date is None or record.end_date > today)

    def _deactivate(self, account: Account, reason: DeactivationReason, audit: _Draft) -> Account:
        audit.detail["reason"] = str(reason)
        changed = account.deactivated(reason, self.clock.now())
        self.accounts.replace(changed, expected_version=account.credential_version)
        return changed

    def _notify_password_changed(self, account: Account, audit: _Draft) -> None:
        self._deliver(
            password_changed_message(
                self.branding, to=account.email, username=account.username, now=self.clock.now()
            ),
            audit,
        )

    # -- support desk and groups -------------------------------------------------------

    def verify_security_answer(
        self, username: str, answer: str, *, client_address: str | None = None
    ) -> None:
        """Support staff check a caller's security answer. Grants nothing by itself.

        Raises:
            AccountNotFound: no account has ``username``.
            InvalidInput: the answer is not usable text.
            SecurityAnswerMismatch: wrong; ``attempts_left`` says how many remain.
            SecurityAnswerLocked: too many wrong answers; ``locked_until`` says until when.
        """
        with self._audit(Action.VERIFY_SECURITY_ANSWER, client_address) as audit:
            audit.username = key = canonical_username(username)
            text = self._answer_text(answer)
            account = self.accounts.find_by_username(key)
            if account is None:
                raise AccountNotFound
            audit.account_id = account.id
            self._check_answer(account, text)

    def _answer_text(self, answer: object) -> str:
        return checked_text(
            "security_answer",
            answer,
            label="Security Answer",
            max_length=self.security_questions.max_answer_length,
        )

    def _check_answer(self, account: Account, text: str) -> None:
        """Count, then check the answer against its limit (the support desk runs it too)."""
        status = self._answers.record_failure(account.id)
        if not status.admitted:
            raise SecurityAnswerLocked(_until(status))
        if not self.hasher.verify(account.security_answer_hash, normalize_answer(text)):
            if status.is_locked:
                raise SecurityAnswerLocked(_until(status))
            raise SecurityAnswerMismatch(
                attempts_left=self.security_questions.attempts.max_failures - status.failures
            )
        self._answers.record_success(account.id)

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

    # -- plumbing ----------------------------------------------------------------------

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
