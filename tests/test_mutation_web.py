"""The web layer at its edges: the words of each refusal, session limits on both sides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from starlette.middleware.sessions import SessionMiddleware

from provider_identity import IdentityService, SecondFactorDue, errors
from provider_identity.errors import FieldError
from provider_identity.events import Action
from provider_identity.providers import LineOfBusiness
from provider_identity.testing import (
    ManualClock,
    MemoryLockoutStore,
    RecordingEventSink,
    RecordingMailer,
)
from provider_identity.web import (
    ErrorMap,
    SessionGuard,
    csrf_token,
    error_view,
    new_password,
    provider_request,
    registration_request,
)
from provider_identity.web.fastapi import identity_router
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD
from tests.test_web_flask import PROVIDER
from tests.test_web_flask import make_app as flask_app
from tests.test_web_flask import post as flask_post
from tests.test_web_flask import register as flask_register


def fastapi_client(service: IdentityService) -> tuple[TestClient, dict[str, str]]:
    """A client of the router under /identity and the headers carrying its CSRF token."""
    app = FastAPI()
    app.include_router(identity_router(service), prefix="/identity")
    app.add_middleware(SessionMiddleware, secret_key="s" * 32, https_only=False)
    http = TestClient(app, client=("203.0.113.7", 50000))
    return http, {"X-CSRF-Token": http.get("/identity/csrf").json()["csrf_token"]}


def test_fastapi_agreement_refusal_in_words(service: IdentityService) -> None:
    """An unticked agreement: 422, and the sentence beside its field."""
    http, headers = fastapi_client(service)
    assert http.post("/identity/register/provider", json=PROVIDER, headers=headers).is_success
    response = http.post(
        "/identity/register/agreement", json={"agreement_confirmed": False}, headers=headers
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "invalid_input"
    assert detail["fields"] == {"agreement_confirmed": ["Please confirm the Provider Agreement."]}


def test_fastapi_login_and_me_show_the_account(
    service: IdentityService, active_account: str
) -> None:
    """The login answer and /me carry the user name, email, provider type and Provider ID."""
    http, headers = fastapi_client(service)
    body = {"username": "jdoe", "password": PASSWORD}
    login = http.post("/identity/login", json=body, headers=headers).json()
    shown = {
        "username": "jdoe",
        "email": "jane.doe@example.org",
        "provider_type": "practitioner",
        "provider_id": "P1000001",
    }
    assert login.pop("csrf_token") != headers["X-CSRF-Token"]  # a fresh session's
    assert login == shown
    assert http.get("/identity/me").json() == shown


# -- sessions -------------------------------------------------------------------------------


@pytest.fixture
def guard(service: IdentityService) -> SessionGuard:
    return SessionGuard(service=service, revocations=MemoryLockoutStore())


def started(service: IdentityService, guard: SessionGuard) -> dict[str, object]:
    session: dict[str, object] = {}
    login = service.login("jdoe", PASSWORD)
    guard.start(login, session)  # type: ignore[arg-type]  # no second factor here
    return session


def test_session_holds_only_opaque_values(
    service: IdentityService, guard: SessionGuard, clock: ManualClock, active_account: str
) -> None:
    """A random id, the account id, its credential version and the start in whole seconds."""
    session = started(service, guard)
    assert set(session) == {"sid", "account_id", "credential_version", "since"}
    assert session["account_id"] == active_account
    assert session["since"] == int(clock.now().timestamp())
    assert isinstance(session["sid"], str)
    assert len(session["sid"]) == 24  # 18 random bytes, base64url
    assert session["sid"] != started(service, guard)["sid"]


def test_session_from_the_future_is_not_current(
    service: IdentityService, guard: SessionGuard, clock: ManualClock, active_account: str
) -> None:
    """A start one second after now (a forged or skewed cookie) is refused; at now it is fine."""
    session = started(service, guard)
    assert guard.current(session) is not None
    session["since"] = int(clock.now().timestamp()) + 1
    assert guard.current(session) is None


def test_a_shorter_lifetime_is_kept_to_the_second(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    """With 10 minutes: current at 600 s, gone at 601 s; an ended session stays ended as long."""
    store = MemoryLockoutStore()
    guard = SessionGuard(service=service, revocations=store, lifetime=timedelta(minutes=10))
    session = started(service, guard)
    clock.advance(600)
    assert guard.current(session) is not None
    clock.advance(1)
    assert guard.current(session) is None
    fresh = started(service, guard)
    copy = dict(fresh)
    guard.end(fresh)
    state = store.get(f"session-revoked:{copy['sid']}")
    assert state is not None
    assert state.locked_until == clock.now() + timedelta(minutes=10)
    clock.advance(599)
    assert guard.current(copy) is None


def test_ending_a_session_without_an_id_only_clears_it(
    service: IdentityService, guard: SessionGuard
) -> None:
    """Nothing to list for a session that never started; it is cleared all the same."""
    session: dict[str, object] = {"sid": 5, "other": "x"}
    guard.end(session)
    assert session == {}


def test_a_deactivated_account_has_no_session(
    service: IdentityService, guard: SessionGuard, active_account: str
) -> None:
    """The account must still be active on each request."""
    session = started(service, guard)
    service.deactivate(active_account)
    assert guard.current(session) is None


# -- forms ----------------------------------------------------------------------------------


def test_a_one_page_form_carries_npi_and_line_of_business() -> None:
    """Every provider field of the one-page form reaches the request, the line parsed."""
    form = {**PROVIDER, "npi": " 1234567893 ", "line_of_business": "marketplace"}
    request = registration_request(form)
    assert (request.npi, request.line_of_business) == ("1234567893", LineOfBusiness("Marketplace"))
    assert registration_request(PROVIDER).line_of_business is None


# -- error views ----------------------------------------------------------------------------

STATUSES = {
    "IdentityError": 400,
    "ConfigurationError": 500,
    "InvalidInput": 422,
    "RegistrationError": 422,
    "AlreadyRegistered": 409,
    "UsernameUnavailable": 409,
    "AuthenticationError": 401,
    "AccountNotActivated": 403,
    "AccountLocked": 423,
    "TokenError": 400,
    "TokenExpired": 410,
    "TokenAlreadyUsed": 410,
    "SecurityAnswerError": 401,
    "SecurityAnswerLocked": 423,
    "AccountNotFound": 404,
    "ConcurrentUpdate": 409,
    "MailDeliveryError": 502,
    "StoreUnavailable": 503,
    "TooManyAttempts": 429,
    "HumanCheckRequired": 400,
    "InvalidCredentials": 401,
    "AccountDeactivated": 401,
    "TokenInvalid": 400,
    "ProviderNotFound": 422,
}


@pytest.mark.parametrize(("name", "status"), sorted(STATUSES.items()))
def test_each_error_class_answers_its_http_status(name: str, status: int) -> None:
    """The documented status of each class, and of classes below them through their bases."""
    cls = getattr(errors, name)
    error = cls.__new__(cls)  # the status depends on the class (and code) alone
    assert ErrorMap().status(error) == status


def test_an_empty_map_answers_400_and_with_status_leaves_the_original() -> None:
    """No entry at all: 400; ``with_status`` makes a copy."""
    expired = errors.TokenExpired()
    assert ErrorMap({}).status(expired) == 400
    changed = ErrorMap().with_status(errors.TokenExpired, 404)
    assert (changed.status(expired), ErrorMap().status(expired)) == (404, 410)


def test_several_problems_of_one_field_are_shown_in_order() -> None:
    """Two messages beside ``password``, in the order found; the page keeps InvalidInput's."""
    problem = errors.InvalidInput(
        [
            FieldError(field="password", code="too_short", message="First."),
            FieldError(field="username", code="required", message="Other."),
            FieldError(field="password", code="missing_digit", message="Second."),
        ]
    )
    view = error_view(problem)
    assert view.fields == {"password": ("First.", "Second."), "username": ("Other.",)}
    assert view.message == problem.message
    assert (view.status, view.code, view.retry_after, view.headers) == (
        422,
        "invalid_input",
        None,
        {},
    )
    assert view.help_lines == ()


