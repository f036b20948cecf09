"""A tiny, framework-free web layer on provider-identity: what a Flask, Django or FastAPI view does.

Each view gets the ``IdentityService`` injected (as an app factory or a
dependency would) and the submitted form, and returns a ``Response`` with a
status and a JSON-like body. The test files beside this one drive these views
with the provider-identity pytest fixtures and Hypothesis strategies; a real
app's views differ only in how they read the request and write the response.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from provider_identity import (
    AccountLocked,
    AccountNotActivated,
    AccountNotFound,
    AlreadyRegistered,
    ConcurrentUpdate,
    DetailsMismatch,
    IdentityError,
    IdentityService,
    InvalidCredentials,
    InvalidInput,
    NotEligibleForGroup,
    ProviderNotFound,
    RegistrationRequest,
    SecondFactorDue,
    SecurityAnswerError,
    TokenError,
    UsernameUnavailable,
)

HTTP_STATUS: dict[type[IdentityError], int] = {
    InvalidInput: 400,
    ProviderNotFound: 422,
    DetailsMismatch: 422,
    NotEligibleForGroup: 422,
    AlreadyRegistered: 409,
    UsernameUnavailable: 409,
    ConcurrentUpdate: 409,
    InvalidCredentials: 401,
    AccountLocked: 403,
    AccountNotActivated: 403,
    SecurityAnswerError: 403,
    TokenError: 400,
    AccountNotFound: 404,
}

#: What "forgot password" always answers, whether or not the user exists.
RESET_REQUESTED = "If the user name is registered, a reset link is on its way."


@attrs.frozen
class Response:
    """An HTTP response, as a test sees it."""

    status: int
    body: dict[str, object]


def error_response(err: IdentityError) -> Response:
    """The status of the error's class (or nearest base) and a body with its code and fields."""
    status = next((HTTP_STATUS[cls] for cls in type(err).__mro__ if cls in HTTP_STATUS), 500)
    body: dict[str, object] = {"code": err.code, "message": err.message}
    if isinstance(err, InvalidInput):
        body["errors"] = {e.field: e.code for e in err.errors}
    if isinstance(err, AccountLocked):
        body["locked_until"] = err.locked_until.isoformat()
    return Response(status, body)


def register_view(
    service: IdentityService, form: Mapping[str, str], *, client_address: str = "203.0.113.7"
) -> Response:
    """POST /register: 201 with the new account, or the error."""
    request = RegistrationRequest(
        provider_type=form.get("provider_type", ""),
        name=form.get("name", ""),
        tax_id=form.get("tax_id", ""),
        zip_code=form.get("zip_code", ""),
        provider_id=form.get("provider_id", ""),
        npi=form.get("npi", ""),
        username=form.get("username", ""),
        password=form.get("password", ""),
        email=form.get("email", ""),
        security_question=form.get("security_question", ""),
        security_answer=form.get("security_answer", ""),
        agreement_confirmed=form.get("agreement_confirmed") == "yes",
    )
    try:
        result = service.register(request, client_address=client_address)
    except IdentityError as err:
        return error_response(err)
    return Response(201, {"account_id": result.account.id, "status": result.account.status.value})


def activate_view(service: IdentityService, token: str) -> Response:
    """GET /activate?token=...: 200 once the account is active."""
    try:
        account = service.activate(token)
    except IdentityError as err:
        return error_response(err)
    return Response(200, {"account_id": account.id, "status": account.status.value})


def login_view(service: IdentityService, form: Mapping[str, str]) -> Response:
    """POST /login: 200 with what the session keeps, or the error."""
    try:
        result = service.login(form.get("username", ""), form.get("password", ""))
    except IdentityError as err:
        return error_response(err)
    if isinstance(result, SecondFactorDue):  # show the code page; nobody is logged in yet
        return Response(202, {"second_factor": sorted(result.methods)})
    account = result.account
    return Response(
        200, {"account_id": account.id, "credential_version": account.credential_version}
    )


def forgot_password_view(service: IdentityService, form: Mapping[str, str]) -> Response:
    """POST /forgot-password: always the same answer."""
    try:
        service.request_password_reset(form.get("username", ""))
    except InvalidInput as err:
        return error_response(err)
    return Response(202, {"message": RESET_REQUESTED})


def reset_password_view(service: IdentityService, token: str, form: Mapping[str, str]) -> Response:
    """POST /reset-password?token=...: 200 once the password changed (no login)."""
    try:
        service.reset_password(token, form.get("password", ""))
    except IdentityError as err:
        return error_response(err)
    return Response(200, {"message": "Your password was changed. Please log in."})
