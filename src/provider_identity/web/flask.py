"""A Flask extension: sessions, CSRF, the registration steps and error pages for the library.

Needs the ``flask`` extra: ``pip install "provider-identity[flask]"`` (Flask and
Flask-WTF, whose ``CSRFProtect`` guards every form).

::

    identity = ProviderIdentity(app, service=service)

    @app.post("/login")
    def login():
        try:
            identity.login(request.form["username"], request.form["password"])
        except IdentityError as err:
            return identity.render("login.html", err)
        return redirect(url_for("home"))

Templates get ``account`` (the logged-in :class:`~provider_identity.AccountView`
or ``None``), ``error`` (an :class:`~provider_identity.web.ErrorView` or ``None``),
``form`` (what was submitted, to fill the fields again; never the passwords),
``locale`` (the request's language) and ``csrf_token()``.

Each request runs in a locale (:mod:`provider_identity.i18n`): by default
``?lang=`` (remembered in the session), else the session's earlier choice,
else the ``Accept-Language`` header; errors, checklists and the mail a
request sends are in it. Pass ``locale=`` a function of your own to choose
otherwise (an account setting, say).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

try:
    import flask
    import flask.typing
    from flask_wtf.csrf import CSRFProtect
except ImportError as err:  # pragma: no cover  # the extra is installed for the tests
    raise ImportError(
        'provider_identity.web.flask needs Flask: pip install "provider-identity[flask]"'
    ) from err

from provider_identity.errors import IdentityError, InvalidInput
from provider_identity.i18n import msg, negotiate, supported_locale, use_locale
from provider_identity.mfa import SecondFactorDue, TotpConfirmed, TotpEnrolment
from provider_identity.passwords import PasswordUse
from provider_identity.ports import LockoutStore, ProviderPage
from provider_identity.registration import ProviderCheck
from provider_identity.service import (
    DEFAULT_PAGE_SIZE,
    AccountView,
    IdentityService,
    LoginResult,
    RegistrationResult,
)
from provider_identity.tokens import TokenPurpose
from provider_identity.web import password_checklist
from provider_identity.web._errors import ErrorMap, ErrorView
from provider_identity.web._forms import (
    account_request,
    checkbox,
    new_password,
    provider_request,
    text,
)
from provider_identity.web._links import LinkState, peek_link
from provider_identity.web._sessions import DEFAULT_SESSION_LIFETIME, SessionGuard

__all__ = ["ProviderIdentity"]

_View = TypeVar("_View", bound=Callable[..., Any])
_Result = TypeVar("_Result")
_Success = Callable[[_Result], flask.typing.ResponseReturnValue]

#: Session keys of a registration in progress.
_TICKET, _AGREED = "registration_ticket", "registration_agreed"
_CHALLENGE = "second_factor_challenge"

#: Form fields never sent back into a page.
_SECRET_FIELDS = frozenset(
    {"password", "password_again", "current_password", "new_password", "security_answer"}
)


class ProviderIdentity:
    """The library as a Flask extension.

    Args:
        app: The application, or ``None`` to call :meth:`init_app` later.
        service: The identity service.
        revocations: Where logged-out sessions are listed (default: the
            service's lockout store, which every web process shares).
        lifetime: The longest a login session lasts.
        errors: Maps errors to statuses (extend it for new error classes).
        login_endpoint: Where :meth:`login_required` sends visitors.
        register_endpoint: Step 1 of the registration, where
            :meth:`registration_page` sends a visitor who skipped a step.
        locale: Chooses the request's locale (see the module's notes); a
            locale the library has no catalogue for means English.
    """

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        service: IdentityService,
        revocations: LockoutStore | None = None,
        lifetime: timedelta = DEFAULT_SESSION_LIFETIME,
        errors: ErrorMap | None = None,
        login_endpoint: str = "login",
        register_endpoint: str = "register",
        locale: Callable[[], str | None] | None = None,
    ) -> None:
        self.service = service
        self.choose_locale = locale or _request_locale
        self.sessions = SessionGuard(
            service=service, revocations=revocations or service.lockouts, lifetime=lifetime
        )
        self.errors = errors or ErrorMap()
        self.login_endpoint = login_endpoint
        self.register_endpoint = register_endpoint
        self.csrf = CSRFProtect()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Install CSRF protection, the per-request session check and the template values."""
        # Flask's defaults hold both keys (HttpOnly on, SameSite None), so setdefault
        # would never apply: Lax unless the app chose a SameSite of its own.
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        self.csrf.init_app(app)
        app.extensions["provider_identity"] = self
        app.before_request(self._enter_locale)
        app.before_request(self._load_account)
        app.teardown_request(_leave_locale)
        app.context_processor(self._template_values)

    def _enter_locale(self) -> None:
        scope = contextlib.ExitStack()
        flask.g.provider_identity_locale = scope.enter_context(use_locale(self.choose_locale()))
        flask.g.provider_identity_locale_scope = scope

    # -- sessions ------------------------------------------------------------------------

    @property
    def account(self) -> AccountView | None:
        """The logged-in account of this request (checked against the store), or ``None``."""
        return cast(AccountView | None, flask.g.get("provider_identity_account"))

    def login(
        self, username: str | None = None, password: str | None = None
    ) -> LoginResult | SecondFactorDue:
        """Log in and start a fresh session (see :meth:`IdentityService.login` for the errors).

        ``username`` and ``password`` default to the submitted form's fields.
        For an account with a second factor nobody is logged in yet: the
        challenge waits in the session for :meth:`complete_login`
        (:attr:`second_factor_due` is then true).
        """
        form = flask.request.form
        result = self.service.login(
            text(form, "username") if username is None else username,
            text(form, "password") if password is None else password,
            client_address=self.client_address(),
        )
        if isinstance(result, SecondFactorDue):
            flask.session.clear()
            flask.session[_CHALLENGE] = result.challenge
            return result
        self._start(result)
        return result

    @property
    def second_factor_due(self) -> bool:
        """A password was accepted and the second step (a code) is due."""
        return isinstance(flask.session.get(_CHALLENGE), str)

    def complete_login(self) -> LoginResult:
        """The second step: the submitted ``code`` (TOTP or recovery code) for the challenge."""
        challenge = flask.session.get(_CHALLENGE)
        result = self.service.complete_login(
            challenge if isinstance(challenge, str) else "",
            text(flask.request.form, "code"),
            client_address=self.client_address(),
        )
        self._start(result)
        return result

    def begin_totp_enrolment(self) -> TotpEnrolment:
        """Start adding an authenticator app for the logged-in account (secret, URI, QR code).

        Raises:
            AccountNotFound: nobody is logged in.
            FactorAlreadyEnrolled: the account has an app already.
        """
        return self.service.begin_totp_enrolment(
            self._account_id(), client_address=self.client_address()
        )

    def confirm_totp(self) -> TotpConfirmed:
        """Confirm the pending app with the submitted ``code``; the result holds the recovery codes.

        Raises:
            InvalidCode: the code is not the app's.
            FactorNotEnrolled: no enrolment is pending.
        """
        return self.service.confirm_totp(
            self._account_id(),
            text(flask.request.form, "code"),
            client_address=self.client_address(),
        )

    def _account_id(self) -> str:
        return "" if self.account is None else self.account.id

    def _start(self, result: LoginResult) -> None:
        self.sessions.start(result, flask.session)
        flask.g.provider_identity_account = result.account

    def logout(self) -> None:
        """End the session for real: a copy of the cookie no longer logs in."""
        self.sessions.end(flask.session)
        flask.g.provider_identity_account = None

    def login_required(self, view: _View) -> _View:
        """A decorator: the view runs for a logged-in account, others go to the login page."""

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.account is None:
                return flask.redirect(flask.url_for(self.login_endpoint))
            return view(*args, **kwargs)

        return cast(_View, guarded)

    @staticmethod
    def client_address() -> str | None:
        """The client's address as the WSGI server saw it (put ProxyFix in front behind a proxy)."""
        return flask.request.remote_addr

    # -- the registration steps ----------------------------------------------------------

    def check_provider(self) -> ProviderCheck:
        """Step 1: check the submitted provider details; keep the ticket in the session."""
        check = self.service.check_provider(
            provider_request(flask.request.form), client_address=self.client_address()
        )
        flask.session[_TICKET] = check.ticket
        flask.session.pop(_AGREED, None)
        return check

    def confirm_agreement(self) -> None:
        """Step 2: the ``agreement_confirmed`` checkbox must be ticked.

        Raises:
            InvalidInput: it was not (code ``required`` on that field).
        """
        if not checkbox(flask.request.form, "agreement_confirmed"):
            raise InvalidInput.single(
                "agreement_confirmed", "required", msg("Please confirm the Provider Agreement.")
            )
        flask.session[_AGREED] = True

    @property
    def registration_step(self) -> int:
        """The step a registration in this session has reached: 1, 2 or 3."""
        if not isinstance(flask.session.get(_TICKET), str):
            return 1
        return 3 if flask.session.get(_AGREED) is True else 2

    def finish_registration(self) -> RegistrationResult:
        """Step 3: register the submitted account with the session's ticket and agreement."""
        ticket = flask.session.get(_TICKET)
        result = self.service.register(
            account_request(
                flask.request.form,
                ticket=ticket if isinstance(ticket, str) else "",
                agreement_confirmed=flask.session.get(_AGREED) is True,
            ),
            client_address=self.client_address(),
        )
        flask.session.pop(_TICKET, None)
        flask.session.pop(_AGREED, None)
        return result

    # -- the other flows, from the submitted form and the link's token -------------------

    def activate(self) -> AccountView:
        """Activate the account the ``token`` query value's link names (on POST only)."""
        return self.service.activate(self._token(), client_address=self.client_address())

    def resend_activation(self) -> None:
        """Re-send activation to the submitted ``username`` (answers alike for any name)."""
        self.service.resend_activation(
            text(flask.request.form, "username"), client_address=self.client_address()
        )

    def request_password_reset(self) -> None:
        """Forgot password for the submitted ``username`` (answers alike for any name)."""
        self.service.request_password_reset(
            text(flask.request.form, "username"), client_address=self.client_address()
        )

    def request_username_reminder(self) -> None:
        """Forgotten user name for the submitted ``email`` (answers alike for any address)."""
        self.service.request_username_reminder(
            text(flask.request.form, "email"), client_address=self.client_address()
        )

    def providers_page(self, size: int = DEFAULT_PAGE_SIZE) -> ProviderPage:
        """The logged-in account's providers: the page the ``after`` and ``search`` values ask.

        Raises:
            InvalidInput: ``after`` or ``search`` is not valid.
            AccountNotFound: nobody is logged in.
        """
        args = flask.request.args
        return self.service.accessible_providers_page(
            self._account_id(),
            after=args.get("after") or None,
            size=size,
            search=args.get("search"),
        )

    def reset_password(self) -> AccountView:
        """Set ``password`` (repeated in ``password_again``) from the ``token`` link (on POST)."""
        return self.service.reset_password(
            self._token(), new_password(flask.request.form), client_address=self.client_address()
        )

    @staticmethod
    def _token() -> str:
        return flask.request.args.get("token", "")

    # -- pages ---------------------------------------------------------------------------

    def link_state(self, purpose: TokenPurpose) -> LinkState:
        """The state of the ``token`` query value's link; spends nothing (for GET)."""
        return peek_link(self.service, self._token(), purpose)

    def error_view(self, error: IdentityError) -> ErrorView:
        """The :class:`ErrorView` of ``error`` with this extension's statuses."""
        return self.errors.view(error)

    def render(
        self, template: str, error: IdentityError | None = None, **context: Any
    ) -> tuple[str, int, dict[str, str]]:
        """Render ``template`` with ``error`` as ``error`` (an ErrorView).

        Answers the error's status and headers (``Retry-After`` for
        :class:`~provider_identity.TooManyAttempts`).
        """
        view = None if error is None else self.error_view(error)
        page = flask.render_template(template, error=view, **context)
        return (page, 200, {}) if view is None else (page, view.status, view.headers)

    def form_page(
        self,
        template: str,
        action: Callable[[], _Result],
        success: Callable[[_Result], flask.typing.ResponseReturnValue],
        **context: Any,
    ) -> flask.typing.ResponseReturnValue:
        """The usual form view: GET renders ``template``; POST runs ``action``.

        An :class:`IdentityError` from ``action`` renders ``template`` again
        with the error beside its fields and its status; otherwise ``success``
        answers with ``action``'s result.
        """
        if flask.request.method != "POST":
            return self.render(template, **context)
        try:
            result = action()
        except IdentityError as err:
            return self.render(template, err, **context)
        return success(result)

    def query_page(
        self, template: str, action: Callable[[], _Result], name: str, **context: Any
    ) -> tuple[str, int, dict[str, str]]:
        """A view of query values: render ``template`` with ``action``'s result as ``name``.

        An :class:`IdentityError` from ``action`` (a bad search, say) renders
        ``template`` with the error and ``name`` set to ``None``.
        """
        try:
            result = action()
        except IdentityError as err:
            return self.render(template, err, **{name: None}, **context)
        return self.render(template, None, **{name: result}, **context)

    # -- whole pages of a flow ----------------------------------------------------------

    @staticmethod
    def redirect_to(
        endpoint: str, **values: Any
    ) -> Callable[[object], flask.typing.ResponseReturnValue]:
        """A ``success`` answer for :meth:`form_page`: redirect to ``endpoint``."""
        return lambda _: flask.redirect(flask.url_for(endpoint, **values))

    def login_page(
        self, template: str, success: _Success[LoginResult], *, code_endpoint: str, **context: Any
    ) -> flask.typing.ResponseReturnValue:
        """The login form; a password that needs a second factor redirects to ``code_endpoint``."""

        def answer(result: LoginResult | SecondFactorDue) -> flask.typing.ResponseReturnValue:
            if isinstance(result, SecondFactorDue):
                return flask.redirect(flask.url_for(code_endpoint))
            return success(result)

        return self.form_page(template, self.login, answer, **context)

    def code_page(
        self, template: str, success: _Success[LoginResult], **context: Any
    ) -> flask.typing.ResponseReturnValue:
        """The second login step's form (field ``code``); without a password step, the login."""
        if not self.second_factor_due:
            return flask.redirect(flask.url_for(self.login_endpoint))
        return self.form_page(template, self.complete_login, success, **context)

    def authenticator_page(
        self, template: str, confirmed_template: str, **context: Any
    ) -> flask.typing.ResponseReturnValue:
        """Set up an authenticator app for the logged-in account (use under :meth:`login_required`).

        GET renders ``template`` with ``enrolment`` (a new secret and its QR
        code each time). POST confirms the submitted ``code`` and renders
        ``confirmed_template`` with ``confirmed`` (a :class:`TotpConfirmed`
        whose recovery codes this one page shows: they are kept nowhere
        else). An error (a wrong code, an app set up already) renders
        ``template`` with it and ``enrolment`` set to ``None``. Every answer
        says ``Cache-Control: no-store``: the secret and the codes stay out of
        caches and the browser's history.
        """
        try:
            if flask.request.method != "POST":
                enrolment = self.begin_totp_enrolment()
                page = self.render(template, enrolment=enrolment, **context)
            else:
                page = self.render(confirmed_template, confirmed=self.confirm_totp(), **context)
        except IdentityError as err:
            page = self.render(template, err, enrolment=None, **context)
        text, status, headers = page
        return text, status, {**headers, "Cache-Control": "no-store"}

    def registration_page(
        self, step: int, template: str, success: _Success[Any], **context: Any
    ) -> flask.typing.ResponseReturnValue:
        """The form of registration ``step``: 1, 2 or 3 (the steps' methods above).

        A step the session has not reached redirects to ``register_endpoint``;
        step 3's template also gets ``questions``, the security questions.

        Raises:
            ValueError: ``step`` is not 1, 2 or 3 (a bug in the view).
        """
        actions: dict[int, Callable[[], object]] = {
            1: self.check_provider,
            2: self.confirm_agreement,
            3: self.finish_registration,
        }
        if step not in actions:
            raise ValueError(f"registration_page: step must be 1, 2 or 3, not {step!r}")
        if self.registration_step < step:
            return flask.redirect(flask.url_for(self.register_endpoint))
        if step == 3:
            context.setdefault("questions", self.service.security_questions.questions)
        return self.form_page(template, actions[step], success, **context)

    def link_page(
        self, purpose: TokenPurpose, template: str, success: _Success[AccountView], **context: Any
    ) -> flask.typing.ResponseReturnValue:
        """The page of an activation or reset link: :meth:`activate` or :meth:`reset_password`.

        The template gets ``state``, the link's :class:`LinkState` value
        (``valid``, ``expired``, ``used``, ``invalid``), read without spending
        the link; only the POST spends it.

        Raises:
            ValueError: ``purpose`` is not activation or password reset.
        """
        actions = {
            TokenPurpose.ACTIVATION: self.activate,
            TokenPurpose.PASSWORD_RESET: self.reset_password,
        }
        if purpose not in actions:
            raise ValueError(f"link_page: no page for {purpose.value} links")
        state = self.link_state(purpose).value
        return self.form_page(template, actions[purpose], success, state=state, **context)

    def _load_account(self) -> None:
        flask.g.provider_identity_account = self.sessions.current(flask.session)

    def _template_values(self) -> dict[str, Any]:
        policy = self.service.password_policy
        return {
            "account": self.account,
            "form": {
                key: value for key, value in flask.request.form.items() if key not in _SECRET_FIELDS
            },
            "locale": flask.g.get("provider_identity_locale", "en"),
            "registration_checklist": password_checklist(policy, PasswordUse.REGISTRATION),
            "change_checklist": password_checklist(policy, PasswordUse.CHANGE),
        }


#: The session key of a visitor's language choice (``?lang=``).
_LOCALE = "locale"


def _request_locale() -> str:
    """``?lang=`` (kept in the session), else the session's choice, else ``Accept-Language``."""
    asked = supported_locale(flask.request.args.get("lang"))
    if asked is not None:
        flask.session[_LOCALE] = asked
        return asked
    chosen = supported_locale(flask.session.get(_LOCALE))
    return chosen or negotiate(flask.request.headers.get("Accept-Language"))


def _leave_locale(_error: BaseException | None = None) -> None:
    scope = flask.g.pop("provider_identity_locale_scope", None)
    if scope is not None:
        scope.close()
