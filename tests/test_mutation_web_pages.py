"""ProviderIdentity's page helpers hand the view's own context and the flow's result on,
on every path (the page, its error, its success): tests found by mutation testing."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import flask
import pytest
from flask import Flask
from jinja2 import DictLoader

from provider_identity import (
    ChallengeInvalid,
    IdentityService,
    InvalidInput,
    LoginResult,
    TicketInvalid,
    TokenPurpose,
)
from provider_identity.testing import FakeAuthenticator, ManualClock, RecordingMailer
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD, practitioner
from tests.test_mutation_flows import with_app
from tests.test_web_flask import ACCOUNT, PROVIDER
from tests.test_web_flask_pages import portal as pages_portal

# Every page shows the view's own value ``extra``, the error's status and code, the
# query's ``found`` and the enrolment's URI, so a value lost on the way shows.
PAGE = (
    "{{ extra }}|{% if error %}{{ error.status }} {{ error.code }}{% endif %}"
    "|{{ found }}|{{ enrolment.uri if enrolment else enrolment }}"
)
CONFIRMED = "{{ extra }}|{{ confirmed.recovery_codes.codes | length }}"


def portal(service: IdentityService) -> Flask:
    """Each helper's page with ``extra`` in its context and a success that shows the result."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False
    app.jinja_loader = DictLoader({"page.html": PAGE, "confirmed.html": CONFIRMED})
    identity = ProviderIdentity(app, service=service)

    def route(path: str) -> Callable[[Callable[[], Any]], Any]:
        return app.route(path, methods=["GET", "POST"])

    def logged_in(result: LoginResult) -> str:
        return f"logged in: {result.account.username}"

    @route("/login")
    def login() -> Any:
        return identity.login_page("page.html", logged_in, code_endpoint="code", extra="E1")

    @route("/code")
    def code() -> Any:
        return identity.code_page("page.html", logged_in, extra="E2")

    @route("/authenticator")
    def authenticator() -> Any:
        return identity.authenticator_page("page.html", "confirmed.html", extra="E3")

    @route("/activate")
    def activate() -> Any:
        return identity.link_page(
            TokenPurpose.ACTIVATION, "page.html", lambda view: view.username, extra="E4"
        )

    @app.get("/search")
    def search() -> Any:
        def lookup() -> str:
            if "bad" in flask.request.args:
                raise InvalidInput.single("q", "invalid", "Not a search.")
            return "results"

        return identity.query_page("page.html", lookup, "found", extra="E5")

    return app


def login(client: Any) -> Any:
    """Post Jane Doe's user name and password to the login page."""
    return client.post("/login", data={"username": "jdoe", "password": PASSWORD})


def test_the_login_page_keeps_its_context_and_hands_the_result_to_success(
    service: IdentityService, active_account: str
) -> None:
    """GET and a refused POST render with the view's context; a success gets the result."""
    client = portal(service).test_client()
    assert client.get("/login").text == "E1|||"
    refused = client.post("/login", data={"username": "jdoe", "password": "wrong"})
    assert (refused.status_code, refused.text) == (401, "E1|401 invalid_credentials||")
    assert login(client).text == "logged in: jdoe"


def test_the_code_page_keeps_its_context_and_hands_the_result_to_success(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer, clock: ManualClock
) -> None:
    """The second step's form and a wrong code render with the view's context."""
    service, _, phone = with_app(make_service, mailer, clock)
    clock.advance(30)
    client = portal(service).test_client()
    assert login(client).status_code == 302
    assert client.get("/code").text == "E2|||"
    wrong = client.post("/code", data={"code": phone.code(steps=10)})
    assert (wrong.status_code, wrong.text) == (401, "E2|401 invalid_code||")
    assert client.post("/code", data={"code": phone.code()}).text == "logged in: jdoe"


def test_a_login_step_without_a_challenge_is_an_invalid_challenge(
    factor_service: IdentityService,
) -> None:
    """``complete_login`` outside a login in progress refuses as a forged challenge does."""
    app = portal(factor_service)
    identity: ProviderIdentity = app.extensions["provider_identity"]
    with (
        app.test_request_context("/code", method="POST", data={"code": "123456"}),
        pytest.raises(ChallengeInvalid),
    ):
        identity.complete_login()


def test_the_authenticator_page_keeps_its_context_on_every_answer(
    factor_service: IdentityService, clock: ManualClock
) -> None:
    """The set-up form, a wrong code (no enrolment then) and the confirmation all get it."""
    client = portal(factor_service).test_client()
    login(client)
    extra, _, _, uri = client.get("/authenticator").text.split("|")
    assert (extra, uri[:10]) == ("E3", "otpauth://")
    phone = FakeAuthenticator(uri=html.unescape(uri), clock=clock)
    wrong = client.post("/authenticator", data={"code": phone.code(steps=10)})
    assert (wrong.status_code, wrong.text) == (401, "E3|401 invalid_code||None")
    assert client.post("/authenticator", data={"code": phone.code()}).text == "E3|10"


def test_a_link_page_keeps_its_context(service: IdentityService, mailer: RecordingMailer) -> None:
    """The link's page renders with the view's context; its success gets the account."""
    client = portal(service).test_client()
    service.register(practitioner())
    token = mailer.last_token()
    assert client.get(f"/activate?token={token}").text == "E4|||"
    assert client.post(f"/activate?token={token}").text == "jdoe"


def test_a_query_page_shows_the_result_or_the_error_with_its_context(
    service: IdentityService,
) -> None:
    """The result under its name; an error with its status, the name set to nothing."""
    client = portal(service).test_client()
    assert client.get("/search").text == "E5||results|"
    refused = client.get("/search?bad=1")
    assert (refused.status_code, refused.text) == (422, "E5|422 invalid_input|None|")


def test_redirect_to_passes_its_values_to_url_for(service: IdentityService) -> None:
    """``redirect_to(endpoint, **values)`` builds the URL with the values as url_for does."""
    app = portal(service)
    identity: ProviderIdentity = app.extensions["provider_identity"]
    with app.test_request_context("/"):
        answer = identity.redirect_to("search", bad=1)(None)
    assert answer.location == "/search?bad=1"  # type: ignore[union-attr]  # a redirect


def test_finishing_a_registration_leaves_nothing_of_it_in_the_session(
    service: IdentityService,
) -> None:
    """After step 3 the session holds what it held before step 1: no ticket, no agreement."""
    client = pages_portal(service).test_client()
    with client.session_transaction() as session:
        before = dict(session)
    client.post("/register", data=PROVIDER)
    client.post("/agreement", data={"agreement_confirmed": "on"})
    assert client.post("/account", data=ACCOUNT).status_code == 302
    with client.session_transaction() as session:
        assert dict(session) == before


def test_step_three_without_a_ticket_is_refused_as_not_started(service: IdentityService) -> None:
    """``finish_registration`` with no step 1 in the session: the empty ticket's refusal."""
    app = pages_portal(service)
    identity: ProviderIdentity = app.extensions["provider_identity"]
    with (
        app.test_request_context("/account", method="POST", data=ACCOUNT),
        pytest.raises(TicketInvalid, match="start your registration again"),
    ):
        identity.finish_registration()


def test_step_one_again_asks_for_the_agreement_again(service: IdentityService) -> None:
    """Checking the provider anew forgets a ticked agreement: step 2 comes before step 3."""
    client = pages_portal(service).test_client()
    client.post("/register", data=PROVIDER)
    client.post("/agreement", data={"agreement_confirmed": "on"})
    assert client.get("/account").status_code == 200
    client.post("/register", data=PROVIDER)
    assert client.get("/account").location == "/register"
