"""A FastAPI router: the seed's flows as a JSON API, with sessions and CSRF.

Needs the ``fastapi`` extra: ``pip install "provider-identity[fastapi]"``, and
Starlette's ``SessionMiddleware`` on the app (a signed cookie holding the
session id, the account id and its credential version)::

    app = FastAPI()
    app.include_router(identity_router(service), prefix="/identity")
    app.add_middleware(SessionMiddleware, secret_key=..., https_only=not local)

The handlers are ``async`` and run the (synchronous, deliberately slow)
library in the thread pool. Every ``POST`` needs the session's CSRF token in
the ``X-CSRF-Token`` header (``GET /csrf`` hands it out; a login answers
a new one, since it starts a new session). An
:class:`~provider_identity.IdentityError` answers its status with the body
``{"detail": {"code", "message", "fields", "help_lines"}}``.

Each request runs in a locale (:mod:`provider_identity.i18n`): ``?lang=``,
else the ``Accept-Language`` header (or your own ``locale=`` function); error
messages, the password requirements and the mail a request sends are in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

try:
    from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
    from pydantic import BaseModel
    from starlette.concurrency import run_in_threadpool
except ImportError as err:  # pragma: no cover  # the extra is installed for the tests
    raise ImportError(
        'provider_identity.web.fastapi needs FastAPI: pip install "provider-identity[fastapi]"'
    ) from err

from provider_identity.errors import IdentityError, InvalidInput
from provider_identity.i18n import msg, negotiate, supported_locale, use_locale
from provider_identity.mfa import SecondFactorDue
from provider_identity.passwords import PasswordUse
from provider_identity.ports import LockoutStore
from provider_identity.registration import AccountRequest, ProviderRequest
from provider_identity.service import AccountView, IdentityService
from provider_identity.tokens import TokenPurpose
from provider_identity.web import password_checklist
from provider_identity.web._errors import ErrorMap
from provider_identity.web._forms import provider_request
from provider_identity.web._links import peek_link
from provider_identity.web._sessions import (
    DEFAULT_SESSION_LIFETIME,
    SessionGuard,
    csrf_token,
    csrf_valid,
)

__all__ = [
    "AccountBody",
    "AgreementBody",
    "CodeBody",
    "CredentialsBody",
    "PasswordResetBody",
    "ProviderBody",
    "TokenBody",
    "UsernameBody",
    "identity_router",
]

_Result = TypeVar("_Result")

_TICKET, _AGREED = "registration_ticket", "registration_agreed"
_CHALLENGE = "second_factor_challenge"


class ProviderBody(BaseModel):
    """Step 1: the provider details (every field optional: all problems come back at once)."""

    provider_type: str = ""
    name: str = ""
    tax_id: str = ""
    zip_code: str = ""
    provider_id: str = ""
    npi: str = ""
    line_of_business: str = ""


class AgreementBody(BaseModel):
    """Step 2: the Provider Agreement."""

    agreement_confirmed: bool = False


def _request_locale(request: Request) -> str:
    asked = supported_locale(request.query_params.get("lang"))
    return asked or negotiate(request.headers.get("accept-language"))


def _refuse_agreement() -> None:
    raise InvalidInput.single(
        "agreement_confirmed", "required", msg("Please confirm the Provider Agreement.")
    )


class AccountBody(BaseModel):
    """Step 3: the user account and security question."""

    username: str = ""
    password: str = ""
    email: str = ""
    security_question: str = ""
    security_answer: str = ""


class CredentialsBody(BaseModel):
    """A login."""

    username: str = ""
    password: str = ""


class UsernameBody(BaseModel):
    """Forgot password, resend activation."""

    username: str = ""


class CodeBody(BaseModel):
    """A TOTP or recovery code: the second step of a login, or an authenticator's first."""

    code: str = ""


class TokenBody(BaseModel):
    """An activation link's token."""

    token: str = ""


class PasswordResetBody(BaseModel):
    """A reset link's token and the new password."""

    token: str = ""
    password: str = ""


