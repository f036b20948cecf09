"""The second-factor flows of :class:`~provider_identity.IdentityService`.

A mixin, so that the service's module keeps the password flows and this one
the factors: :class:`SecondFactorFlows` holds complete_login, enrolment,
recovery codes, passkeys, removal and the support desk's reset. Each call
emits one audit event through the service's ``_audit``; none puts a secret,
a code or a challenge in an event, a log line or an error.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import attrs

from provider_identity._fields import checked_text
from provider_identity.accounts import Account
from provider_identity.errors import (
    ChallengeInvalid,
    CodeAlreadyUsed,
    ConcurrentUpdate,
    FactorAlreadyEnrolled,
    FactorNotEnrolled,
    FactorRequired,
    InvalidCode,
    SecondFactorsOff,
)
from provider_identity.events import Action
from provider_identity.i18n import msg
from provider_identity.mfa import passkeys as webauthn_ceremonies
from provider_identity.mfa.challenge import ChallengeClaims, LoginChallenges
from provider_identity.mfa.notices import FactorNotice, factor_notice
from provider_identity.mfa.records import FactorRecord, RecoveryCodes, TotpFactor
from provider_identity.mfa.recovery import RecoveryCodeSet, new_recovery_codes, normalize_code
from provider_identity.mfa.results import PasskeyRegistration, SecondFactorDue, TotpConfirmed
from provider_identity.mfa.secretbox import SecretBox
from provider_identity.mfa.settings import RelyingParty, SecondFactors
from provider_identity.mfa.totp import TotpEnrolment
from provider_identity.passwords import normalize_password
from provider_identity.ports import FactorStore

if TYPE_CHECKING:
    from email.message import EmailMessage

    from provider_identity.clock import Clock
    from provider_identity.lockout import LockoutStatus, LockoutTracker
    from provider_identity.mail import Branding
    from provider_identity.passwords import PasswordHasher, PasswordPolicy
    from provider_identity.ports import AccountRepository
    from provider_identity.tokens import TokenIssuer

__all__ = ["MAX_CODE_LENGTH", "SecondFactorFlows"]

#: The service's login result (:class:`~provider_identity.LoginResult`).
LoginResultT = TypeVar("LoginResultT")


class _Draft(Protocol):
    """The service's audit draft: what an event will say."""

    outcome: str
    username: str | None
    account_id: str | None
    detail: dict[str, str]


#: Typed codes longer than this are refused before any work.
MAX_CODE_LENGTH = 64
_WEBAUTHN_CHALLENGE_BYTES = 32
_FACTOR_NAME_MAX = 64


@attrs.frozen(kw_only=True)
class _Checked:
    """A second step that verified: the record to write and what to record about it."""

    record: FactorRecord
    factor: str
    remaining: int | None = None


