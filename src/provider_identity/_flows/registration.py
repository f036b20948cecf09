"""Registration flows: check_provider, register, resend_activation, activate, purge_pending."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from provider_identity._flows.base import ServiceBase, _check_client_address, _Draft
from provider_identity._flows.results import AccountView, RegistrationResult
from provider_identity.accounts import Account, AccountStatus, canonical_username, mask_email
from provider_identity.errors import (
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    InvalidInput,
    TicketExpired,
    TicketInvalid,
    TokenAlreadyUsed,
    TokenError,
    TokenExpired,
    UsernameUnavailable,
)
from provider_identity.events import Action
from provider_identity.limits import LimitKind, provider_key
from provider_identity.mail import email_verification_message
from provider_identity.providers import ProviderRecord, ProviderType
from provider_identity.registration import (
    AccountRequest,
    ProviderCheck,
    ProviderDetails,
    ProviderRequest,
    RegistrationRequest,
    RegistrationTicket,
    ValidAccount,
    validate_account,
    validate_registration,
)
from provider_identity.tokens import TokenPurpose


class RegistrationFlows(ServiceBase):
    """Registering a provider and activating its account; mixed into IdentityService."""

    __slots__ = ()

    def check_provider(
        self,
        request: ProviderRequest,
        *,
        client_address: str | None = None,
        human_check: str | None = None,
    ) -> ProviderCheck:
        """Step 1 of a step-by-step registration: check the provider details alone.

        The same checks, outcomes and codes as :meth:`register` has for the
        provider details; the result's ticket stands for them in step 3
        (:class:`AccountRequest`).

        Raises:
            InvalidInput: field errors of the provider details, all at once.
            ProviderNotFound: no such provider; ``help_lines`` says whom to call.
            DetailsMismatch: the details differ from the record.
            NotEligibleForGroup: the provider's category may not register as a Group.
            AlreadyRegistered: the provider has an account already.
            TooManyAttempts: too many checks from ``client_address`` or for the provider.
            HumanCheckRequired: pass the answer of a human check as ``human_check``.
        """
        with self._audit(Action.CHECK_PROVIDER, client_address) as audit:
            if not isinstance(request, ProviderRequest):
                raise InvalidInput.single("request", "wrong_type", "Not a provider request.")
            details = ProviderDetails.parse(request)
            guard = self._guard(audit, client_address, human_check)
            guard(LimitKind.CHECK_PROVIDER, client_address)
            audit.detail["provider_type"] = details.provider_type.value
            guard(LimitKind.REGISTRATION_PROVIDER, provider_key(details.provider_id, details.npi))
            record = self._matcher.match(details)
            audit.detail["provider_id"] = record.provider_id
            self._expired_holder(self.accounts.find_by_provider_id(record.provider_id))
            ticket = RegistrationTicket(
                provider_id=record.provider_id, provider_type=details.provider_type
            )
            return ProviderCheck(
                ticket=self.tokens.issue_payload(TokenPurpose.REGISTRATION, ticket.payload()),
                provider_type=details.provider_type,
                expires_at=self.clock.now() + self.tokens.lifetimes[TokenPurpose.REGISTRATION],
            )

    def register(
        self,
        request: RegistrationRequest | AccountRequest,
        *,
        client_address: str | None = None,
        human_check: str | None = None,
    ) -> RegistrationResult:
        """Match the request against the provider records, store a pending account, send activation.

        ``request`` is everything at once (:class:`RegistrationRequest`), or
        step 3 of a step-by-step registration (:class:`AccountRequest`), whose
        ticket from :meth:`check_provider` stands for the provider details.

        Raises:
            InvalidInput: field errors, all at once (``PasswordRejected`` if only the password's).
            TicketExpired, TicketInvalid: the ticket of an ``AccountRequest`` is unusable.
            ProviderNotFound: no such provider; ``help_lines`` says whom to call.
            DetailsMismatch: the details differ from the record.
            NotEligibleForGroup: the provider's category may not register as a Group.
            AlreadyRegistered: the provider has an account already.
            UsernameUnavailable: the username or email is taken.
            TooManyAttempts: too many attempts from ``client_address`` or for the provider.
            HumanCheckRequired: pass the answer of a human check as ``human_check``.
        """
        with self._audit(Action.REGISTER, client_address) as audit:
            guard = self._guard(audit, client_address, human_check)
            valid, provider_type, record = self._matched(request, guard, client_address, audit)
            audit.detail["provider_id"] = record.provider_id
            expired = self._expired_holder(self.accounts.find_by_provider_id(record.provider_id))
            self._check_names_free(valid, expired)
            account = self._pending_account(valid, provider_type, record, request.security_question)
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

    def _matched(
        self,
        request: RegistrationRequest | AccountRequest,
        guard: Callable[[LimitKind, str | None], None],
        client_address: str | None,
        audit: _Draft,
    ) -> tuple[ValidAccount, ProviderType, ProviderRecord]:
        """Validate the request and match its provider, counting the limits on the way."""
        if isinstance(request, AccountRequest):
            ticket = self._read_ticket(request.ticket)
            audit.detail["provider_type"] = ticket.provider_type.value
            valid = validate_account(
                request,
                password_policy=self.password_policy,
                security_questions=self.security_questions,
            )
            guard(LimitKind.REGISTRATION, client_address)
            audit.username = valid.username_key
            # The ticket's record was matched (and counted) by check_provider.
            return valid, ticket.provider_type, self._matcher.match_ticket(ticket)
        if isinstance(request, RegistrationRequest):
            full = validate_registration(
                request,
                password_policy=self.password_policy,
                security_questions=self.security_questions,
            )
            guard(LimitKind.REGISTRATION, client_address)
            details = full.details
            audit.username = full.username_key
            audit.detail["provider_type"] = details.provider_type.value
            guard(LimitKind.REGISTRATION_PROVIDER, provider_key(details.provider_id, details.npi))
            return full, details.provider_type, self._matcher.match(details)
        raise InvalidInput.single("request", "wrong_type", "Not a registration request.")

    def _check_names_free(self, valid: ValidAccount, expired: Account | None) -> None:
        """The username and email are no account's, but the expired one's being replaced."""
        freed = () if expired is None else (expired.username_key, expired.email_key)
        for field, key in (("username", valid.username_key), ("email", valid.email.key)):
            if key not in freed and self.accounts.key_taken(key):
                raise UsernameUnavailable(field)

    def _pending_account(
        self,
        valid: ValidAccount,
        provider_type: ProviderType,
        record: ProviderRecord,
        security_question: str,
    ) -> Account:
        now = self.clock.now()
        return Account(
            id=self.new_account_id(),
            username=valid.username,
            username_key=valid.username_key,
            email=valid.email.address,
            email_key=valid.email.key,
            status=AccountStatus.PENDING,
            provider_type=provider_type,
            provider_id=record.provider_id,
            password_hash=self.hasher.hash(valid.password),
            security_question=security_question,
            security_answer_hash=self.hasher.hash(valid.answer),
            agreement_version=self.agreement_version,
            agreement_accepted_at=now,
            created_at=now,
        )

    def _read_ticket(self, ticket: object) -> RegistrationTicket:
        try:
            payload, _ = self.tokens.verify_payload(ticket, TokenPurpose.REGISTRATION)
        except TokenExpired:
            expired = True
        except TokenError:
            expired = False
        else:
            return RegistrationTicket.from_payload(payload)
        raise TicketExpired if expired else TicketInvalid

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
