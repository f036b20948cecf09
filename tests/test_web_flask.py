"""provider_identity.web.flask, through Flask's test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, redirect, url_for
from flask.testing import FlaskClient
from jinja2 import DictLoader

from provider_identity import IdentityService, TokenPurpose
from provider_identity.testing import RecordingMailer
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD

PAGE = (
    "<input name=csrf_token value='{{ csrf_token() }}'>"
    "{% if error %}<p id=error data-status={{ error.status }}>{{ error.code }}|{{ error.message }}"
    "{% for name, messages in error.fields.items() %}<i>{{ name }}:{{ messages[0] }}</i>"
    "{% endfor %}</p>{% endif %}{{ form | tojson }}|{{ account.username if account }}|{{ state }}"
)
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


def make_app(service: IdentityService) -> tuple[Flask, ProviderIdentity]:
    """A small app with one form page per flow, as the docs' Flask page builds it."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.jinja_loader = DictLoader({"page.html": PAGE})
    identity = ProviderIdentity(app, service=service)
    done = lambda _: redirect(url_for("home"))  # noqa: E731

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        return identity.form_page("page.html", identity.login, done)

    @app.route("/register", methods=["GET", "POST"])
    def register() -> Any:
        return identity.form_page("page.html", identity.check_provider, done)

    @app.route("/agreement", methods=["GET", "POST"])
    def agreement() -> Any:
        return identity.form_page("page.html", identity.confirm_agreement, done)

    @app.route("/account", methods=["GET", "POST"])
    def account() -> Any:
        return identity.form_page("page.html", identity.finish_registration, done)

    @app.route("/activate", methods=["GET", "POST"])
    def activate() -> Any:
        state = identity.link_state(TokenPurpose.ACTIVATION).value
        return identity.form_page("page.html", identity.activate, done, state=state)

    @app.route("/reset", methods=["GET", "POST"])
    def reset() -> Any:
        state = identity.link_state(TokenPurpose.PASSWORD_RESET).value
        return identity.form_page("page.html", identity.reset_password, done, state=state)

    @app.route("/forgot", methods=["GET", "POST"])
    def forgot() -> Any:
        return identity.form_page("page.html", identity.request_password_reset, done)

    @app.route("/resend", methods=["GET", "POST"])
    def resend() -> Any:
        return identity.form_page("page.html", identity.resend_activation, done)

    @app.get("/")
    @identity.login_required
    def home() -> Any:
        return identity.render("page.html")

    @app.post("/logout")
    def logout() -> Any:
        identity.logout()
        return "bye"

    return app, identity


@pytest.fixture
def client(service: IdentityService) -> FlaskClient:
    """A test client of the small app."""
    return make_app(service)[0].test_client()


