"""IdentityService: the seed's flows over the ports.

Register, activate (and re-send activation), log in with lockout, forgot and
reset password, change password, check a security answer for support staff,
and list the providers a Group account can see. Every call that decides
something or changes state emits exactly one audit event, whatever its
outcome; the read-only helpers (``lockout_status``, ``is_session_current``,
``accessible_providers``) emit none.

This module holds the service's configuration (its fields and their checks)
and its result types. The flows are mixins, one module per concept, each
handler orchestration: load, decide through the domain, store, notify, audit.
``provider_identity._flows``: ``registration``, ``passwords``,
``account_life``, ``directory``, and ``base`` for the plumbing they share;
:mod:`provider_identity.mfa.flows` for the second factor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from datetime import timedelta

import attrs

from provider_identity import _checks
from provider_identity._flows.account_life import AccountLifeFlows

# The constants are re-exported: callers name them from this module.
from provider_identity._flows.base import (
    CLIENT_ADDRESS_MAX_LENGTH as CLIENT_ADDRESS_MAX_LENGTH,  # noqa: PLC0414
)
from provider_identity._flows.base import _Draft as _Draft  # noqa: PLC0414  # the old import path
from provider_identity._flows.directory import (
    DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE,  # noqa: PLC0414
)
from provider_identity._flows.directory import (
    MAX_PAGE_SIZE as MAX_PAGE_SIZE,  # noqa: PLC0414
)
from provider_identity._flows.directory import DirectoryFlows
from provider_identity._flows.passwords import PasswordFlows
from provider_identity._flows.registration import RegistrationFlows
from provider_identity._flows.results import (
    AccountView,
    LoginResult,
    ReconcileReport,
    RegistrationResult,
)
from provider_identity.clock import Clock, SystemClock
from provider_identity.delivery import BackgroundDelivery
from provider_identity.errors import ConfigurationError
from provider_identity.limits import Limiter, RateLimits
from provider_identity.lockout import LockoutPolicy, LockoutTracker, Throttle
from provider_identity.mail import Branding
from provider_identity.mfa.flows import SecondFactorFlows
from provider_identity.mfa.settings import SecondFactors
from provider_identity.passwords import PasswordHasher, PasswordPolicy
from provider_identity.plan import PlanLines
from provider_identity.ports import (
    AccountRepository,
    DeliveryQueue,
    EventSink,
    HumanCheck,
    LockoutStore,
    Mailer,
    ProviderDirectory,
)
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    ProviderCategory,
)
from provider_identity.registration import DEFAULT_HELP_LINES, RegistrationMatcher
from provider_identity.security_questions import SecurityQuestions
from provider_identity.tokens import TokenIssuer

__all__ = [
    "DEFAULT_PENDING_LIFETIME",
    "AccountView",
    "IdentityService",
    "LoginResult",
    "ReconcileReport",
    "RegistrationResult",
]


#: Activation and reset mail per account before a pause (see ``mail_throttle``).
DEFAULT_MAIL_THROTTLE = LockoutPolicy(max_failures=3, lock_duration=timedelta(hours=1))

#: How long a never-activated account holds its provider, username and email.
DEFAULT_PENDING_LIFETIME = timedelta(days=7)


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
class IdentityService(
    # The API reference lists the flows of the last mixin first.
    DirectoryFlows,
    AccountLifeFlows,
    PasswordFlows,
    RegistrationFlows,
    SecondFactorFlows[LoginResult],
):
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
