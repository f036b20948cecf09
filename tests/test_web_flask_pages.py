"""ProviderIdentity's whole-flow pages (login with its code step, authenticator set-up,
the registration steps, link pages), through Flask's test client."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from jinja2 import DictLoader

from provider_identity import IdentityService, TokenPurpose
from provider_identity.testing import (
    FakeAuthenticator,
    ManualClock,
    RecordingMailer,
)
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD, practitioner
from tests.test_web_flask import ACCOUNT, PROVIDER

PAGE = (
    "{% if error %}{{ error.status }} {{ error.code }}{% endif %}|{{ state }}"
    "|{{ questions | join(';') if questions }}"
    "|{% if enrolment %}{{ enrolment.qr_svg[:4] | safe }} {{ enrolment.uri }}{% endif %}"
)
CODES = "{{ confirmed.recovery_codes.codes | join(' ') }}"


def portal(service: IdentityService) -> Flask:
    """The pages as the docs' Flask page writes them (CSRF is tested in test_web_flask.py)."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False
    app.jinja_loader = DictLoader({"page.html": PAGE, "codes.html": CODES})
    identity = ProviderIdentity(app, service=service)
    go = identity.redirect_to

    def route(path: str) -> Callable[[Callable[[], Any]], Any]:
        return app.route(path, methods=["GET", "POST"])

    @route("/login")
    def login() -> Any:
        return identity.login_page("page.html", go("home"), code_endpoint="code")

    @route("/code")
    def code() -> Any:
        return identity.code_page("page.html", go("home"))

    @route("/authenticator")
    @identity.login_required
    def authenticator() -> Any:
        return identity.authenticator_page("page.html", "codes.html")

    @route("/register")
    def register() -> Any:
        return identity.registration_page(1, "page.html", go("agreement"))

    @route("/agreement")
    def agreement() -> Any:
        return identity.registration_page(2, "page.html", go("account"))

    @route("/account")
    def account() -> Any:
        return identity.registration_page(3, "page.html", go("login"))

    @route("/activate")
    def activate() -> Any:
        return identity.link_page(TokenPurpose.ACTIVATION, "page.html", go("login"))

    @route("/reset")
    def reset() -> Any:
        return identity.link_page(TokenPurpose.PASSWORD_RESET, "page.html", go("login"))

    @app.get("/")
    def home() -> Any:
        return identity.account.username if identity.account else "nobody"

    return app


def where(response: Any) -> str:
    """The path a redirect points to."""
    assert response.status_code == 302, response.text
    return str(response.location)


def test_a_skipped_registration_step_goes_back_to_step_one(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Steps 2 and 3 redirect to step 1 until reached; step 3 gets the security questions."""
    client = portal(service).test_client()
    assert where(client.get("/agreement")) == "/register"
    assert where(client.post("/account", data=ACCOUNT)) == "/register"
    assert where(client.post("/register", data=PROVIDER)) == "/agreement"
    assert where(client.get("/account")) == "/register"  # the agreement is not ticked yet
    assert client.post("/agreement", data={}).text.startswith("422 invalid_input")
    assert where(client.post("/agreement", data={"agreement_confirmed": "on"})) == "/account"
    questions = client.get("/account").text.split("|")[2].split(";")
    assert questions == list(service.security_questions.questions)
    assert where(client.post("/account", data=ACCOUNT)) == "/login"
    assert mailer.last()["Subject"] == "Activate Your Provider Portal Account"
    assert where(client.get("/agreement")) == "/register"  # finished: a new one starts over


def test_a_link_page_peeks_on_get_and_spends_on_post(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """The page shows the link's state; only the POST activates or resets."""
    client = portal(service).test_client()
    service.register(practitioner())
    token = mailer.last_token()
    assert client.get(f"/activate?token={token}").text.startswith("|valid|")
    assert where(client.post(f"/activate?token={token}")) == "/login"
    assert client.get(f"/activate?token={token}").text.startswith("|used|")
    service.request_password_reset("jdoe")
    token = mailer.last_token()
    assert client.get(f"/reset?token={token}").text.startswith("|valid|")
    data = {"password": "Quiet-Otter-2032", "password_again": "Quiet-Otter-2032"}
    assert where(client.post(f"/reset?token={token}", data=data)) == "/login"
    assert client.get(f"/reset?token={token}").text.startswith("|used|")


@pytest.mark.parametrize(
    ("page", "argument"),
    [("registration_page", 0), ("registration_page", 4), ("link_page", TokenPurpose.REGISTRATION)],
)
def test_a_page_for_no_flow_is_a_value_error(
    service: IdentityService, page: str, argument: object
) -> None:
    """A step or link kind the extension has no page for is a bug in the view, said at once."""
    app = portal(service)
    identity: ProviderIdentity = app.extensions["provider_identity"]
    with app.test_request_context("/"), pytest.raises(ValueError, match=page):
        getattr(identity, page)(argument, "page.html", identity.redirect_to("home"))


def test_login_without_a_second_factor_goes_to_its_success(
    service: IdentityService, active_account: str
) -> None:
    """An account without an app is logged in by the password alone; no code step is due."""
    client = portal(service).test_client()
    assert where(client.post("/login", data={"username": "jdoe", "password": PASSWORD})) == "/"
    assert client.get("/").text == "jdoe"
    assert where(client.get("/code")) == "/login"


def test_an_authenticator_set_up_then_a_login_in_two_steps(
    factor_service: IdentityService, clock: ManualClock
) -> None:
    """Set-up shows a secret and its QR code, a wrong code keeps it off, the right one shows
    the recovery codes once; the next login needs the password, then a code."""
    service = factor_service
    client = portal(service).test_client()
    assert where(client.get("/authenticator")) == "/login"  # nobody logged in
    client.post("/login", data={"username": "jdoe", "password": PASSWORD})
    answer = client.get("/authenticator")
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.text
    uri = re.search(r"<svg (otpauth://\S+)", page)
    assert uri is not None, page
    phone = FakeAuthenticator(uri=html.unescape(uri[1]), clock=clock)
    assert (
        client.post("/authenticator", data={"code": phone.code(steps=10)}).text
        == "401 invalid_code|||"
    )
    answer = client.post("/authenticator", data={"code": phone.code()})
    assert answer.headers["Cache-Control"] == "no-store"
    codes = answer.text.split()
    assert len(codes) == 10
    with client.session_transaction() as session:
        assert not any(code in str(dict(session)) for code in codes)  # shown once, kept nowhere
    assert client.get("/authenticator").text.startswith("400 factor_already_enrolled|")

    clock.advance(30)
    client = portal(service).test_client()
    assert where(client.get("/code")) == "/login"  # no password step yet
    assert where(client.post("/login", data={"username": "jdoe", "password": PASSWORD})) == "/code"
    assert client.get("/").text == "nobody"
    assert client.post("/code", data={"code": phone.code(steps=10)}).status_code == 401
    assert where(client.post("/code", data={"code": codes[0]})) == "/"
    assert client.get("/").text == "jdoe"
