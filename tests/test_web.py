"""provider_identity.web: error views, form mapping, password requirements, link peeks, sessions."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import provider_identity
from provider_identity import (
    NIST_POLICY,
    SEED_POLICY,
    AccountLocked,
    IdentityError,
    IdentityService,
    InvalidInput,
    PasswordPolicy,
    PasswordUse,
    ProviderNotFound,
    TokenPurpose,
    UsernameUnavailable,
)
from provider_identity.testing import ManualClock, MemoryLockoutStore, RecordingMailer
from provider_identity.web import (
    ErrorMap,
    LinkState,
    SessionGuard,
    account_request,
    csrf_token,
    csrf_valid,
    error_view,
    password_checklist,
    peek_link,
    provider_request,
    registration_request,
)
from tests.helpers import PASSWORD, practitioner

ERROR_CLASSES = [
    value
    for value in vars(provider_identity).values()
    if inspect.isclass(value) and issubclass(value, IdentityError)
]


def build(cls: type[IdentityError]) -> IdentityError:
    """An instance of ``cls`` with whatever its constructor needs."""
    args: dict[str, object] = {
        "locked_until": datetime(2030, 1, 1, tzinfo=UTC),
        "attempts_left": 2,
        "reason": "policy",
        "errors": [],
        "limit": "login",
        "retry_after": timedelta(minutes=1),
    }
    wanted = inspect.signature(cls).parameters
    return cls(**{name: value for name, value in args.items() if name in wanted})  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_class_has_a_status_and_a_page_message(cls: type[IdentityError]) -> None:
    """Each public error class maps to a 4xx/5xx status, its code and a message."""
    view = error_view(build(cls))
    assert 400 <= view.status < 600
    assert view.code == cls.code
    assert view.message


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput.single("tax_id", "required", "Tax ID is required."), 422),
        (provider_identity.AlreadyRegistered(), 409),
        (provider_identity.InvalidCredentials(), 401),
        (AccountLocked(datetime(2030, 1, 1, tzinfo=UTC)), 423),
        (provider_identity.TokenExpired(), 410),
        (provider_identity.TokenAlreadyUsed(), 410),
        (provider_identity.TokenInvalid(), 400),
        (provider_identity.StoreUnavailable(), 503),
    ],
)
def test_statuses_of_the_seed_outcomes(error: IdentityError, status: int) -> None:
    """The seed's outcomes answer the statuses the docs list."""
    assert error_view(error).status == status


def test_field_errors_go_beside_their_fields_with_codes_and_params() -> None:
    """InvalidInput's problems become messages per field, in order, with their parameters."""
    with pytest.raises(InvalidInput) as caught:
        SEED_POLICY.validate("short")
    view = error_view(caught.value)
    assert view.field("password")[0] == "Must be a minimum of 12 characters."
    assert view.field_errors[0].params == {"min": 12}
    assert view.field("username") == ()


def test_username_unavailable_is_shown_beside_its_field() -> None:
    """A taken email goes beside the email field, with a summary for the page."""
    view = error_view(UsernameUnavailable("email"))
    assert view.fields == {"email": ("That email address is already used by another account.",)}
    assert view.message == InvalidInput.default_message
    assert view.status == 409


def test_provider_not_found_carries_both_help_lines() -> None:
    """ "Provider does not exist" hands both help lines to the page, one per line."""
    view = error_view(ProviderNotFound([("medicaid", "1-855-202-1058"), ("marketplace", "x")]))
    assert view.help_lines == (("medicaid", "1-855-202-1058"), ("marketplace", "x"))


def test_a_new_error_class_maps_through_its_base_and_can_be_given_a_status() -> None:
    """An error class the map does not list takes its base's status; a code can override it."""

    class Throttled(provider_identity.AuthenticationError):
        code = "throttled_example"

    assert error_view(Throttled()).status == 401
    assert ErrorMap().with_status("throttled_example", 429).view(Throttled()).status == 429
    assert ErrorMap().with_status(Throttled, 429).status(Throttled()) == 429


def test_form_maps_to_provider_request_trimmed() -> None:
    """Text fields are trimmed; a missing field is empty; a line of business is read."""
    request = provider_request(
        {"provider_type": " practitioner ", "name": " Jane Q. Doe ", "line_of_business": "Medicaid"}
    )
    assert request.name == "Jane Q. Doe"
    assert request.provider_type == "practitioner"
    assert request.tax_id == ""
    assert request.line_of_business is provider_identity.LineOfBusiness.MEDICAID