def test_a_repeated_password_that_differs_is_refused_beside_the_repeat() -> None:
    """Code ``mismatch`` on the "again" field (named by the caller), in words."""
    for again in ("password_again", "confirm"):
        with pytest.raises(errors.InvalidInput) as caught:
            new_password({"password": "Blue-Heron-2031", again: "Blue-Heron-2032"}, again=again)
        (error,) = caught.value.errors
        assert (error.field, error.code, error.message) == (
            again,
            "mismatch",
            "The passwords do not match.",
        )
    assert new_password({"password": " x ", "password_again": " x "}) == " x "


# -- the Flask extension --------------------------------------------------------------------


def test_every_flask_flow_audits_the_requests_address(
    service: IdentityService, mailer: RecordingMailer, events: RecordingEventSink
) -> None:
    """Registration, activation, login, the three mail flows and a reset: each event names
    the address the request came from."""
    client = flask_app(service)[0].test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    flask_register(client)
    activation = mailer.last_token()
    assert flask_post(client, f"/activate?token={activation}", {}).status_code == 302
    assert (
        flask_post(client, "/login", {"username": "jdoe", "password": PASSWORD}).status_code == 302
    )
    for path, field, value in (
        ("/resend", "username", "jdoe"),
        ("/username", "email", "jane.doe@example.org"),
        ("/forgot", "username", "jdoe"),
    ):
        assert flask_post(client, path, {field: value}).status_code == 302
    reset = {"password": "Another-Heron-2032", "password_again": "Another-Heron-2032"}
    assert flask_post(client, f"/reset?token={mailer.last_token()}", reset).status_code == 302
    actions = {event.action for event in events.events}
    assert {
        Action.REGISTER,
        Action.ACTIVATE,
        Action.LOGIN,
        Action.RESEND_ACTIVATION,
        Action.REQUEST_PASSWORD_RESET,
        Action.RESET_PASSWORD,
    } <= actions
    assert {event.client_address for event in events.events} == {"203.0.113.5"}


