"""provider_identity.web.flask, through Flask's test client."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, redirect, url_for
from flask.testing import FlaskClient
from jinja2 import DictLoader

from provider_identity import IdentityService, RateLimit, RateLimits, TokenPurpose
from provider_identity.testing import RecordingMailer
from provider_identity.web.flask import ProviderIdentity
from tests.helpers import PASSWORD, group

PAGE = (
    "<input name=csrf_token value='{{ csrf_token() }}'>"
    "{% if error %}<p id=error data-status={{ error.status }}>{{ error.code }}|{{ error.message }}"
    "{% for name, messages in error.fields.items() %}<i>{{ name }}:{{ messages[0] }}</i>"
    "{% endfor %}</p>{% endif %}{{ form | tojson }}|{{ account.username if account }}|{{ state }}"
)
LIST = (
    "{% if error %}{{ error.code }}{% endif %}{% if page %}"
    "{% for record in page.records %}{{ record.provider_id }} {% endfor %}|{{ page.next_after }}"
    "{% endif %}"
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
    app.jinja_loader = DictLoader({"page.html": PAGE, "list.html": LIST})
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

    @app.route("/username", methods=["GET", "POST"])
    def username() -> Any:
        return identity.form_page("page.html", identity.request_username_reminder, done)

    @app.get("/providers")
    def providers() -> Any:
        return identity.query_page("list.html", lambda: identity.providers_page(size=2), "page")

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


def test_a_rate_limit_answers_429_with_retry_after_and_its_message(
    make_service: Callable[..., IdentityService],
) -> None:
    """Past the limit a form page answers 429, a Retry-After in seconds, and says to wait."""
    limits = RateLimits(check_provider=RateLimit(limit=2, period=timedelta(minutes=1)))
    client = make_app(make_service(limits=limits))[0].test_client()
    for _ in range(2):
        assert post(client, "/register", PROVIDER).status_code == 302
    refused = post(client, "/register", PROVIDER)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 120  # a sliding window of a minute
    assert "too_many_attempts|Too many attempts. Please wait" in refused.text
    assert "Retry-After" not in client.get("/register").headers


def test_forgotten_user_name_mails_the_name_and_answers_alike(
    client: FlaskClient, mailer: RecordingMailer
) -> None:
    """A known address gets its user name by mail; an unknown one the same redirect, no mail."""
    register(client)
    mailer.clear()
    assert post(client, "/username", {"email": "Jane.Doe@example.org"}).status_code == 302
    assert post(client, "/username", {"email": "nobody@example.org"}).status_code == 302
    assert [message["To"] for message in mailer.messages] == ["jane.doe@example.org"]
    assert "jdoe" in mailer.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    refused = post(client, "/username", {"email": "not an address"})
    assert refused.status_code == 422


def test_the_providers_page_pages_and_searches(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """A group's providers two at a time, the next page from ``after``; a search narrows them."""
    service.register(group())
    service.activate(mailer.last_token())
    client = make_app(service)[0].test_client()
    login = post(client, "/login", {"username": "mvr-admin", "password": PASSWORD})
    assert login.status_code == 302
    first = client.get("/providers").text
    listed, after = first.split("|")
    assert listed.split() == ["G2000001", "P2000002"]
    second = client.get("/providers", query_string={"after": after}).text
    assert second.split("|")[0].split() == ["P2000003"]
    assert second.endswith("|None")
    assert client.get("/providers?search=P2000003").text.split("|")[0].split() == ["P2000003"]
    bad = client.get("/providers", query_string={"after": "not an id!"})
    assert bad.status_code == 422
    assert bad.text.startswith("invalid_input")


def test_the_providers_page_needs_a_login(client: FlaskClient) -> None:
    """Nobody logged in: the providers page is an error, never a list."""
    response = client.get("/providers")
    assert response.status_code == 404
    assert "|" not in response.text
