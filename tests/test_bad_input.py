"""Bad input: a typed error with a stable code, and every store left as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import IdentityError, IdentityService, InvalidInput
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryLockoutStore,
    RecordingMailer,
)
from tests.helpers import practitioner

#: Values no form should ever send: wrong types, huge, control and bidi text, lone surrogates.
JUNK = st.one_of(
    st.none(),
    st.integers(),
    st.binary(max_size=20),
    st.lists(st.text(max_size=3), max_size=2),
    st.just("x" * 100_000),
    st.just("\ud800"),
    st.text(alphabet=st.sampled_from("\x00\r\n\u202e\u200b\ufeff\u2066a"), min_size=1, max_size=8),
    st.text(max_size=300),
)

FIELDS = ("provider_type", "name", "tax_id", "zip_code", "provider_id", "npi", "username",
          "password", "email", "security_question", "security_answer")  # fmt: skip

CALLS: dict[str, Callable[[IdentityService, Any], object]] = {
    "login(username)": lambda s, v: s.login(v, "Blue-Heron-2031"),
    "login(password)": lambda s, v: s.login("jdoe", v),
    "activate": lambda s, v: s.activate(v),
    "resend_activation": lambda s, v: s.resend_activation(v),
    "request_password_reset": lambda s, v: s.request_password_reset(v),
    "reset_password(token)": lambda s, v: s.reset_password(v, "Green-Kestrel-2032"),
    "change_password(account)": lambda s, v: s.change_password(v, "a", "b"),
    "verify_security_answer": lambda s, v: s.verify_security_answer("jdoe", v),
    "accessible_providers": lambda s, v: s.accessible_providers(v),
    "unlock": lambda s, v: s.unlock(v),
    "client_address": lambda s, v: s.login("jdoe", "x", client_address=v),
}


def snapshot(
    accounts: MemoryAccountRepository, lockouts: MemoryLockoutStore, mailer: RecordingMailer
) -> tuple[object, ...]:
    return (list(accounts), dict(lockouts._states), len(mailer.messages))


def attempt(call: Callable[[], object]) -> IdentityError | None:
    try:
        call()
    except IdentityError as err:
        return err
    return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(CALLS)), value=JUNK)
def test_every_call_answers_junk_with_a_typed_error(
    make_service: Callable[..., IdentityService], name: str, value: object
) -> None:
    stores = MemoryAccountRepository(), MemoryLockoutStore(), RecordingMailer()
    service = make_service(accounts=stores[0], lockouts=stores[1], mailer=stores[2])
    before = snapshot(*stores)
    err = attempt(lambda: CALLS[name](service, value))
    absent_address = name == "client_address" and value is None  # allowed: no address
    if isinstance(err, InvalidInput) or not (isinstance(value, str) or absent_address):
        assert err is not None
        assert err.code
        assert snapshot(*stores) == before
    else:  # well-formed text: refused like any other value, or nothing to do
        assert err is None or err.code


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JUNK)
def test_a_registration_with_any_junk_field_is_refused_and_stores_nothing(
    make_service: Callable[..., IdentityService], field: str, value: object
) -> None:
    stores = MemoryAccountRepository(), MemoryLockoutStore(), RecordingMailer()
    service = make_service(accounts=stores[0], lockouts=stores[1], mailer=stores[2])
    before = snapshot(*stores)
    err = attempt(lambda: service.register(practitioner(**{field: value})))
    if err is not None:
        assert err.code
        assert snapshot(*stores) == before
    else:  # only what is still valid gets through: an absent optional field, matching text
        assert value is None or isinstance(value, str)
        assert len(stores[0]) == 1