def test_step_one_carries_the_npi_and_refuses_an_unknown_line_in_words() -> None:
    """The NPI reaches the request trimmed; a line of business not in the plan, in words."""
    assert provider_request({**PROVIDER, "npi": " 1234567893 "}).npi == "1234567893"
    with pytest.raises(errors.InvalidInput) as caught:
        provider_request({**PROVIDER, "line_of_business": "Dental"})
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "line_of_business",
        "invalid",
        "Line of business is not valid.",
    )


def test_fastapi_answers_carry_the_words_the_status_and_the_address(
    service: IdentityService, active_account: str, events: RecordingEventSink
) -> None:
    """A wrong password: 401 with code and message, audited with the client's address; /me
    without a session: 401 ``not_logged_in``."""
    http, headers = fastapi_client(service)
    wrong = {"username": "jdoe", "password": "Wrong-Heron-2031"}
    response = http.post("/identity/login", json=wrong, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == {
        "code": "invalid_credentials",
        "message": errors.InvalidCredentials().message,
        "fields": {},
        "help_lines": [],
    }
    assert events.events[-1].client_address == "203.0.113.7"
    me = http.get("/identity/me")
    assert (me.status_code, me.json()["detail"]) == (401, {"code": "not_logged_in"})


def test_a_guarded_session_needs_every_value_of_its_type(
    service: IdentityService, guard: SessionGuard, active_account: str
) -> None:
    """Each of the four values of the wrong type alone ends the session; so does an unknown id."""
    session = started(service, guard)
    assert guard.current(session) is not None
    for key, wrong in (
        ("sid", 5),
        ("account_id", 5),
        ("credential_version", "1"),
        ("since", float(session["since"])),  # type: ignore[arg-type]  # an int
        ("account_id", "no-such-account"),
    ):
        assert guard.current({**session, key: wrong}) is None, key


def test_csrf_tokens_carry_32_random_bytes() -> None:
    """43 URL-safe characters, new for each session."""
    first, second = csrf_token({}), csrf_token({})
    assert len(first) == 43
    assert first != second


def test_a_field_named_by_an_error_gets_its_code_and_words() -> None:
    """UsernameUnavailable("email"): the field error has the error's code and message."""
    (problem,) = error_view(errors.UsernameUnavailable("email")).field_errors
    assert (problem.field, problem.code, problem.message) == (
        "email",
        "username_unavailable",
        "That email address is already used by another account.",
    )


def test_the_flask_session_cookie_is_httponly_and_samesite_lax(service: IdentityService) -> None:
    """Flask's own default leaves SameSite unset: the extension makes the cookie Lax."""
    cookie = flask_app(service)[0].test_client().get("/login").headers["Set-Cookie"]
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie


def test_a_samesite_the_app_chose_is_kept(service: IdentityService) -> None:
    """An app that asked for Strict keeps Strict."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    ProviderIdentity(app, service=service)
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_a_flask_agreement_left_unticked_is_required(service: IdentityService) -> None:
    """Step 2 without the tick: code ``required`` and the sentence, on the checkbox."""
    app, identity = flask_app(service)
    with (
        app.test_request_context("/agreement", method="POST", data={}),
        pytest.raises(errors.InvalidInput) as raised,
    ):
        identity.confirm_agreement()
    assert raised.value.errors == (
        FieldError(
            field="agreement_confirmed",
            code="required",
            message="Please confirm the Provider Agreement.",
        ),
    )


def test_flask_login_arguments_win_over_the_form(
    service: IdentityService, active_account: str
) -> None:
    """A view that passes the username and password logs in with those, not the form's;
    after a logout the request has no account."""
    app, identity = flask_app(service)
    form = {"username": "someone-else", "password": "not-the-password"}
    with app.test_request_context("/login", method="POST", data=form):
        result = identity.login("jdoe", PASSWORD)
        assert identity.account is not None
        assert identity.account.id == active_account
        identity.logout()
        assert identity.account is None
    assert not isinstance(result, SecondFactorDue)
