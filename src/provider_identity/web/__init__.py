"""A framework-free web layer: what every web stack's pages need from the library.

- :func:`error_view` (and :class:`ErrorMap`): any
  :class:`~provider_identity.IdentityError` to the messages beside each field,
  the page's message and the HTTP status.
- :func:`provider_request`, :func:`account_request`,
  :func:`registration_request`: submitted form data to the library's requests
  (checkboxes, whitespace; passwords never trimmed).
- :meth:`PasswordPolicy.requirements
  <provider_identity.PasswordPolicy.requirements>`: the password checklist as
  data (see :func:`password_checklist`).
- :func:`peek_link`: is an activation or reset link valid, expired, used or
  invalid, without spending it.
- :class:`SessionGuard`, :func:`csrf_token`, :func:`csrf_valid`: login
  sessions checked on every request and ended for real, and CSRF tokens.

``provider_identity.web.flask`` and ``provider_identity.web.fastapi`` build on
these (extras ``flask`` and ``fastapi``).
"""

from __future__ import annotations

from provider_identity.passwords import PasswordPolicy, PasswordRequirement, PasswordUse
from provider_identity.web._errors import DEFAULT_STATUSES, ErrorMap, ErrorView, error_view
from provider_identity.web._forms import (
    CHECKED_VALUES,
    account_request,
    checkbox,
    new_password,
    provider_request,
    registration_request,
    text,
)
from provider_identity.web._links import LinkState, peek_link
from provider_identity.web._sessions import (
    DEFAULT_SESSION_LIFETIME,
    SessionGuard,
    csrf_token,
    csrf_valid,
)

__all__ = [
    "CHECKED_VALUES",
    "DEFAULT_SESSION_LIFETIME",
    "DEFAULT_STATUSES",
    "ErrorMap",
    "ErrorView",
    "LinkState",
    "SessionGuard",
    "account_request",
    "checkbox",
    "csrf_token",
    "csrf_valid",
    "error_view",
    "new_password",
    "password_checklist",
    "peek_link",
    "provider_request",
    "registration_request",
    "text",
]


def password_checklist(
    policy: PasswordPolicy, use: PasswordUse, *, locale: str | None = None
) -> list[dict[str, object]]:
    """The requirements of ``policy`` that apply to ``use``, as JSON-ready dictionaries.

    Each has ``code``, ``message`` and ``params``: enough for a script beside
    the password field to tick off the lines it can check in the browser
    (``too_short`` by ``params["min"]``, ``missing_*`` by character class);
    the server's check stays the judge. ``message`` is in ``locale`` (``None``:
    the current locale).
    """
    return [_as_dict(requirement) for requirement in policy.requirements(use, locale=locale)]


def _as_dict(requirement: PasswordRequirement) -> dict[str, object]:
    return {"code": requirement.code, "message": requirement.message, "params": requirement.params}
