"""The request's locale in the Flask extension and the FastAPI router, by their test clients."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import DictLoader
from starlette.middleware.sessions import SessionMiddleware

from provider_identity import IdentityService
from provider_identity.i18n import current_locale
from provider_identity.testing import RecordingMailer
from provider_identity.web.fastapi import identity_router
from provider_identity.web.flask import ProviderIdentity
from tests import test_web_fastapi as api
from tests import test_web_flask as pages

WRONG_ZIP = {**pages.PROVIDER, "zip_code": "4540"}
SPANISH_ZIP = "El código postal (ZIP) debe tener 5 dígitos o el formato ZIP+4."
ENGLISH_ZIP = "ZIP Code must be 5 digits or ZIP+4."


def flask_client(service: IdentityService) -> FlaskClient:
    app, _ = pages.make_app(service)
    return app.test_client()


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_flask_follows_accept_language(service: IdentityService) -> None:
    """The header picks Spanish; the locale ends with the request."""
    client = flask_client(service)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es-MX,es;q=0.9,en;q=0.5"
    text = page(pages.post(client, "/register", WRONG_ZIP))
    assert f"zip_code:{SPANISH_ZIP}" in text
    assert "Corrija los campos resaltados." in text
    assert current_locale() == "en"  # the request's locale ended with it


def test_flask_lang_choice_is_kept_in_the_session(service: IdentityService) -> None:
    """?lang= switches and is remembered; an unknown value keeps the earlier choice."""
    client = flask_client(service)
    client.get("/register?lang=es")
    assert SPANISH_ZIP in page(pages.post(client, "/register", WRONG_ZIP))
    client.get("/register?lang=en")
    assert ENGLISH_ZIP in page(pages.post(client, "/register", WRONG_ZIP))
    client.get("/register?lang=xx")  # unknown: the earlier choice stays
    assert ENGLISH_ZIP in page(pages.post(client, "/register", WRONG_ZIP))


def test_flask_without_a_choice_is_english(service: IdentityService) -> None:
    """No supported language in the header: English."""
    client = flask_client(service)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de, fr;q=0.8"
    assert ENGLISH_ZIP in page(pages.post(client, "/register", WRONG_ZIP))


def test_flask_mail_is_sent_in_the_requests_locale(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """The activation mail of a Spanish registration is in Spanish."""
    client = flask_client(service)
    client.get("/register?lang=es")
    assert pages.register(client).status_code == 302
    assert mailer.last()["Subject"] == "Active su cuenta de Provider Portal"


def test_flask_templates_get_the_locale_and_a_translated_checklist(
    service: IdentityService,
) -> None:
    """Templates get locale and checklists in it."""
    app, identity = pages.make_app(service)
    with app.test_request_context("/?lang=es"):
        app.preprocess_request()
        values = identity._template_values()
        assert values["locale"] == "es"
        checklist = {line["code"]: line["message"] for line in values["registration_checklist"]}
        assert checklist["too_short"] == "Debe tener un mínimo de 12 caracteres."


def test_flask_takes_an_application_locale_function(service: IdentityService) -> None:
    """An account setting, say, instead of the request's header."""
    app = Flask(__name__)
    app.secret_key = b"s" * 32
    app.config["WTF_CSRF_ENABLED"] = False
    app.jinja_loader = DictLoader({"page.html": pages.PAGE})
    identity = ProviderIdentity(app, service=service, locale=lambda: "es")

    @app.route("/register", methods=["GET", "POST"])
    def register() -> Any:
        return identity.form_page("page.html", identity.check_provider, lambda _: "ok")

    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert SPANISH_ZIP in page(client.post("/register?lang=en", data=WRONG_ZIP))


def fastapi_client(service: IdentityService, **options: Any) -> api.Client:
    app = FastAPI()
    app.include_router(identity_router(service, **options), prefix="/identity")
    app.add_middleware(SessionMiddleware, secret_key="s" * 32, https_only=False)
    return api.Client(app)


def test_fastapi_follows_accept_language_and_lang(service: IdentityService) -> None:
    """The header or ?lang= picks Spanish; neither: English."""
    client = fastapi_client(service)
    client.http.headers["Accept-Language"] = "es"
    response: Any = client.post("/register/provider", WRONG_ZIP)
    assert response.status_code == 422
    assert response.json()["detail"]["fields"]["zip_code"] == [SPANISH_ZIP]
    assert response.json()["detail"]["message"] == "Corrija los campos resaltados."
    client.http.headers["Accept-Language"] = "en"
    english: Any = client.post("/register/provider?lang=es", WRONG_ZIP)
    assert english.json()["detail"]["fields"]["zip_code"] == [SPANISH_ZIP]
    plain: Any = client.post("/register/provider", WRONG_ZIP)
    assert plain.json()["detail"]["fields"]["zip_code"] == [ENGLISH_ZIP]


def test_fastapi_requirements_and_mail_in_the_locale(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """The requirements endpoint and the mail of flows run in the thread pool follow the locale."""
    client = fastapi_client(service, locale=lambda request: "es")
    lines: Any = client.get("/password-requirements")
    assert lines.json()[0]["message"] == "Debe tener un mínimo de 12 caracteres."
    api.register(client)  # the flows run in the thread pool: the locale goes with them
    assert mailer.last()["Subject"] == "Active su cuenta de Provider Portal"
