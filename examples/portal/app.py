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

from flask import Flask, abort, redirect, url_for
from flask.typing import ResponseReturnValue

from provider_identity import (
    Branding,
    IdentityService,
    LoggingEventSink,
    PasswordHasher,
    RateLimits,
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
)
from provider_identity.service import DEFAULT_PAGE_SIZE
from provider_identity.testing import cheapest_hasher
from provider_identity.web.flask import ProviderIdentity


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
        branding=Branding.at(base_url),
    )
    worker = Dispatcher(outbox=outbox, mailer=FileOutboxMailer(mailbox))
    worker.watch_in_background(stop=threading.Event(), interval=timedelta(seconds=0.3))

    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    identity = ProviderIdentity(app, service=service)
    form_page = identity.form_page
    go = identity.redirect_to

    def say(title: str, line: str) -> Callable[[object], ResponseReturnValue]:
        return lambda _: identity.render("message.html", title=title, line=line)

    def route(path: str) -> Callable[[Callable[[], ResponseReturnValue]], Any]:
        return app.route(path, methods=["GET", "POST"])

    @route("/login")
    def login() -> ResponseReturnValue:
        return identity.login_page("login.html", go("home"), code_endpoint="login_code")

    @route("/login/code")
    def login_code() -> ResponseReturnValue:
        return identity.code_page("code.html", go("home"))

    @route("/security/authenticator")
    @identity.login_required
    def authenticator() -> ResponseReturnValue:
        return identity.authenticator_page("authenticator.html", "recovery_codes.html")

    @route("/register")
    def register() -> ResponseReturnValue:
        return identity.registration_page(1, "register_provider.html", go("agreement"))

    @route("/register/agreement")
    def agreement() -> ResponseReturnValue:
        return identity.registration_page(2, "register_agreement.html", go("account"))

    @route("/register/account")
    def account() -> ResponseReturnValue:
        sent = say("Registration complete", "We sent a confirmation message to your email.")
        return identity.registration_page(3, "register_account.html", sent)

    @route("/activate")
    def activate() -> ResponseReturnValue:
        active = say("Email Verification", "Your account is active: we sent you a Login link.")
        return identity.link_page(TokenPurpose.ACTIVATION, "activate.html", active)

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
        remind = identity.request_username_reminder
        return form_page("username.html", remind, sent, title="Forgot user name?", asked="email")

    @route("/reset-password")
    def reset_password() -> ResponseReturnValue:
        changed = say("Password changed", "Your password was reset. Please log in.")
        return identity.link_page(TokenPurpose.PASSWORD_RESET, "reset.html", changed)

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
        mails = FileOutboxMailer(mailbox).messages()
        if name is not None and name not in mails:
            abort(404)
        return identity.render("mailbox.html", mails=mails, shown=name)

    return app
