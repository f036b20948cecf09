"""IdentityService off the happy path: failed mail, races, support-desk checks, bad arguments."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import argon2
import pytest

from provider_identity import (
    AccountLocked,
    AccountNotFound,
    ConcurrentUpdate,
    ConfigurationError,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    PasswordHasher,
    SecurityAnswerLocked,
    SecurityAnswerMismatch,
    TokenAlreadyUsed,
    TokenInvalid,
    TokenIssuer,
)
from provider_identity.accounts import Account
from provider_identity.passwords import OWASP_MINIMUM
from provider_identity.testing import (
    FailingMailer,
    ManualClock,
    MemoryAccountRepository,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
)
from tests.helpers import KEY, PASSWORD, practitioner


def test_tokens_and_service_must_share_one_clock(
    make_service: Callable[..., IdentityService],
) -> None:
    """A token issuer on a different clock from the service is a configuration error."""
    with pytest.raises(ConfigurationError):
        make_service(tokens=TokenIssuer(current=KEY, clock=ManualClock()))


def test_a_failed_activation_mail_leaves_a_pending_account_that_resend_can_fix(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    events: RecordingEventSink,
) -> None:
    """A failed activation mail leaves a pending account that a resent link can activate."""
    result = make_service(mailer=FailingMailer()).register(practitioner())
    assert not result.activation_sent
    assert dict(events.events[-1].detail)["activation_mail"] == "not_sent"

    service = make_service()
    service.resend_activation("JDoe")
    assert service.activate(mailer.last_token()).status.value == "active"


def test_resend_activation_is_silent_when_throttled_unknown_or_active(
    service: IdentityService, mailer: RecordingMailer, events: RecordingEventSink
) -> None:
    """Resending activation never raises: it is throttled, and an unknown user gets no mail."""
    service.register(practitioner())
    for _ in range(3):
        service.resend_activation("jdoe")
    assert len(mailer.messages) == 3  # registration + 2 resends: the throttle allows 3
    assert events.outcomes()[-1] == ("resend_activation", "not_sent")
    service.resend_activation("nobody")
    assert events.outcomes()[-1] == ("resend_activation", "no_pending_account")


def test_register_refuses_what_is_not_a_request(service: IdentityService) -> None:
    """register refuses anything that is not a registration request as wrong_type."""
    with pytest.raises(InvalidInput) as caught:
        service.register("jdoe")  # type: ignore[arg-type]
    assert caught.value.errors[0].code == "wrong_type"


@pytest.mark.parametrize("client_address", [42, "x" * 257])
def test_a_bad_client_address_is_refused(service: IdentityService, client_address: object) -> None:
    """A client address that is not text or is too long is invalid input."""
    with pytest.raises(InvalidInput):
        service.login("jdoe", PASSWORD, client_address=client_address)  # type: ignore[arg-type]


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every argon2 hash or verify from now on, through any wrapper or dummy path."""
    calls: list[str] = []

    def counting(name: str) -> Callable[..., Any]:
        real = getattr(argon2.PasswordHasher, name)

        def call(self: argon2.PasswordHasher, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(self, *args, **kwargs)

        return call

    for name in ("hash", "verify"):
        monkeypatch.setattr(argon2.PasswordHasher, name, counting(name))
    return calls


def test_passwords_that_are_not_text_or_too_long_cost_no_hash(
    service: IdentityService, active_account: str, argon2_calls: list[str]
) -> None:
    """A password that is not text or is too long is refused before any hash runs."""
    with pytest.raises(InvalidInput):
        service.login("jdoe", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", "ﬃ" * 129)  # 129 code points raw, 387 after NFKC
    with pytest.raises(InvalidCredentials):
        service.login("jdoe", "x" * 100_000)  # too long before normalisation
    assert argon2_calls == []
    assert service.lockout_status("jdoe").failures == 0
    with pytest.raises(InvalidCredentials):  # control: a usable wrong password is verified
        service.login("jdoe", "Wrong-Password-1")
    assert argon2_calls.count("verify") == 1  # (plus the dummy hash, if first made now)


class Racing(MemoryAccountRepository):
    """Another request wins every write once ``racing`` is set."""

    racing = False

    def replace(self, account: Account, *, expected_version: int) -> None:
        if self.racing:
            raise ConcurrentUpdate
        super().replace(account, expected_version=expected_version)


def test_a_rehash_that_loses_a_race_is_skipped_and_the_login_stands(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """A rehash that loses a write race is skipped, and the login still succeeds."""
    accounts = Racing()
    make_service(accounts=accounts).register(practitioner())
    make_service(accounts=accounts).activate(mailer.last_token())
    accounts.racing = True
    upgraded = make_service(accounts=accounts, hasher=PasswordHasher(parameters=OWASP_MINIMUM))
    assert upgraded.login("jdoe", PASSWORD).rehashed is False


def test_an_activation_that_loses_a_race_is_already_used(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """An activation whose write loses a race reports its token as already used."""
    accounts = Racing()
    service = make_service(accounts=accounts)
    service.register(practitioner())
    accounts.racing = True
    with pytest.raises(TokenAlreadyUsed):
        service.activate(mailer.last_token())


def test_change_password_of_an_unknown_or_locked_account(
    service: IdentityService, active_account: str
) -> None:
    """No password change for an unknown account; wrong tries lock it, then even the right one."""
    with pytest.raises(AccountNotFound):
        service.change_password("no-such-id", PASSWORD, "Green-Kestrel-2032")
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            service.change_password(active_account, "Wrong-Password-1", "Green-Kestrel-2032")
    with pytest.raises(AccountLocked):
        service.change_password(active_account, "Wrong-Password-1", "Green-Kestrel-2032")
    with pytest.raises(AccountLocked):
        service.change_password(active_account, PASSWORD, "Green-Kestrel-2032")


def test_security_answers_are_checked_with_their_own_limit(
    service: IdentityService, active_account: str
) -> None:
    """Security answers match loosely, lock after three misses, and spare the login lockout."""
    service.verify_security_answer("JDoe", "  REX ")
    with pytest.raises(SecurityAnswerMismatch) as first:
        service.verify_security_answer("jdoe", "Fido")
    assert first.value.attempts_left == 2
    with pytest.raises(SecurityAnswerMismatch):
        service.verify_security_answer("jdoe", "Fido")
    with pytest.raises(SecurityAnswerLocked):
        service.verify_security_answer("jdoe", "Fido")  # the third wrong answer locks
    with pytest.raises(SecurityAnswerLocked):
        service.verify_security_answer("jdoe", "Rex")
    assert service.login("jdoe", PASSWORD).account.username == "jdoe"  # login is untouched


@pytest.mark.parametrize(("username", "answer", "error"), [
    ("nobody", "Rex", AccountNotFound),
    ("jdoe", "", InvalidInput),
    ("jdoe", None, InvalidInput),
])  # fmt: skip
def test_security_answer_bad_arguments(
    service: IdentityService, active_account: str, username: str, answer: object, error: type
) -> None:
    """An unknown user, or an empty or non-text answer, is refused with its own error."""
    with pytest.raises(error):
        service.verify_security_answer(username, answer)  # type: ignore[arg-type]


def test_accessible_providers_of_unknown_accounts_and_vanished_records(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """An unknown account has no providers to list; one whose records vanished lists none."""
    directory = MemoryProviderDirectory()
    service = make_service()
    result = service.register(practitioner())
    with pytest.raises(AccountNotFound):
        service.accessible_providers("no-such-id")
    assert make_service(directory=directory).accessible_providers(result.account.id) == ()
    assert not service.is_session_current("no-such-id", 0)


def test_a_token_for_an_account_that_is_gone_is_invalid(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """A token for an account no longer stored is invalid."""
    make_service().register(practitioner())
    with pytest.raises(TokenInvalid):
        make_service(accounts=MemoryAccountRepository()).activate(mailer.last_token())


def test_an_unexpected_error_is_audited_as_internal_and_raised(
    make_service: Callable[..., IdentityService], events: RecordingEventSink
) -> None:
    """An unexpected error is raised unchanged and audited as internal_error."""

    class Broken(MemoryAccountRepository):
        def find_by_username(self, username_key: str) -> Account | None:
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        make_service(accounts=Broken()).login("jdoe", PASSWORD)
    assert events.outcomes() == [("login", "internal_error")]


def test_mail_is_built_for_the_stored_address_only(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Mail goes to the stored, normalised address (lower-case domain)."""
    service.register(practitioner(email="Jane.Doe@Example.org"))
    message: EmailMessage = mailer.last()
    assert message["To"] == "Jane.Doe@example.org"


def test_an_activation_whose_welcome_mail_fails_still_activates_and_says_so(
    make_service: Callable[..., IdentityService],
    mailer: RecordingMailer,
    events: RecordingEventSink,
) -> None:
    """The Email Verification message fails: the account is active, the event names the mail."""
    make_service().register(practitioner())
    view = make_service(mailer=FailingMailer()).activate(mailer.last_token())
    assert view.status.value == "active"
    assert (events.events[-1].action.value, events.events[-1].outcome) == ("activate", "success")
    assert dict(events.events[-1].detail)["mail"] == "mail_delivery_failed"
