"""The web adapters' options and edges: a chosen session lifetime, Retry-After through
FastAPI, a client with no address, the CSRF header's default, the template locale
before the extension ran, and the request's language ending with the request: tests
found by mutation testing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import flask
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Receive, Scope, Send

from provider_identity import IdentityService, RateLimit, RateLimits
from provider_identity.i18n import current_locale
from provider_identity.testing import ManualClock, RecordingEventSink
from provider_identity.web.fastapi import identity_router
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD
from tests.test_web_fastapi import PROVIDER
from tests.test_web_flask import make_app as flask_app

TEN_MINUTES = timedelta(minutes=10)
CREDENTIALS = {"username": "jdoe", "password": PASSWORD}


def api(service: IdentityService, **options: Any) -> FastAPI:
    """The router under /identity with ``options``, behind Starlette's signed-cookie sessions."""
    app = FastAPI()
    app.include_router(identity_router(service, **options), prefix="/identity")
    app.add_middleware(SessionMiddleware, secret_key="s" * 32, https_only=False)
    return app


def csrf_headers(http: TestClient) -> dict[str, str]:
    """The X-CSRF-Token header of the client's session."""
    return {"X-CSRF-Token": http.get("/identity/csrf").json()["csrf_token"]}


# -- FastAPI ------------------------------------------------------------------------------


def test_fastapi_keeps_to_the_lifetime_it_is_given(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    """With ``lifetime`` 10 minutes a login still holds at 600 s and is gone at 601 s."""
    http = TestClient(api(service, lifetime=TEN_MINUTES), client=("203.0.113.7", 50000))
    assert http.post("/identity/login", json=CREDENTIALS, headers=csrf_headers(http)).is_success
    clock.advance(600)
    assert http.get("/identity/me").status_code == 200
    clock.advance(1)
    response = http.get("/identity/me")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "not_logged_in"


def test_fastapi_rate_limit_answers_retry_after(
    make_service: Callable[..., IdentityService],
) -> None:
    """Past the limit the router answers 429 with a Retry-After in seconds; other errors none."""
    limits = RateLimits(check_provider=RateLimit(limit=2, period=timedelta(minutes=1)))
    http = TestClient(api(make_service(limits=limits)), client=("203.0.113.7", 50000))
    headers = csrf_headers(http)
    wrong = http.post(
        "/identity/register/provider", json={**PROVIDER, "tax_id": ""}, headers=headers
    )
    assert wrong.status_code == 422
    assert "retry-after" not in wrong.headers
    for _ in range(2):
        assert http.post("/identity/register/provider", json=PROVIDER, headers=headers).is_success
    refused = http.post("/identity/register/provider", json=PROVIDER, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["detail"]["code"] == "too_many_attempts"
    assert 1 <= int(refused.headers["Retry-After"]) <= 120  # a sliding window of a minute


def test_fastapi_serves_a_client_without_an_address(
    service: IdentityService, events: RecordingEventSink, active_account: str
) -> None:
    """A server that knows no client address (a Unix socket): the login works, logged as none."""
    inner = api(service)

    async def no_address(scope: Scope, receive: Receive, send: Send) -> None:
        await inner({**scope, "client": None}, receive, send)

    http = TestClient(no_address)
    events.events.clear()
    login = http.post("/identity/login", json=CREDENTIALS, headers=csrf_headers(http))
    assert login.status_code == 200
    assert login.json()["username"] == "jdoe"
    assert events.events
    assert {event.client_address for event in events.events} == {None}


def test_fastapi_documents_no_stand_in_csrf_token(service: IdentityService) -> None:
    """The OpenAPI document gives the X-CSRF-Token header no value a generated client would send."""
    document = TestClient(api(service)).get("/openapi.json").json()
    login = document["paths"]["/identity/login"]["post"]
    (header,) = [p for p in login["parameters"] if p["in"] == "header"]
    assert header["name"].lower() == "x-csrf-token"
    assert not header["schema"].get("default")


# -- Flask --------------------------------------------------------------------------------


def test_flask_keeps_to_the_lifetime_it_is_given(
    service: IdentityService, clock: ManualClock, active_account: str
) -> None:
    """With ``lifetime`` 10 minutes a login still holds at 600 s and is gone at 601 s."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False
    identity = ProviderIdentity(app, service=service, lifetime=TEN_MINUTES)

    @app.post("/login")
    def login() -> Any:
        identity.login()
        return "in"

    @app.get("/")
    def home() -> Any:
        return identity.account.username if identity.account else "nobody"

    client = app.test_client()
    assert client.post("/login", data=CREDENTIALS).text == "in"
    clock.advance(600)
    assert client.get("/").text == "jdoe"
    clock.advance(1)
    assert client.get("/").text == "nobody"


def test_a_page_rendered_before_the_extension_ran_says_english(service: IdentityService) -> None:
    """An app's own earlier before_request page (a closed portal) gets locale "en"."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32

    @app.before_request
    def closed() -> Any:
        return flask.render_template_string("{{ locale }}|{{ account }}"), 503

    ProviderIdentity(app, service=service)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    response = client.get("/?lang=es")
    assert (response.status_code, response.text) == (503, "en|None")


def test_the_requests_language_ends_with_the_request(service: IdentityService) -> None:
    """After a Spanish request, the app's own teardown and a kept context are in English."""
    app, _ = flask_app(service)
    after_request: list[str] = []

    @app.teardown_appcontext
    def note(_error: BaseException | None = None) -> None:
        after_request.append(current_locale())

    client = app.test_client()
    assert client.get("/register?lang=es").status_code == 200
    assert after_request == ["en"]
    with client:  # the request's context kept for the test to look at
        assert client.get("/register?lang=es").status_code == 200
        assert flask.g.get("provider_identity_locale") == "es"  # the request did run in Spanish
        assert current_locale() == "en"
    assert current_locale() == "en"