def test_unknown_line_of_business_is_a_field_error() -> None:
    """A line of business no select offers is refused on its field."""
    with pytest.raises(InvalidInput) as caught:
        provider_request({"line_of_business": "dental"})
    assert caught.value.fields == {"line_of_business"}


@given(password=st.text(max_size=30), flag=st.sampled_from(["on", "ON", "true", "1", "", "off"]))
def test_passwords_are_never_trimmed_and_checkboxes_read_as_browsers_send(
    password: str, flag: str
) -> None:
    """A password arrives exactly as typed; "on"/"true"/"1" tick the agreement, others do not."""
    request = account_request(
        {"password": password, "agreement_confirmed": flag, "username": " jdoe "}, ticket="t"
    )
    assert request.password == password
    assert request.username == "jdoe"
    assert request.agreement_confirmed is (flag.lower() in {"on", "true", "1"})


def test_a_one_page_form_registers(service: IdentityService) -> None:
    """registration_request of a complete form registers like the hand-built request."""
    form = {
        "provider_type": "practitioner",
        "name": "Jane Q. Doe",
        "tax_id": "31-1234567",
        "zip_code": "45402",
        "provider_id": "P1000001",
        "username": "jdoe",
        "password": PASSWORD,
        "email": "jane.doe@example.org",
        "security_question": "What is the name of your first pet?",
        "security_answer": "Rex",
        "agreement_confirmed": "on",
    }
    assert registration_request(form) == practitioner()
    assert service.register(registration_request(form)).account.username == "jdoe"


def test_requirements_have_the_codes_the_violations_have() -> None:
    """Breaking each requirement gives a violation of the requirement's code and wording."""
    codes = {r.code: r for r in SEED_POLICY.requirements()}
    samples = {
        "too_short": "Aa1!",
        "missing_lowercase": "AAAAAAAAAAAA1!",
        "missing_uppercase": "aaaaaaaaaaaa1!",
        "missing_digit": "aaaaaaaaaaaaA!",
        "missing_symbol": "aaaaaaaaaaaaA1",
        "too_long": "aA1!" * 40,
    }
    for code, password in samples.items():
        found = {v.code: v for v in SEED_POLICY.check(password)}
        assert found[code].message == codes[code].message
        assert found[code].params == codes[code].params


def test_history_applies_to_a_change_and_not_to_registration() -> None:
    """ "Not one of your last 5 passwords" is on the change checklist only."""
    registration = [r.code for r in SEED_POLICY.requirements(PasswordUse.REGISTRATION)]
    change = [r.code for r in SEED_POLICY.requirements(PasswordUse.CHANGE)]
    assert "reused" not in registration
    assert "reused" in change
    assert registration[:2] == ["too_short", "missing_lowercase"]
    checklist = password_checklist(SEED_POLICY, PasswordUse.CHANGE)
    assert {
        "code": "reused",
        "message": "Must not be one of your last 5 passwords.",
        "params": {"count": 5},
    } in checklist


def test_nist_preset_lists_no_composition_rule() -> None:
    """The NIST preset's checklist has its 15-character minimum and no missing_* line."""
    requirements = NIST_POLICY.requirements()
    assert requirements[0].params == {"min": 15}
    assert not [r for r in requirements if r.code.startswith("missing_")]
    assert PasswordPolicy(history=0).requirements(PasswordUse.CHANGE)[-1].code != "reused"


def test_peek_tells_the_link_states_apart_and_changes_nothing(
    service: IdentityService, mailer: RecordingMailer, clock: ManualClock
) -> None:
    """valid, then used after activation; expired after its lifetime; invalid if garbled."""
    service.register(practitioner())
    token = mailer.last_token()
    before = service.accounts.find_by_username("jdoe")
    assert peek_link(service, token, TokenPurpose.ACTIVATION) is LinkState.VALID
    assert peek_link(service, token, TokenPurpose.ACTIVATION) is LinkState.VALID
    assert service.accounts.find_by_username("jdoe") == before
    assert peek_link(service, token, TokenPurpose.PASSWORD_RESET) is LinkState.INVALID
    assert peek_link(service, "garbage", TokenPurpose.ACTIVATION) is LinkState.INVALID
    clock.advance(timedelta(hours=72, seconds=1))
    assert peek_link(service, token, TokenPurpose.ACTIVATION) is LinkState.EXPIRED