def post(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    """POST ``data`` with the CSRF token of the GET page."""
    page = client.get(path).get_data(as_text=True)
    token = re.search(r"name=csrf_token value='([^']+)'", page)
    assert token is not None, page
    return client.post(path, data={**data, "csrf_token": token[1]})


def register(client: FlaskClient, account: dict[str, str] = ACCOUNT) -> Any:
    """The three steps."""
    assert post(client, "/register", PROVIDER).status_code == 302
    assert post(client, "/agreement", {"agreement_confirmed": "on"}).status_code == 302
    return post(client, "/account", account)


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    """Flask-WTF's CSRFProtect guards every form."""
    response = client.post("/login", data={"username": "jdoe", "password": PASSWORD})
    assert response.status_code == 400
    assert b"CSRF" in response.data


def test_three_steps_register(
    client: FlaskClient, service: IdentityService, mailer: RecordingMailer
) -> None:
    """Step 1's ticket and step 2's agreement live in the session until step 3 registers."""
    assert register(client).status_code == 302
    assert service.accounts.find_by_username("jdoe") is not None
    assert mailer.last()["Subject"] == "Activate Your Provider Portal Account"


def test_step_three_without_the_agreement_is_a_field_error(client: FlaskClient) -> None:
    """Skipping step 2 is reported beside the agreement checkbox with status 422."""
    assert post(client, "/register", PROVIDER).status_code == 302
    response = post(client, "/account", ACCOUNT)
    assert response.status_code == 422
    assert "agreement_confirmed:Please confirm the Provider Agreement." in response.text


def test_errors_render_beside_fields_and_passwords_are_not_echoed(client: FlaskClient) -> None:
    """A refused step re-renders with field messages, the error's status, and no password."""
    register(client)
    response = post(client, "/register", {**PROVIDER, "provider_id": ""})
    assert response.status_code == 422
    assert "provider_id:Provider ID or NPI is required." in response.text
    response = post(client, "/login", {"username": "jdoe", "password": "Wrong-Password-1"})
    assert response.status_code == 401
    assert "Wrong-Password-1" not in response.text


def test_activation_peeks_on_get_and_spends_on_post(
    client: FlaskClient, mailer: RecordingMailer, service: IdentityService
) -> None:
    """GET shows the link's state and activates nothing; POST activates."""
    register(client)
    token = mailer.last_token()
    assert client.get(f"/activate?token={token}").text.endswith("|valid")
    assert not service.accounts.find_by_username("jdoe").is_active  # type: ignore[union-attr]
    assert post(client, f"/activate?token={token}", {}).status_code == 302
    assert client.get(f"/activate?token={token}").text.endswith("|used")


def test_login_logout_and_a_copied_cookie(service: IdentityService, active_account: str) -> None:
    """After logout, a copy of the session cookie taken before it no longer logs in."""
    app, _ = make_app(service)
    client = app.test_client()
    assert post(client, "/login", {"username": "jdoe", "password": PASSWORD}).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert client.get("/").text.endswith("|jdoe|")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": _token(client)})
    assert thief.get("/").status_code == 302


def _token(client: FlaskClient) -> str:
    match = re.search(r"value='([^']+)'", client.get("/login").text)
    assert match is not None
    return match[1]


def test_a_reset_ends_the_other_sessions(
    service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """The credential version is checked on each request: a reset logs other sessions out."""
    app, _ = make_app(service)
    client, other = app.test_client(), app.test_client()
    post(client, "/login", {"username": "jdoe", "password": PASSWORD})
    post(other, "/forgot", {"username": "jdoe"})
    token = mailer.last_token()
    new = "Another-Heron-2032"
    response = post(other, f"/reset?token={token}", {"password": new, "password_again": new})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_reset_with_two_different_passwords_is_refused(
    client: FlaskClient, service: IdentityService, mailer: RecordingMailer, active_account: str
) -> None:
    """The repeated password must match; nothing changes otherwise."""
    service.request_password_reset("jdoe")
    token = mailer.last_token()
    response = post(
        client, f"/reset?token={token}", {"password": "A-b-1" * 4, "password_again": "x"}
    )
    assert response.status_code == 422
    assert "password_again:The passwords do not match." in response.text
    assert service.login("jdoe", PASSWORD).account.username == "jdoe"


def test_the_checklists_are_in_every_template(service: IdentityService) -> None:
    """Templates get the registration and change checklists as data."""
    app, _ = make_app(service)
    app.jinja_loader = DictLoader(
        {
            "page.html": "{{ registration_checklist | map(attribute='code') | join(',') }}"
            "/{{ change_checklist[-1].code }}"
        }
    )
    text = app.test_client().get("/login").text
    assert text.startswith("too_short,missing_lowercase")
    assert "reused" not in text.split("/")[0]
    assert text.endswith("/reused")


def test_resend_activation_mails_a_pending_account_and_answers_alike(
    client: FlaskClient, mailer: RecordingMailer
) -> None:
    """Resend answers the same redirect for a pending and an unknown name; only one mails."""
    register(client)
    sent = len(mailer.messages)
    assert post(client, "/resend", {"username": "jdoe"}).status_code == 302
    assert post(client, "/resend", {"username": "nobody"}).status_code == 302
    assert len(mailer.messages) == sent + 1


def test_step_two_without_the_checkbox_stays_on_step_two(client: FlaskClient) -> None:
    """An unticked agreement is a field error; the session keeps the ticket, not the agreement."""
    post(client, "/register", PROVIDER)
    response = post(client, "/agreement", {})
    assert response.status_code == 422
    assert "agreement_confirmed:Please confirm the Provider Agreement." in response.text
    with client.session_transaction() as session:
        assert isinstance(session.get("registration_ticket"), str)
        assert session.get("registration_agreed") is not True
