"""Both integrations with a second factor: the password step logs nobody in; the code does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask, redirect
from jinja2 import DictLoader
from starlette.middleware.sessions import SessionMiddleware

from provider_identity import (
    IdentityService,
    LoginResult,
    SecondFactorDue,
)
from provider_identity.testing import FakeAuthenticator, ManualClock, RecordingEventSink
from provider_identity.web.fastapi import identity_router
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD


@pytest.fixture
def enrolled(
    factor_service: IdentityService, clock: ManualClock
) -> tuple[IdentityService, FakeAuthenticator]:
    """A service with second factors on, and an active account with an authenticator app."""
    service = factor_service
    account = service.accounts.find_by_username("jdoe")
    assert account is not None
    app = FakeAuthenticator.from_enrolment(service.begin_totp_enrolment(account.id), clock)
    service.confirm_totp(account.id, app.code())
    clock.advance(30)
    return service, app


def test_flask_login_waits_for_the_code(
    enrolled: tuple[IdentityService, FakeAuthenticator], events: RecordingEventSink
) -> None:
    """After the password the session holds only the challenge; the code logs in (and the
    audit names the request's address at both steps)."""
    service, authenticator = enrolled
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF is tested in test_web_flask.py
    app.jinja_loader = DictLoader({"p.html": "{{ account.username if account }}"})
    identity = ProviderIdentity(app, service=service)
    after = lambda _: redirect("/")  # noqa: E731

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        return identity.form_page("p.html", identity.login, after)

    @app.route("/code", methods=["POST"])
    def code() -> Any:
        return identity.form_page("p.html", identity.complete_login, after)

    @app.get("/")
    def home() -> Any:
        return identity.render("p.html") if identity.account else ("second step", 401)

    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    seen = len(events.events)
    client.post("/login", data={"username": "jdoe", "password": PASSWORD})
    assert client.get("/").status_code == 401
    with client.session_transaction() as session:
        assert set(session) == {"second_factor_challenge"}
    assert client.post("/code", data={"code": authenticator.code(steps=10)}).status_code == 401
    assert client.post("/code", data={"code": authenticator.code()}).status_code == 302
    assert client.get("/").text == "jdoe"
    assert {event.client_address for event in events.events[seen:]} == {"203.0.113.8"}


def test_fastapi_login_waits_for_the_code(
    enrolled: tuple[IdentityService, FakeAuthenticator],
) -> None:
    """POST /login answers second_factor_due; POST /login/code logs in."""
    service, authenticator = enrolled
    api = FastAPI()
    api.include_router(identity_router(service))
    api.add_middleware(SessionMiddleware, secret_key="s" * 32)
    client = TestClient(api, client=("203.0.113.7", 50000))
    csrf = {"X-CSRF-Token": client.get("/csrf").json()["csrf_token"]}
    answer = client.post("/login", headers=csrf, json={"username": "jdoe", "password": PASSWORD})
    assert answer.json()["second_factor_due"] == ["recovery_code", "totp"]
    assert client.get("/me").status_code == 401
    csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
    answer = client.post("/login/code", headers=csrf, json={"code": authenticator.code()})
    assert answer.status_code == 200, answer.text
    assert client.get("/me").json()["username"] == "jdoe"
    assert re.fullmatch(r"[\w-]+", answer.json()["csrf_token"])


def test_flask_sets_up_an_authenticator_app_for_the_logged_in_account(
    factor_service: IdentityService, clock: ManualClock, events: RecordingEventSink
) -> None:
    """begin_totp_enrolment and confirm_totp act on the session's account; a wrong code is 4xx."""
    service = factor_service
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False
    app.jinja_loader = DictLoader({"p.html": "{{ error.code if error }}"})
    identity = ProviderIdentity(app, service=service)
    phone: list[FakeAuthenticator] = []

    @app.post("/login")
    def login() -> Any:
        identity.login()
        return "in"

    @app.get("/enrol")
    def enrol() -> Any:
        phone.append(FakeAuthenticator.from_enrolment(identity.begin_totp_enrolment(), clock))
        return "scan"

    @app.post("/confirm")
    def confirm() -> Any:
        codes = lambda result: str(len(result.recovery_codes.codes))  # noqa: E731
        return identity.form_page("p.html", identity.confirm_totp, codes)

    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.8"
    seen = len(events.events)
    client.post("/login", data={"username": "jdoe", "password": PASSWORD})
    client.get("/enrol")
    assert client.post("/confirm", data={"code": phone[0].code(steps=10)}).status_code == 401
    assert client.post("/confirm", data={"code": phone[0].code()}).text == "10"
    assert {event.client_address for event in events.events[seen:]} == {"203.0.113.8"}
    clock.advance(30)
    assert not isinstance(service.login("jdoe", PASSWORD), LoginResult)


def test_fastapi_sets_up_an_authenticator_app_for_the_logged_in_account(
    factor_service: IdentityService, clock: ManualClock
) -> None:
    """POST /authenticator answers the secret and QR code; /confirm the recovery codes, once."""
    service = factor_service
    api = FastAPI()
    api.include_router(identity_router(service))
    api.add_middleware(SessionMiddleware, secret_key="s" * 32)
    client = TestClient(api, client=("203.0.113.7", 50000))
    csrf = {"X-CSRF-Token": client.get("/csrf").json()["csrf_token"]}
    assert client.post("/authenticator", headers=csrf).status_code == 401  # nobody logged in
    answer = client.post("/login", headers=csrf, json={"username": "jdoe", "password": PASSWORD})
    csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
    answer = client.post("/authenticator", headers=csrf)
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["qr_svg"].startswith("<svg")
    phone = FakeAuthenticator(uri=answer.json()["uri"], clock=clock)
    assert answer.json()["secret"] in phone.uri
    wrong = client.post("/authenticator/confirm", headers=csrf, json={"code": phone.code(steps=9)})
    assert (wrong.status_code, wrong.json()["detail"]["code"]) == (401, "invalid_code")
    answer = client.post("/authenticator/confirm", headers=csrf, json={"code": phone.code()})
    assert answer.headers["Cache-Control"] == "no-store"
    codes = answer.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    again = client.post("/authenticator", headers=csrf)
    assert again.json()["detail"]["code"] == "factor_already_enrolled"
    clock.advance(30)
    step = service.login("jdoe", PASSWORD)
    assert isinstance(step, SecondFactorDue)
    assert service.complete_login(step.challenge, codes[0]).account.username == "jdoe"