def _account(view: AccountView) -> dict[str, object]:
    return {
        "username": view.username,
        "email": view.email,
        "provider_type": view.provider_type.value,
        "provider_id": view.provider_id,
    }


def identity_router(
    service: IdentityService,
    *,
    revocations: LockoutStore | None = None,
    lifetime: timedelta = DEFAULT_SESSION_LIFETIME,
    errors: ErrorMap | None = None,
    locale: Callable[[Request], str | None] | None = None,
) -> APIRouter:
    """The seed's flows as JSON endpoints on ``service``.

    Args:
        service: The identity service.
        revocations: Where logged-out sessions are listed (default: the
            service's lockout store, shared by every worker process).
        lifetime: The longest a login session lasts.
        errors: Maps errors to statuses (extend it for new error classes).
        locale: Chooses a request's locale (default: ``?lang=``, else
            ``Accept-Language``); one with no catalogue means English.
    """
    choose_locale = locale or _request_locale
    sessions = SessionGuard(
        service=service, revocations=revocations or service.lockouts, lifetime=lifetime
    )
    mapping = errors or ErrorMap()

    async def run(call: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
        try:
            return await run_in_threadpool(call, *args, **kwargs)
        except IdentityError as err:
            view = mapping.view(err)
            detail = {
                "code": view.code,
                "message": view.message,
                "fields": view.fields,
                "help_lines": view.help_lines,
            }
            headers = view.headers or None
            raise HTTPException(status_code=view.status, detail=detail, headers=headers) from None

    def csrf(request: Request, x_csrf_token: Annotated[str, Header()] = "") -> None:
        if not csrf_valid(request.session, x_csrf_token):
            raise HTTPException(status_code=403, detail={"code": "csrf_failed"})

    async def current(request: Request) -> AccountView:
        account = await run_in_threadpool(sessions.current, request.session)
        if account is None:
            raise HTTPException(status_code=401, detail={"code": "not_logged_in"})
        return account

    def address(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def in_locale(request: Request) -> AsyncIterator[str]:
        with use_locale(choose_locale(request)) as chosen:
            yield chosen

    router = APIRouter(dependencies=[Depends(in_locale)])
    posting = APIRouter(dependencies=[Depends(csrf)])
    logged_in = Depends(current)  # a default, not Annotated: these functions are local

    @router.get("/csrf")
    async def get_csrf(request: Request) -> dict[str, str]:
        return {"csrf_token": csrf_token(request.session)}

    @posting.post("/register/provider")
    async def check_provider(body: ProviderBody, request: Request) -> dict[str, str]:
        provider: ProviderRequest = await run(provider_request, body.model_dump())
        check = await run(service.check_provider, provider, client_address=address(request))
        request.session[_TICKET], request.session[_AGREED] = check.ticket, False
        return {"provider_type": check.provider_type.value, "next": "agreement"}

    @posting.post("/register/agreement")
    async def confirm_agreement(body: AgreementBody, request: Request) -> dict[str, str]:
        if not isinstance(request.session.get(_TICKET), str):
            raise HTTPException(status_code=409, detail={"code": "registration_not_started"})
        if not body.agreement_confirmed:
            await run(_refuse_agreement)
        request.session[_AGREED] = True
        return {"next": "account"}

    @posting.post("/register/account", status_code=201)
    async def finish_registration(body: AccountBody, request: Request) -> dict[str, object]:
        ticket = request.session.get(_TICKET)
        account = AccountRequest(
            ticket=ticket if isinstance(ticket, str) else "",
            agreement_confirmed=request.session.get(_AGREED) is True,
            **body.model_dump(),
        )
        result = await run(service.register, account, client_address=address(request))
        request.session.pop(_TICKET, None)
        request.session.pop(_AGREED, None)
        return {"username": result.account.username, "activation_sent": result.activation_sent}

    @router.get("/links/{purpose}")
    async def link_state(purpose: str, token: str = "") -> dict[str, str]:
        kinds = {"activation": TokenPurpose.ACTIVATION, "reset": TokenPurpose.PASSWORD_RESET}
        if purpose not in kinds:
            raise HTTPException(status_code=404)
        state = await run_in_threadpool(peek_link, service, token, kinds[purpose])
        return {"state": state.value}

    @posting.post("/activate")
    async def activate(body: TokenBody, request: Request) -> dict[str, object]:
        return _account(await run(service.activate, body.token, client_address=address(request)))

    @posting.post("/resend-activation", status_code=202)
    async def resend_activation(body: UsernameBody, request: Request) -> None:
        await run(service.resend_activation, body.username, client_address=address(request))

    @posting.post("/login")
    async def login(body: CredentialsBody, request: Request) -> dict[str, object]:
        result = await run(
            service.login, body.username, body.password, client_address=address(request)
        )
        if isinstance(result, SecondFactorDue):  # nobody logged in until POST /login/code
            request.session.clear()
            request.session[_CHALLENGE] = result.challenge
            return {
                "second_factor_due": sorted(result.methods),
                "csrf_token": csrf_token(request.session),
            }
        sessions.start(result, request.session)  # a fresh session: a fresh CSRF token too
        return {**_account(result.account), "csrf_token": csrf_token(request.session)}

    @posting.post("/login/code")
    async def complete_login(body: CodeBody, request: Request) -> dict[str, object]:
        challenge = request.session.get(_CHALLENGE)
        result = await run(
            service.complete_login,
            challenge if isinstance(challenge, str) else "",
            body.code,
            client_address=address(request),
        )
        sessions.start(result, request.session)
        return {**_account(result.account), "csrf_token": csrf_token(request.session)}

    @posting.post("/logout", status_code=204)
    async def logout(request: Request) -> None:
        await run_in_threadpool(sessions.end, request.session)

    @posting.post("/forgot-password", status_code=202)
    async def forgot_password(body: UsernameBody, request: Request) -> None:
        await run(service.request_password_reset, body.username, client_address=address(request))

    @posting.post("/reset-password", status_code=204)
    async def reset_password(body: PasswordResetBody, request: Request) -> None:
        await run(
            service.reset_password, body.token, body.password, client_address=address(request)
        )

    @posting.post("/authenticator")
    async def begin_authenticator(
        request: Request, response: Response, account: AccountView = logged_in
    ) -> dict[str, str]:
        enrolment = await run(
            service.begin_totp_enrolment, account.id, client_address=address(request)
        )
        response.headers["Cache-Control"] = "no-store"  # the secret: out of every cache
        return {"secret": enrolment.secret, "uri": enrolment.uri, "qr_svg": enrolment.qr_svg}

    @posting.post("/authenticator/confirm")
    async def confirm_authenticator(
        body: CodeBody, request: Request, response: Response, account: AccountView = logged_in
    ) -> dict[str, list[str] | None]:
        confirmed = await run(
            service.confirm_totp, account.id, body.code, client_address=address(request)
        )
        response.headers["Cache-Control"] = "no-store"  # the recovery codes, shown this once
        codes = confirmed.recovery_codes
        return {"recovery_codes": None if codes is None else list(codes.codes)}

    @router.get("/me")
    async def me(account: AccountView = logged_in) -> dict[str, object]:
        return _account(account)

    @router.get("/providers")
    async def providers(account: AccountView = logged_in) -> list[dict[str, object]]:
        records = await run(service.accessible_providers, account.id)
        return [
            {"provider_id": r.provider_id, "name": r.name, "zip_codes": list(r.zip_codes)}
            for r in records
        ]

    @router.get("/password-requirements")
    async def requirements(use: str = "registration") -> list[dict[str, object]]:
        uses = {member.value: member for member in PasswordUse}
        if use not in uses:
            raise HTTPException(status_code=422, detail={"code": "invalid_use"})
        return password_checklist(service.password_policy, uses[use])

    router.include_router(posting)
    return router
