"""The reference Provider Portal: every seed page, on provider_identity.web.flask.

Run it with ``scripts/portal`` (a fresh SQLite database with the example
roster, and a local mailbox page showing the mails sent).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue

from provider_identity import (
    Branding,
    IdentityError,
    IdentityService,
    LoggingEventSink,
    PasswordHasher,
    RateLimits,
    SecondFactorDue,
    SecondFactors,
    SecretBox,
    TokenIssuer,
    TokenPurpose,
)
from provider_identity.adapters import sql
from provider_identity.adapters.outbox import (
    Dispatcher,
    FileOutboxMailer,
    OutboxMailer,
    parse_message,
)
from provider_identity.service import DEFAULT_PAGE_SIZE
from provider_identity.testing import cheapest_hasher
from provider_identity.web.flask import ProviderIdentity

Success = Callable[[Any], ResponseReturnValue]


def create_app(
    database: str,
    mailbox: Path,
    base_url: str,
    *,
    fast: bool = False,
    limits: RateLimits | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Flask:
    """The portal on ``database`` (SQLAlchemy URL); its mail worker delivers into ``mailbox``.

    ``limits`` replaces the service's abuse limits; ``page_size`` is the
    number of providers per page of a Group's list.
    """
    engine = sql.make_engine(database)
    sql.create_schema(engine)
    outbox = sql.SqlOutboxStore(engine)
    service = IdentityService(
        directory=sql.SqlProviderDirectory(engine),
        accounts=sql.SqlAccountRepository(engine),
        lockouts=sql.SqlLockoutStore(engine),
        mailer=OutboxMailer(outbox),
        events=LoggingEventSink(),
        tokens=TokenIssuer(current=secrets.token_bytes(32)),
        hasher=cheapest_hasher() if fast else PasswordHasher(),
        limits=limits or RateLimits(),
        second_factors=SecondFactors(
            mode="optional",
            store=sql.SqlFactorStore(engine),
            secrets=SecretBox(current=secrets.token_bytes(32)),
        ),
        branding=Branding(
            activation_url=f"{base_url}/activate?token={{token}}",
            reset_url=f"{base_url}/reset-password?token={{token}}",
            login_url=f"{base_url}/login",
        ),
    )
    worker = Dispatcher(outbox=outbox, mailer=FileOutboxMailer(mailbox))
    watching = {"interval": timedelta(seconds=0.3), "stop": threading.Event()}
    threading.Thread(target=worker.watch, kwargs=watching, daemon=True).start()

    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    identity = ProviderIdentity(app, service=service)
    form_page = identity.form_page

    def go(endpoint: str) -> Success:
        return lambda _: redirect(url_for(endpoint))

    def say(title: str, line: str) -> Success:
        return lambda _: identity.render("message.html", title=title, line=line)

    def second_step_or_home(result: object) -> ResponseReturnValue:
        return redirect(url_for("login_code" if isinstance(result, SecondFactorDue) else "home"))

    def route(path: str) -> Callable[[Callable[[], ResponseReturnValue]], Any]:
        return app.route(path, methods=["GET", "POST"])

    @route("/login")
    def login() -> ResponseReturnValue:
        return form_page("login.html", identity.login, second_step_or_home)

    @route("/login/code")
    def login_code() -> ResponseReturnValue:
        if not identity.second_factor_due:
            return redirect(url_for("login"))
        return form_page("code.html", identity.complete_login, go("home"))

    @route("/security/authenticator")
    @identity.login_required
    def authenticator() -> ResponseReturnValue:
        try:  # a new secret on each GET; a refused code shows the page without it
            enrolment = identity.begin_totp_enrolment() if request.method == "GET" else None
        except IdentityError as err:
            return identity.render("authenticator.html", err)
        codes = lambda result: identity.render("recovery_codes.html", confirmed=result)  # noqa: E731
        return form_page("authenticator.html", identity.confirm_totp, codes, enrolment=enrolment)

    @route("/register")
    def register() -> ResponseReturnValue:
        return form_page("register_provider.html", identity.check_provider, go("agreement"))

    @route("/register/agreement")
    def agreement() -> ResponseReturnValue:
        if identity.registration_step < 2:
            return redirect(url_for("register"))
        return form_page("register_agreement.html", identity.confirm_agreement, go("account"))

    @route("/register/account")
    def account() -> ResponseReturnValue:
        if identity.registration_step < 3:
            return redirect(url_for("register"))
        sent = say("Registration complete", "We sent a confirmation message to your email.")
        finish, questions = identity.finish_registration, service.security_questions.questions
        return form_page("register_account.html", finish, sent, questions=questions)

    @route("/activate")
    def activate() -> ResponseReturnValue:
        state = identity.link_state(TokenPurpose.ACTIVATION).value
        active = say("Email Verification", "Your account is active: we sent you a Login link.")
        return form_page("activate.html", identity.activate, active, state=state)

    @route("/resend-activation")
    def resend_activation() -> ResponseReturnValue:
        sent = say("Activation sent", "If the account awaits activation, a new link is on its way.")
        resend = identity.resend_activation
        return form_page("username.html", resend, sent, title="Resend activation")

    @route("/forgot-password")
    def forgot_password() -> ResponseReturnValue:
        sent = say("Check your email", "If the user name is registered, a reset link is on its way")
        forgot = identity.request_password_reset
        return form_page("username.html", forgot, sent, title="Forgot password?")

    @route("/forgot-username")
    def forgot_username() -> ResponseReturnValue:
        sent = say("Check your email", "If an account has this email, its user name is on its way")
        remind, email = identity.request_username_reminder, {"name": "email", "label": "Email"}
        return form_page("username.html", remind, sent, title="Forgot user name?", asked=email)

    @route("/reset-password")
    def reset_password() -> ResponseReturnValue:
        state = identity.link_state(TokenPurpose.PASSWORD_RESET).value
        changed = say("Password changed", "Your password was reset. Please log in.")
        return form_page("reset.html", identity.reset_password, changed, state=state)

    @app.get("/")
    @identity.login_required
    def home() -> ResponseReturnValue:
        return identity.query_page("home.html", lambda: identity.providers_page(page_size), "page")

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        identity.logout()
        return redirect(url_for("login"))

    @app.get("/mailbox")
    @app.get("/mailbox/<name>")
    def mailbox_page(name: str | None = None) -> ResponseReturnValue:
        files = sorted(mailbox.glob("*.eml"), reverse=True)
        mails = {file.name: parse_message(file.read_bytes()) for file in files}
        if name is not None and name not in mails:
            abort(404)
        return identity.render("mailbox.html", mails=mails, shown=name)

    return app
