"""provider_identity.web.fastapi, through FastAPI's test client."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware.sessions import SessionMiddleware

from provider_identity import IdentityService
from provider_identity.testing import RecordingMailer
from provider_identity.web.fastapi import identity_router
from tests.helpers import PASSWORD

PROVIDER = {
    "provider_type": "practitioner",
    "name": "Jane Q. Doe",
    "tax_id": "31-1234567",
    "zip_code": "45402",
    "provider_id": "P1000001",
}
ACCOUNT = {
    "username": "jdoe",
    "password": PASSWORD,
    "email": "jane.doe@example.org",
    "security_question": "What is the name of your first pet?",
    "security_answer": "Rex",
}


def make_app(service: IdentityService) -> FastAPI:
    """The router under /identity, with Starlette's signed-cookie sessions (plain http here)."""
    app = FastAPI()
    app.include_router(identity_router(service), prefix="/identity")
    app.add_middleware(SessionMiddleware, secret_key="s" * 32, https_only=False)
    return app


class Client:
    """A test client that sends the session's CSRF token with every POST."""

    def __init__(self, app: FastAPI) -> None:
        self.http = TestClient(app, client=("203.0.113.7", 50000))
        self.token = self.http.get("/identity/csrf").json()["csrf_token"]

    def post(self, path: str, body: dict[str, object] | None = None) -> object:
        response = self.http.post(
            f"/identity{path}", json=body or {}, headers={"X-CSRF-Token": self.token}
        )
        if path == "/login" and response.status_code == 200:
            self.token = response.json()["csrf_token"]  # the new session's
        return response

    def get(self, path: str) -> object:
        return self.http.get(f"/identity{path}")


@pytest.fixture
def client(service: IdentityService) -> Client:
    """A client of the router on the test service."""
    return Client(make_app(service))


def register(client: Client) -> None:
    """The three steps, each answering success."""
    assert client.post("/register/provider", PROVIDER).status_code == 200  # type: ignore[attr-defined]
    assert client.post("/register/agreement", {"agreement_confirmed": True}).status_code == 200  # type: ignore[attr-defined]
    assert client.post("/register/account", ACCOUNT).status_code == 201  # type: ignore[attr-defined]


def test_a_post_without_the_csrf_header_is_refused(service: IdentityService) -> None:
    """Every POST needs the X-CSRF-Token header of the session."""
    http = TestClient(make_app(service), client=("203.0.113.7", 50000))
    response = http.post("/identity/login", json={"username": "jdoe", "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["detail"]["code"] == "csrf_failed"


def test_steps_register_and_the_link_is_peeked_then_spent(
    client: Client, mailer: RecordingMailer, service: IdentityService
) -> None:
    """Three steps register; GET /links peeks; POST /activate spends the link."""
    register(client)
    token = mailer.last_token()
    assert client.get(f"/links/activation?token={token}").json() == {"state": "valid"}  # type: ignore[attr-defined]
    assert client.post("/activate", {"token": token}).status_code == 200  # type: ignore[attr-defined]
    assert client.get(f"/links/activation?token={token}").json() == {"state": "used"}  # type: ignore[attr-defined]
    assert service.accounts.find_by_username("jdoe").is_active  # type: ignore[union-attr]


def test_errors_come_back_with_fields_status_and_help_lines(client: Client) -> None:
    """A field error is 422 with its fields; an unknown provider lists both help lines."""
    response = client.post("/register/provider", {**PROVIDER, "tax_id": ""})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "tax_id" in response.json()["detail"]["fields"]  # type: ignore[attr-defined]
    response = client.post("/register/provider", {**PROVIDER, "provider_id": "P9999999"})
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    assert detail["code"] == "provider_not_found"
    assert [number for _, number in detail["help_lines"]] == ["1-855-202-1058", "1-833-230-2030"]


def test_agreement_must_be_confirmed(client: Client) -> None:
    """Step 2 refuses an unticked agreement beside its field."""
    client.post("/register/provider", PROVIDER)
    response = client.post("/register/agreement", {"agreement_confirmed": False})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "agreement_confirmed" in response.json()["detail"]["fields"]  # type: ignore[attr-defined]


def test_login_session_and_logout_that_ends_a_copied_cookie(
    service: IdentityService, active_account: str
) -> None:
    """/me works after login; after logout the old cookie is refused."""
    client = Client(make_app(service))
    assert client.post("/login", {"username": "jdoe", "password": PASSWORD}).status_code == 200  # type: ignore[attr-defined]
    assert client.get("/me").json()["username"] == "jdoe"  # type: ignore[attr-defined]
    assert [p["provider_id"] for p in client.get("/providers").json()] == ["P1000001"]  # type: ignore[attr-defined]
    cookie = client.http.cookies.get("session")
    thief = TestClient(make_app(service), client=("203.0.113.7", 50000))
    thief.cookies.set("session", str(cookie))
    assert thief.get("/identity/me").status_code == 200
    assert client.post("/logout").status_code == 204  # type: ignore[attr-defined]
    assert thief.get("/identity/me").status_code == 401
    client.token = client.get("/csrf").json()["csrf_token"]  # type: ignore[attr-defined]
    response = client.post("/login", {"username": "jdoe", "password": "Wrong-Password-1"})
    assert response.status_code == 401  # type: ignore[attr-defined]


def test_password_requirements_by_use(client: Client) -> None:
    """The checklist endpoint lists "reused" for a change only."""
    registration = [r["code"] for r in client.get("/password-requirements").json()]  # type: ignore[attr-defined]
    change = [r["code"] for r in client.get("/password-requirements?use=change").json()]  # type: ignore[attr-defined]
    assert "reused" not in registration
    assert change[-1] == "reused"
    assert client.get("/password-requirements?use=other").status_code == 422  # type: ignore[attr-defined]