def test_peek_of_a_reset_link_after_the_reset_says_used(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """A reset link is valid until the password changes, then used."""
    service.request_password_reset("jdoe")
    token = mailer.last_token()
    assert peek_link(service, token, TokenPurpose.PASSWORD_RESET) is LinkState.VALID
    service.reset_password(token, "Another-Heron-2032")
    assert peek_link(service, token, TokenPurpose.PASSWORD_RESET) is LinkState.USED


@pytest.fixture
def guard(service: IdentityService) -> SessionGuard:
    """Sessions whose revocations live in a memory store."""
    return SessionGuard(service=service, revocations=MemoryLockoutStore())


def test_a_session_lives_until_logout_and_a_copy_dies_with_it(
    service: IdentityService, guard: SessionGuard, active_account: str
) -> None:
    """After end(), the same cookie contents (a copy) no longer log anyone in."""
    session: dict[str, object] = {"stale": 1}
    guard.start(service.login("jdoe", PASSWORD), session)
    assert "stale" not in session
    copy = dict(session)
    assert guard.current(session) is not None
    guard.end(session)
    assert session == {}
    assert guard.current(copy) is None


def test_a_password_change_ends_other_sessions(
    service: IdentityService, guard: SessionGuard, active_account: str
) -> None:
    """The credential version in the session is checked on every request."""
    session: dict[str, object] = {}
    login = service.login("jdoe", PASSWORD)
    guard.start(login, session)
    service.change_password(login.account.id, PASSWORD, "Another-Heron-2032")
    assert guard.current(session) is None


def test_a_session_ends_after_its_lifetime(
    service: IdentityService, guard: SessionGuard, clock: ManualClock, active_account: str
) -> None:
    """Eight hours after login the session is no longer current."""
    session: dict[str, object] = {}
    guard.start(service.login("jdoe", PASSWORD), session)
    clock.advance(timedelta(hours=8))
    assert guard.current(session) is not None
    clock.advance(timedelta(seconds=1))
    assert guard.current(session) is None


@pytest.mark.parametrize(
    "session",
    [{}, {"sid": 1}, {"sid": "s", "account_id": "a", "credential_version": True, "since": 0}],
)
def test_garbled_sessions_are_logged_out(guard: SessionGuard, session: dict[str, object]) -> None:
    """Missing or mistyped session values mean no one is logged in."""
    assert guard.current(session) is None


def test_csrf_token_is_stable_per_session_and_checked() -> None:
    """The token is made once per session; only the same token is valid."""
    session: dict[str, object] = {}
    token = csrf_token(session)
    assert csrf_token(session) == token
    assert csrf_valid(session, token)
    assert not csrf_valid(session, token + "x")
    assert not csrf_valid({}, token)
    assert not csrf_valid(session, None)


def test_an_empty_csrf_token_is_never_made_or_accepted() -> None:
    """A session whose token some code set to "" gets a real one; "" never passes the check."""
    session: dict[str, object] = {"csrf_token": ""}
    assert not csrf_valid(session, "")
    token = csrf_token(session)
    assert len(token) >= 43
    assert session["csrf_token"] == token


@pytest.mark.parametrize("submitted", ["\ud800", "é" * 43, "x" * 10_000])
def test_any_submitted_text_is_checked_without_an_exception(submitted: str) -> None:
    """A lone surrogate, non-ASCII or very long text is simply not the token."""
    session: dict[str, object] = {}
    csrf_token(session)
    assert not csrf_valid(session, submitted)


def test_too_many_attempts_is_429_with_retry_after_in_whole_seconds_rounded_up() -> None:
    """A rate limit answers 429 and a Retry-After header of at least the wait, in seconds."""
    wait = timedelta(seconds=61, milliseconds=1)
    view = error_view(provider_identity.TooManyAttempts("login", wait))
    assert (view.status, view.retry_after) == (429, 62)
    assert view.headers == {"Retry-After": "62"}
    assert view.message == "Too many attempts. Please wait 62 seconds and try again."
    assert error_view(provider_identity.TooManyAttempts("login", timedelta(0))).retry_after == 1


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)))
def test_retry_after_never_promises_less_than_the_wait(wait: timedelta) -> None:
    """Retry-After rounds up: a client that waits that long is not refused for being early."""
    seconds = error_view(provider_identity.TooManyAttempts("login", wait)).retry_after
    assert seconds is not None
    assert seconds >= 1
    assert timedelta(seconds=seconds) >= wait
    assert timedelta(seconds=seconds - 1) < max(wait, timedelta(seconds=1))


def test_human_check_required_asks_to_complete_the_check_and_sends_no_retry_after() -> None:
    """The human check is a form to finish again, not a wait: 400, flagged, no header."""
    view = error_view(provider_identity.HumanCheckRequired("login"))
    assert (view.status, view.human_check, view.headers) == (400, True, {})
    assert "complete the check" in view.message
    assert not error_view(AccountLocked(datetime(2030, 1, 1, tzinfo=UTC))).human_check