class SecondFactorFlows(Generic[LoginResultT]):
    """complete_login and the management of factors; mixed into IdentityService."""

    __slots__ = ()

    if TYPE_CHECKING:
        accounts: AccountRepository
        clock: Clock
        tokens: TokenIssuer
        hasher: PasswordHasher
        password_policy: PasswordPolicy
        branding: Branding
        second_factors: SecondFactors
        _logins: LockoutTracker

        def _audit(
            self, action: Action, client_address: object
        ) -> AbstractContextManager[_Draft]: ...

        def _locked(self, status: LockoutStatus) -> Exception: ...

        def _bounded_password(self, password: object) -> str: ...

        def _deliver(self, message: EmailMessage, audit: Any) -> bool: ...

        def _logged_in(
            self, account: Account, audit: Any, *, rehashed: bool, enrolment_due: bool
        ) -> LoginResultT: ...

        def _check_current_password(
            self, account: Account, password: object, audit: Any
        ) -> None: ...

        def _account(self, account_id: object, audit: Any) -> Account: ...

    # -- the login's second step ---------------------------------------------------------

    def _login_challenges(self) -> LoginChallenges:
        return LoginChallenges(tokens=self.tokens, lifetime=self.second_factors.challenge_lifetime)

    def _registration_challenges(self) -> LoginChallenges:
        return LoginChallenges(
            tokens=self.tokens,
            lifetime=self.second_factors.challenge_lifetime,
            purpose="passkey-registration",
        )

    def _second_step(self, account: Account) -> SecondFactorDue | bool:
        """After a right password: the second step due, or whether enrolment is due (bool)."""
        settings = self.second_factors
        if not settings.enabled:
            return False
        record = self._store.get(account.id)
        if record is None or not record.has_second_factor:
            return settings.mode == "required"
        webauthn = None
        options = None
        if record.passkeys and settings.relying_party is not None:
            webauthn = secrets.token_bytes(_WEBAUTHN_CHALLENGE_BYTES)
            options = webauthn_ceremonies.authentication_options(
                settings.relying_party, passkeys=record.passkeys, challenge=webauthn
            )
        challenges = self._login_challenges()
        return SecondFactorDue(
            challenge=challenges.issue(
                account_id=account.id,
                credential_version=account.credential_version,
                revision=record.revision,
                webauthn=webauthn,
            ),
            methods=record.methods,
            expires_at=challenges.expires_at(),
            passkey_options=options,
        )

    def complete_login(
        self, challenge: str, code: str, *, client_address: str | None = None
    ) -> LoginResultT:
        """Finish a login that returned :class:`SecondFactorDue`, with a TOTP or recovery code.

        The attempt counts toward the login lockout before the code is
        checked, as a password does; a success ends the run of failures. A
        TOTP code is accepted once (its step is stored); a recovery code is
        used up, audited, and a notice goes to the stored address.

        Raises:
            SecondFactorsOff: the service's mode is off.
            ChallengeExpired: the second step came too late; log in again.
            ChallengeInvalid: forged, used already, or the account changed since.
            InvalidInput: ``code`` is not text or is too long.
            InvalidCode: the code is wrong (``CodeAlreadyUsed``: a replayed TOTP code).
            AccountLocked: too many failures; even the right code is refused.
        """
        return self._complete(Action.COMPLETE_LOGIN, challenge, code, client_address, passkey=False)

    def complete_login_with_passkey(
        self, challenge: str, credential: str, *, client_address: str | None = None
    ) -> LoginResultT:
        """Finish a login with the browser's answer to ``SecondFactorDue.passkey_options``.

        As :meth:`complete_login`; the passkey's sign counter must move forward.

        Raises:
            InvalidCode: the answer does not verify, names no passkey of the
                account, or its sign counter went backwards.
        """
        return self._complete(
            Action.COMPLETE_LOGIN, challenge, credential, client_address, passkey=True
        )

    def _complete(
        self, action: Action, challenge: str, code: str, client_address: object, *, passkey: bool
    ) -> LoginResultT:
        with self._audit(action, client_address) as audit:
            store = self._store
            claims = self._login_challenges().verify(challenge)
            account = self.accounts.get(claims.account_id)
            if (
                account is None
                or not account.is_active
                or account.credential_version != claims.credential_version
            ):
                raise ChallengeInvalid
            audit.username, audit.account_id = account.username_key, account.id
            text = self._code_text(code, passkey=passkey)
            status = self._logins.record_failure(account.username_key)
            if not status.admitted:
                raise self._locked(status)
            record = store.get(account.id)
            if record is None or record.revision != claims.revision:
                raise ChallengeInvalid
            try:
                checked = (
                    self._check_passkey(record, text, claims)
                    if passkey
                    else self._check_code(record, text)
                )
            except InvalidCode:
                if status.is_locked:
                    raise self._locked(status) from None
                raise
            audit.detail["factor"] = checked.factor
            try:
                store.put(checked.record, expected_revision=record.revision)
            except ConcurrentUpdate as err:  # another request used this challenge first
                raise ChallengeInvalid from err
            self._logins.record_success(account.username_key)
            if checked.remaining is not None:
                audit.detail["recovery_codes_left"] = str(checked.remaining)
                self._notify(account, FactorNotice.RECOVERY_CODE_USED, audit, checked.remaining)
            return self._logged_in(account, audit, rehashed=False, enrolment_due=False)

    def _code_text(self, code: object, *, passkey: bool) -> str:
        limit = webauthn_ceremonies.MAX_CREDENTIAL_JSON if passkey else MAX_CODE_LENGTH
        return checked_text("code", code, label=msg("Code"), max_length=limit)

    def _check_code(self, record: FactorRecord, text: str) -> _Checked:
        """Check a TOTP or recovery code; the record after it, or InvalidCode."""
        code = normalize_code(text)
        settings = self.second_factors
        if code.isascii() and code.isdigit() and len(code) == settings.totp.digits:
            factor = record.totp
            if factor is None:
                raise InvalidCode
            step = settings.totp.matching_step(
                self._box.open(factor.sealed_secret, context=record.account_id),
                code,
                self.clock.now(),
            )
            if step is None:
                raise InvalidCode
            if step <= factor.last_step:
                raise CodeAlreadyUsed
            return _Checked(
                record=record.next(totp=attrs.evolve(factor, last_step=step)), factor="totp"
            )
        recovery = record.recovery
        if recovery is None or not record.has_second_factor:
            raise InvalidCode
        wanted = self._box.digests(code)
        left = tuple(digest for digest in recovery.digests if digest not in wanted)
        if len(left) == len(recovery.digests):
            raise InvalidCode
        return _Checked(
            record=record.next(recovery=attrs.evolve(recovery, digests=left)),
            factor="recovery_code",
            remaining=len(left),
        )

    def _check_passkey(self, record: FactorRecord, text: str, claims: ChallengeClaims) -> _Checked:
        party = self.second_factors.relying_party
        credential_id = webauthn_ceremonies.credential_id_of(text)
        passkey = next((key for key in record.passkeys if key.credential_id == credential_id), None)
        if party is None or passkey is None or claims.webauthn is None:
            raise InvalidCode
        count = webauthn_ceremonies.verify_authentication(
            party, text, passkey=passkey, challenge=claims.webauthn
        )
        if count is None:
            raise InvalidCode
        used = attrs.evolve(passkey, sign_count=count, last_used_at=self.clock.now())
        keys = tuple(used if key is passkey else key for key in record.passkeys)
        return _Checked(record=record.next(passkeys=keys), factor="passkey")

    # -- authenticator apps --------------------------------------------------------------

    def begin_totp_enrolment(
        self, account_id: str, *, client_address: str | None = None
    ) -> TotpEnrolment:
        """Start adding an authenticator app: a new secret, its URI and QR code.

        Nothing changes at login until :meth:`confirm_totp` accepts a first
        code. Starting again replaces a pending enrolment.

        Raises:
            SecondFactorsOff, AccountNotFound: as the names say.
            FactorAlreadyEnrolled: an app is active; remove it first.
        """
        with self._audit(Action.BEGIN_TOTP_ENROLMENT, client_address) as audit:
            store, account = self._store, self._account(account_id, audit)
            record = self._record(account)
            if record.totp is not None:
                raise FactorAlreadyEnrolled
            totp = self.second_factors.totp
            secret = totp.new_secret()
            pending = TotpFactor(
                sealed_secret=self._box.seal(secret, context=account.id),
                created_at=self.clock.now(),
            )
            enrolment = TotpEnrolment.of(secret, totp.uri(secret, account.username))
            self._write(store, record.next(pending_totp=pending), record)
            return enrolment

    def confirm_totp(
        self, account_id: str, code: str, *, client_address: str | None = None
    ) -> TotpConfirmed:
        """Activate the pending authenticator app with its first code.

        The code's step is stored, so it cannot also log in. The first factor
        of an account comes with its recovery codes (shown once).

        Raises:
            FactorNotEnrolled: no enrolment is pending.
            InvalidCode: the code is not the app's.
        """
        with self._audit(Action.CONFIRM_TOTP, client_address) as audit:
            store, account = self._store, self._account(account_id, audit)
            text = self._code_text(code, passkey=False)
            record = self._record(account)
            pending = record.pending_totp
            if pending is None:
                raise FactorNotEnrolled
            step = self.second_factors.totp.matching_step(
                self._box.open(pending.sealed_secret, context=account.id),
                normalize_code(text),
                self.clock.now(),
            )
            if step is None:
                raise InvalidCode
            active = attrs.evolve(pending, confirmed_at=self.clock.now(), last_step=step)
            codes, recovery = self._first_recovery_codes(record)
            self._write(
                store, record.next(totp=active, pending_totp=None, recovery=recovery), record
            )
            self._notify(account, FactorNotice.TOTP_ENROLLED, audit)
            return TotpConfirmed(recovery_codes=codes)

    # -- recovery codes ------------------------------------------------------------------

    def _new_recovery(self) -> tuple[RecoveryCodeSet, RecoveryCodes]:
        codes = new_recovery_codes(self.second_factors.recovery_codes)
        digests = tuple(self._box.digest(normalize_code(code)) for code in codes.codes)
        return codes, RecoveryCodes(
            digests=digests, issued=len(digests), created_at=self.clock.now()
        )

    def _first_recovery_codes(
        self, record: FactorRecord
    ) -> tuple[RecoveryCodeSet | None, RecoveryCodes | None]:
        if record.recovery is not None and record.has_second_factor:
            return None, record.recovery
        return self._new_recovery()

    def regenerate_recovery_codes(
        self, account_id: str, password: str, *, client_address: str | None = None
    ) -> RecoveryCodeSet:
        """A new set of recovery codes (shown once); every code of the old set dies.

        Needs the password (wrong ones count toward the lockout); a notice
        goes to the stored address.

        Raises:
            FactorNotEnrolled: the account has no second factor.
            InvalidCredentials, AccountLocked: the password was not accepted.
        """
        with self._audit(Action.REGENERATE_RECOVERY_CODES, client_address) as audit:
            store, account = self._store, self._account(account_id, audit)
            self._check_password(account, password, audit)
            record = self._record(account)
            if not record.has_second_factor:
                raise FactorNotEnrolled
            codes, recovery = self._new_recovery()
            self._write(store, record.next(recovery=recovery), record)
            self._notify(account, FactorNotice.RECOVERY_CODES_REGENERATED, audit)
            return codes

    # -- passkeys --------------------------------------------------------------------------

    def begin_passkey_registration(
        self, account_id: str, *, client_address: str | None = None
    ) -> PasskeyRegistration:
        """Start adding a passkey: creation options for the browser and a signed state.

        Raises:
            SecondFactorsOff: mode off, or no ``relying_party`` configured.
        """
        with self._audit(Action.BEGIN_PASSKEY_REGISTRATION, client_address) as audit:
            party = self._relying_party
            account = self._account(account_id, audit)
            record = self._record(account)
            challenge = secrets.token_bytes(_WEBAUTHN_CHALLENGE_BYTES)
            options = webauthn_ceremonies.registration_options(
                party,
                account_id=account.id,
                username=account.username,
                existing=record.passkeys,
                challenge=challenge,
            )
            state = self._registration_challenges().issue(
                account_id=account.id,
                credential_version=account.credential_version,
                revision=record.revision,
                webauthn=challenge,
            )
            return PasskeyRegistration(options=options, state=state)

    def finish_passkey_registration(
        self,
        account_id: str,
        state: str,
        credential: str,
        *,
        name: str = "Passkey",
        client_address: str | None = None,
    ) -> RecoveryCodeSet | None:
        """Verify the browser's answer and add the passkey; a notice goes to the stored address.

        Returns:
            The first recovery codes if this is the account's first factor, else ``None``.

        Raises:
            ChallengeExpired, ChallengeInvalid: ``state`` is unusable or not this account's.
            InvalidCode: the answer does not verify.
            FactorAlreadyEnrolled: this credential is registered already.
        """
        with self._audit(Action.FINISH_PASSKEY_REGISTRATION, client_address) as audit:
            party = self._relying_party
            account = self._account(account_id, audit)
            claims = self._registration_challenges().verify(state)
            label = checked_text("name", name, label=msg("Name"), max_length=_FACTOR_NAME_MAX)
            text = self._code_text(credential, passkey=True)
            record = self._record(account)
            if (
                claims.account_id != account.id
                or claims.revision != record.revision
                or claims.webauthn is None
            ):
                raise ChallengeInvalid
            passkey = webauthn_ceremonies.verify_registration(
                party, text, challenge=claims.webauthn, name=label, now=self.clock.now()
            )
            if passkey is None:
                raise InvalidCode
            if any(key.credential_id == passkey.credential_id for key in record.passkeys):
                raise FactorAlreadyEnrolled
            codes, recovery = self._first_recovery_codes(record)
            self._write(
                self._store,
                record.next(passkeys=(*record.passkeys, passkey), recovery=recovery),
                record,
            )
            audit.detail["passkeys"] = str(len(record.passkeys) + 1)
            self._notify(account, FactorNotice.PASSKEY_ADDED, audit)
            return codes

    # -- removal and reset -----------------------------------------------------------------

    def factors(self, account_id: str) -> FactorRecord | None:
        """The account's factor record (sealed and hashed as stored), for a settings page."""
        if not self.second_factors.enabled or not isinstance(account_id, str):
            return None
        return self._store.get(account_id)

    def has_second_factor(self, account_id: str) -> bool:
        """True if a login of the account needs a second step."""
        record = self.factors(account_id)
        return record is not None and record.has_second_factor

    def remove_factor(
        self,
        account_id: str,
        factor: str,
        *,
        password: str,
        code: str,
        client_address: str | None = None,
    ) -> None:
        """Remove the authenticator app (``factor="totp"``) or a passkey (its credential id).

        Needs the password and a current TOTP or recovery code (used up like
        a login's). Removing the last factor also drops the recovery codes;
        it is refused when the mode is ``"required"`` or the password meets
        only the shorter minimum a second factor allows.

        Raises:
            FactorNotEnrolled: no such factor.
            InvalidCredentials, AccountLocked, InvalidCode: not confirmed.
            FactorRequired: the last factor must stay (``reason`` says why).
        """
        with self._audit(Action.REMOVE_FACTOR, client_address) as audit:
            store, account = self._store, self._account(account_id, audit)
            audit.detail["factor"] = "totp" if factor == "totp" else "passkey"
            text = self._code_text(code, passkey=False)
            password = self._check_password(account, password, audit)
            record = self._record(account)
            if factor == "totp":
                if record.totp is None:
                    raise FactorNotEnrolled
                changes: dict[str, Any] = {"totp": None}
            else:
                keep = tuple(key for key in record.passkeys if key.credential_id != factor)
                if len(keep) == len(record.passkeys):
                    raise FactorNotEnrolled
                changes = {"passkeys": keep}
            status = self._logins.record_failure(account.username_key)
            if not status.admitted:
                raise self._locked(status)
            try:
                checked = self._check_code(record, text)
            except InvalidCode:
                if status.is_locked:
                    raise self._locked(status) from None
                raise
            self._logins.record_success(account.username_key)
            after = attrs.evolve(checked.record, **changes)
            if not after.has_second_factor:
                self._check_last_factor_may_go(password)
                after = attrs.evolve(after, recovery=None)
            self._write(store, after, record)
            self._notify(account, FactorNotice.FACTOR_REMOVED, audit)

    def _check_last_factor_may_go(self, password: str) -> None:
        if self.second_factors.mode == "required":
            raise FactorRequired("policy")
        if len(normalize_password(password)) < self.password_policy.min_length:
            raise FactorRequired("password_too_short")

    def reset_factors(
        self, account_id: str, *, agent_id: str, client_address: str | None = None
    ) -> None:
        """Remove every factor and recovery code of an account: the support desk's call.

        For a caller who lost every factor, after the desk verified them
        (their security answer). The agent's id goes into the audit event; a
        notice goes to the stored address; the lockout and password are left
        as they are, and outstanding login challenges die.

        Raises:
            AccountNotFound: no such account.
            InvalidInput: ``agent_id`` is not usable text.
        """
        with self._audit(Action.RESET_FACTORS, client_address) as audit:
            agent = checked_text("agent_id", agent_id, label="Agent", max_length=128)
            audit.detail["agent"] = agent
            store, account = self._store, self._account(account_id, audit)
            record = self._record(account)
            self._write(
                store, FactorRecord(account_id=account.id, revision=record.revision + 1), record
            )
            self._notify(account, FactorNotice.FACTORS_RESET, audit)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _store(self) -> FactorStore:
        settings = self.second_factors
        if not settings.enabled or settings.store is None:
            raise SecondFactorsOff
        return settings.store

    @property
    def _box(self) -> SecretBox:
        box = self.second_factors.secrets
        assert box is not None  # noqa: S101  # SecondFactors refuses an enabled mode without one
        return box

    @property
    def _relying_party(self) -> RelyingParty:
        party = self.second_factors.relying_party
        if not self.second_factors.enabled or party is None:
            raise SecondFactorsOff
        return party

    def _record(self, account: Account) -> FactorRecord:
        record = self._store.get(account.id)
        return record if record is not None else FactorRecord(account_id=account.id)

    @staticmethod
    def _write(store: FactorStore, record: FactorRecord, before: FactorRecord) -> None:
        store.put(record, expected_revision=before.revision)

    def _check_password(self, account: Account, password: object, audit: _Draft) -> str:
        text = self._bounded_password(password)
        self._check_current_password(account, text, audit)
        return text

    def _notify(
        self, account: Account, notice: FactorNotice, audit: _Draft, remaining: int | None = None
    ) -> None:
        self._deliver(
            factor_notice(
                self.branding,
                notice,
                to=account.email,
                username=account.username,
                now=self.clock.now(),
                remaining=remaining,
            ),
            audit,
        )
