"""An account's life after registration: email change, security answer, Provider
Agreement, deactivation and reactivation.
"""

from __future__ import annotations

import secrets

from provider_identity._fields import checked_text
from provider_identity._flows.base import ServiceBase, _Draft, _until
from provider_identity._flows.results import AccountView
from provider_identity.accounts import (
    Account,
    DeactivationReason,
    canonical_email,
    canonical_username,
)
from provider_identity.errors import (
    AccountNotFound,
    ConcurrentUpdate,
    InvalidInput,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    TokenAlreadyUsed,
    UsernameUnavailable,
)
from provider_identity.events import Action
from provider_identity.i18n import msg
from provider_identity.mail import (
    email_change_message,
    email_change_notice_message,
    security_answer_changed_message,
)
from provider_identity.security_questions import normalize_answer
from provider_identity.tokens import TokenPurpose


class AccountLifeFlows(ServiceBase):
    """The account's details and status; mixed into IdentityService."""

    __slots__ = ()

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
            if pending is None or not account.confirms_pending_email(
                claims.nonce, claims.credential_version
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

    def _deactivate(self, account: Account, reason: DeactivationReason, audit: _Draft) -> Account:
        audit.detail["reason"] = str(reason)
        changed = account.deactivated(reason, self.clock.now())
        self.accounts.replace(changed, expected_version=account.credential_version)
        return changed

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
            label=msg("Security Answer"),
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
