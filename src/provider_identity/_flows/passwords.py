"""Password flows: login and its lockout, forgot and reset password, change password,
the user-name reminder.
"""

from __future__ import annotations

import functools
from datetime import datetime

from provider_identity._fields import checked_text, collect
from provider_identity._flows.base import ServiceBase, _Draft, _refuse, _until
from provider_identity._flows.results import AccountView, LoginResult
from provider_identity.accounts import Account, canonical_email, canonical_username
from provider_identity.errors import (
    AccountDeactivated,
    AccountLocked,
    AccountNotActivated,
    ConcurrentUpdate,
    FieldError,
    InvalidCredentials,
    InvalidInput,
    PasswordRejected,
    StoreUnavailable,
    TokenAlreadyUsed,
    TokenError,
    _duration_words,
)
from provider_identity.events import Action
from provider_identity.i18n import msg
from provider_identity.limits import LimitKind
from provider_identity.lockout import LockoutStatus, LockoutTracker
from provider_identity.mail import (
    account_locked_message,
    password_changed_message,
    username_reminder_message,
)
from provider_identity.mfa.results import SecondFactorDue
from provider_identity.passwords import RAW_LENGTH_FACTOR, normalize_password, reused_violation
from provider_identity.tokens import TokenPurpose


class PasswordFlows(ServiceBase):
    """Logging in and managing the password; mixed into IdentityService."""

    __slots__ = ()

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
                label=msg("Password"),
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
            raise PasswordRejected([reused_violation(keep).as_field_error()])
        return account.with_password(self.hasher.hash(password), keep=keep, now=now)

    def _notify_password_changed(self, account: Account, audit: _Draft) -> None:
        self._deliver(
            password_changed_message(
                self.branding, to=account.email, username=account.username, now=self.clock.now()
            ),
            audit,
        )
