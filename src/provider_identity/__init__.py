"""provider-identity: a Provider Portal's identity rules as a typed library.

Registration matched against provider records, the password policy,
activation and password-reset tokens, login lockout, security questions for
the support desk, and the portal's emails; all behind small ports so any web
stack and any store can use them.
"""

from __future__ import annotations

from provider_identity.accounts import (
    Account,
    AccountStatus,
    CanonicalEmail,
    canonical_email,
    canonical_username,
)
from provider_identity.clock import Clock, SystemClock
from provider_identity.errors import (
    AccountLocked,
    AccountNotActivated,
    AccountNotFound,
    AlreadyRegistered,
    AuthenticationError,
    ConcurrentUpdate,
    ConfigurationError,
    DetailsMismatch,
    FieldError,
    IdentityError,
    InvalidCredentials,
    InvalidInput,
    MailDeliveryError,
    NotEligibleForGroup,
    PasswordRejected,
    ProviderNotFound,
    RegistrationError,
    SecurityAnswerError,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    TokenAlreadyUsed,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenWrongPurpose,
    UsernameUnavailable,
)
from provider_identity.events import Action, AuditEvent, LoggingEventSink
from provider_identity.lockout import LockoutPolicy, LockoutState, LockoutStatus, LockoutTracker
from provider_identity.mail import Branding, MessageKind, Templates
from provider_identity.passwords import (
    RFC_9106_LOW_MEMORY,
    TEST_ONLY_CHEAPEST,
    PasswordHasher,
    PasswordPolicy,
    Violation,
)
from provider_identity.ports import (
    AccountRepository,
    EventSink,
    LockoutStore,
    Mailer,
    PasswordBlocklist,
    ProviderDirectory,
)
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    suggest_provider_type,
)
from provider_identity.registration import (
    DEFAULT_HELP_LINES,
    ProviderDetails,
    RegistrationMatcher,
    RegistrationRequest,
)
from provider_identity.security_questions import DEFAULT_QUESTIONS, SecurityQuestions
from provider_identity.service import AccountView, IdentityService, LoginResult, RegistrationResult
from provider_identity.tokens import TokenClaims, TokenIssuer, TokenPurpose

__all__ = [
    "DEFAULT_HELP_LINES",
    "DEFAULT_QUESTIONS",
    "GROUP_ELIGIBLE_CATEGORIES",
    "RFC_9106_LOW_MEMORY",
    "TEST_ONLY_CHEAPEST",
    "Account",
    "AccountLocked",
    "AccountNotActivated",
    "AccountNotFound",
    "AccountRepository",
    "AccountStatus",
    "AccountView",
    "Action",
    "AlreadyRegistered",
    "AuditEvent",
    "AuthenticationError",
    "Branding",
    "CanonicalEmail",
    "Clock",
    "ConcurrentUpdate",
    "ConfigurationError",
    "DetailsMismatch",
    "EventSink",
    "FieldError",
    "IdentityError",
    "IdentityService",
    "InvalidCredentials",
    "InvalidInput",
    "LineOfBusiness",
    "LockoutPolicy",
    "LockoutState",
    "LockoutStatus",
    "LockoutStore",
    "LockoutTracker",
    "LoggingEventSink",
    "LoginResult",
    "MailDeliveryError",
    "Mailer",
    "MessageKind",
    "NotEligibleForGroup",
    "PasswordBlocklist",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordRejected",
    "Payee",
    "ProviderCategory",
    "ProviderDetails",
    "ProviderDirectory",
    "ProviderNotFound",
    "ProviderRecord",
    "ProviderType",
    "RegistrationError",
    "RegistrationMatcher",
    "RegistrationRequest",
    "RegistrationResult",
    "SecurityAnswerError",
    "SecurityAnswerLocked",
    "SecurityAnswerMismatch",
    "SecurityQuestions",
    "SystemClock",
    "Templates",
    "TokenAlreadyUsed",
    "TokenClaims",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenIssuer",
    "TokenPurpose",
    "TokenWrongPurpose",
    "UsernameUnavailable",
    "Violation",
    "canonical_email",
    "canonical_username",
    "suggest_provider_type",
]
