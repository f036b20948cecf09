"""Bad input: a typed error with a stable code, and every store left as it was."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import (
    IdentityError,
    IdentityService,
    InvalidInput,
    PasswordPolicy,
    ProviderRecord,
    TokenIssuer,
    TokenPurpose,
)
from provider_identity.clock import ensure_utc
from provider_identity.roster import import_roster, iter_roster, read_roster
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    RecordingMailer,
)
from tests.helpers import KEY, PASSWORD, practitioner
from tests.test_errors import CODES

NEW = "Green-Kestrel-2032"
QUESTION = "What is the name of your first pet?"

#: Text no form should send: controls, bidi and invisible characters, lone surrogates.
NASTY_CHARS = (
    "\x00\x1b\r\n\t\x7f\u0085\u202a\u202e\u2066\u2069\u200b\u200e\u061c\ufeff\ud800\udfffa"
)

#: Values no form should ever send: wrong types, huge, control and bidi text, lone surrogates.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.binary(max_size=20),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from(
        ["x" * 100_000, "\ud800", "jdoe\u202e", "jdoe\x00", "\u202ejdoe", "jdoe\ud800"]
    ),
    st.text(alphabet=st.sampled_from(NASTY_CHARS), min_size=1, max_size=8),
    st.text(max_size=300),
)

FIELDS = ("provider_type", "name", "tax_id", "zip_code", "provider_id", "npi", "username",
          "password", "email", "security_question", "security_answer", "agreement_confirmed",
          "line_of_business")  # fmt: skip

#: Every error code the library raises (tests/test_errors.py holds the snapshot).
KNOWN_CODES = frozenset(CODES.values())


@attrs.frozen
class World:
    """A service over fresh stores holding one active account and a live reset link."""

    service: IdentityService
    accounts: MemoryAccountRepository
    lockouts: MemoryLockoutStore
    mailer: RecordingMailer
    account_id: str
    reset_token: str

    def snapshot(self) -> tuple[object, ...]:
        return (list(self.accounts), self.lockouts.states(), list(self.mailer.messages))


def world(make_service: Callable[..., IdentityService], *, populated: bool = True) -> World:
    accounts, lockouts, mailer = MemoryAccountRepository(), MemoryLockoutStore(), RecordingMailer()
    service = make_service(accounts=accounts, lockouts=lockouts, mailer=mailer)
    account_id = token = ""
    if populated:
        account_id = service.register(practitioner()).account.id
        service.activate(mailer.last_token())
        service.request_password_reset("jdoe")
        token = mailer.last_token()
    return World(service, accounts, lockouts, mailer, account_id, token)


CALLS: dict[str, Callable[[World, Any], object]] = {
    "register(request)": lambda w, v: w.service.register(v),
    "resend_activation(username)": lambda w, v: w.service.resend_activation(v),
    "activate(token)": lambda w, v: w.service.activate(v),
    "login(username)": lambda w, v: w.service.login(v, PASSWORD),
    "login(password)": lambda w, v: w.service.login("jdoe", v),
    "lockout_status(username)": lambda w, v: w.service.lockout_status(v),
    "unlock(username)": lambda w, v: w.service.unlock(v),
    "request_password_reset(username)": lambda w, v: w.service.request_password_reset(v),
    "request_username_reminder(email)": lambda w, v: w.service.request_username_reminder(v),
    "reset_password(token)": lambda w, v: w.service.reset_password(v, NEW),
    "reset_password(new_password)": lambda w, v: w.service.reset_password(w.reset_token, v),
    "change_password(account_id)": lambda w, v: w.service.change_password(v, PASSWORD, NEW),
    "change_password(current)": lambda w, v: w.service.change_password(w.account_id, v, NEW),
    "change_password(new)": lambda w, v: w.service.change_password(w.account_id, PASSWORD, v),
    "verify_security_answer(username)": lambda w, v: w.service.verify_security_answer(v, "Rex"),
    "verify_security_answer(answer)": lambda w, v: w.service.verify_security_answer("jdoe", v),
    "accessible_providers(account_id)": lambda w, v: w.service.accessible_providers(v),
    "login(client_address)": lambda w, v: w.service.login("jdoe", "x", client_address=v),
    "register(client_address)": lambda w, v: w.service.register(practitioner(), client_address=v),
    "reset(client_address)": lambda w, v: w.service.request_password_reset(
        "jdoe", client_address=v
    ),
    "unlock(client_address)": lambda w, v: w.service.unlock("jdoe", client_address=v),
    "request_email_change(account_id)": lambda w, v: w.service.request_email_change(
        v, PASSWORD, "jane@new.example.org"
    ),
    "request_email_change(current)": lambda w, v: w.service.request_email_change(
        w.account_id, v, "jane@new.example.org"
    ),
    "request_email_change(new_email)": lambda w, v: w.service.request_email_change(
        w.account_id, PASSWORD, v
    ),
    "confirm_email_change(token)": lambda w, v: w.service.confirm_email_change(v),
    "change_security_answer(account_id)": lambda w, v: w.service.change_security_answer(
        v, PASSWORD, QUESTION, "Fido"
    ),
    "change_security_answer(current)": lambda w, v: w.service.change_security_answer(
        w.account_id, v, QUESTION, "Fido"
    ),
    "change_security_answer(question)": lambda w, v: w.service.change_security_answer(
        w.account_id, PASSWORD, v, "Fido"
    ),
    "change_security_answer(answer)": lambda w, v: w.service.change_security_answer(
        w.account_id, PASSWORD, QUESTION, v
    ),
    "accept_agreement(account_id)": lambda w, v: w.service.accept_agreement(v, "1"),
    "accept_agreement(version)": lambda w, v: w.service.accept_agreement(w.account_id, v),
    "deactivate(account_id)": lambda w, v: w.service.deactivate(v),
    "deactivate(reason)": lambda w, v: w.service.deactivate(w.account_id, v),
    "reactivate(account_id)": lambda w, v: w.service.reactivate(v),
    "purge_pending(client_address)": lambda w, v: w.service.purge_pending(client_address=v),
    "reconcile(client_address)": lambda w, v: w.service.reconcile(client_address=v),
}

#: Calls whose well-formed text may legitimately change a store (a counted failure, a sent mail).
MAY_ACT_ON_TEXT = {
    name
    for name in CALLS
    if name.endswith(("(username)", "(client_address)", "(answer)", "(email)"))
} | {"login(password)", "change_password(current)", "change_password(new)",
     "reset_password(new_password)", "request_email_change(current)",
     "request_email_change(new_email)", "change_security_answer(current)",
     "accept_agreement(version)"}  # fmt: skip


def attempt(call: Callable[[], object]) -> IdentityError | None:
    try:
        call()
    except IdentityError as err:
        return err
    return None


def assert_well_typed(err: IdentityError) -> None:
    """A public code; field errors name a field and carry a snake_case code and a message."""
    assert err.code in KNOWN_CODES
    assert err.message
    if isinstance(err, InvalidInput):
        assert err.errors
        for field_error in err.errors:
            assert re.fullmatch(r"[a-z][a-z_]*", field_error.code), field_error
            assert re.fullmatch(r"[a-z][a-z_]*", field_error.field), field_error
            assert field_error.message


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(CALLS)), value=JUNK)
def test_every_call_answers_junk_with_a_typed_error_and_changes_nothing(
    make_service: Callable[..., IdentityService], name: str, value: object
) -> None:
    """Never TypeError, AttributeError or UnicodeError: an IdentityError, stores untouched."""
    w = world(make_service)
    before = w.snapshot()
    err = attempt(lambda: CALLS[name](w, value))
    if err is not None:
        assert_well_typed(err)
    if name == "lockout_status(username)":  # a read: never a change, a status for text only
        assert err is not None or isinstance(value, str)
        assert w.snapshot() == before
        return
    if isinstance(value, str) and name in MAY_ACT_ON_TEXT and not isinstance(err, InvalidInput):
        return  # well-formed text: a counted failure or a sent mail is the right outcome
    if name.endswith("(client_address)") and value is None:
        return  # no address is allowed
    assert err is not None, (name, value)
    assert w.snapshot() == before


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JUNK)
def test_a_registration_with_any_junk_field_is_refused_and_stores_nothing(
    make_service: Callable[..., IdentityService], field: str, value: object
) -> None:
    """Any junk field: the whole request is refused and nothing is stored or sent.

    Text that is well-formed but matches no record is a counted registration
    attempt: the provider's abuse-limit counter, and nothing else, may change.
    """
    w = world(make_service, populated=False)
    err = attempt(lambda: w.service.register(practitioner(**{field: value})))
    if err is not None:
        assert_well_typed(err)
        accounts, lockouts, mail = w.snapshot()
        assert (accounts, mail) == ([], [])
        if isinstance(err, InvalidInput):
            assert lockouts == {}
        else:
            assert isinstance(value, str)
            assert err.code in {"details_mismatch", "provider_not_found"}
            assert [key.split(":")[1] for key in lockouts] == ["registration_provider"]
    else:  # only what is still valid gets through: an absent optional field, matching text
        assert value is None or isinstance(value, str) or field == "agreement_confirmed"
        assert len(w.accounts) == 1


@pytest.mark.parametrize("value", [None, "", "\ud800", "x" * 100_000, ["jdoe"], 3, b"jdoe"])
def test_the_same_junk_gets_the_same_code_every_time(
    make_service: Callable[..., IdentityService], value: object
) -> None:
    """Codes are stable: repeating a bad call repeats its code and its field errors."""
    w = world(make_service)
    for name in ("login(username)", "register(request)", "activate(token)", "unlock(username)"):
        first, second = (attempt(functools.partial(CALLS[name], w, value)) for _ in range(2))
        assert first is not None
        assert second is not None
        assert (first.code, vars(first)) == (second.code, vars(second))


HASHABLE_JUNK = [None, 1, 1.5, b"id", "\ud800", "x" * 100_000, ("a",)]
UNHASHABLE_JUNK = [["id"], {"id": 1}, {"id"}]


@pytest.mark.parametrize(
    "account_id",
    [
        *HASHABLE_JUNK,
        *UNHASHABLE_JUNK,
    ],
)  # fmt: skip
def test_is_session_current_is_false_for_any_junk_account_id(
    make_service: Callable[..., IdentityService], account_id: object
) -> None:
    """A predicate answers False (never TypeError) for an id that is not text."""
    w = world(make_service)
    assert w.service.is_session_current(account_id, 1) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "version",
    [
        None, "1", b"1", [1], 1.5, -1, 10**100, True, 1.0,
    ],
)  # fmt: skip
def test_is_session_current_is_false_for_any_version_that_is_not_the_int(
    make_service: Callable[..., IdentityService], version: object
) -> None:
    """Only the exact int the login handed out keeps a session current (like the token check)."""
    w = world(make_service)
    account = w.accounts.get(w.account_id)
    assert account is not None
    assert account.credential_version == 1
    assert w.service.is_session_current(w.account_id, 1) is True
    assert w.service.is_session_current(w.account_id, version) is False  # type: ignore[arg-type]


# -- the library's other entry points ------------------------------------------------------

WRONG_TYPES = [1, 1.5, b"jdoe", ["jdoe"], {"jdoe": 1}, object(), True]


@pytest.mark.parametrize("value", WRONG_TYPES)
@pytest.mark.parametrize("field", ["username", "email"])
def test_a_password_check_refuses_an_identifier_that_is_not_text(field: str, value: object) -> None:
    """check(username=/email=) with a non-text value: InvalidInput on that field, no TypeError."""
    policy = PasswordPolicy()
    with pytest.raises(InvalidInput) as caught:
        policy.check(PASSWORD, **{field: value})  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, "wrong_type")]
    with pytest.raises(InvalidInput):
        policy.validate(PASSWORD, **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("purpose", ["activation", None, 1, TokenPurpose, object()])
def test_a_token_call_refuses_a_purpose_that_is_not_a_token_purpose(purpose: object) -> None:
    """verify() and issue() with a non-purpose: InvalidInput on "purpose", never KeyError."""
    issuer = TokenIssuer(current=KEY, clock=ManualClock())
    token = issuer.issue(TokenPurpose.ACTIVATION, account_id="a", credential_version=1)
    with pytest.raises(InvalidInput) as caught:
        issuer.verify(token, purpose)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [("purpose", "wrong_type")]
    with pytest.raises(InvalidInput):
        issuer.issue(purpose, account_id="a", credential_version=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", ["provider_id,tax_id,name,zip_codes\n", None, 7, [b"x"]])
def test_read_roster_refuses_anything_but_bytes(data: object) -> None:
    """read_roster takes the file's bytes; text, None or a list is InvalidInput, not TypeError."""
    with pytest.raises(InvalidInput) as caught:
        read_roster(data)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [("roster", "wrong_type")]


@pytest.mark.parametrize(
    "lines",
    [
        None, 7, b"provider_id,tax_id,name,zip_codes\n", "provider_id,tax_id,name,zip_codes\n",
        ["provider_id,tax_id,name,zip_codes\n"], [b"provider_id,tax_id,name,zip_codes\n", None],
    ],
)  # fmt: skip
def test_iter_roster_refuses_lines_that_are_not_bytes(lines: object) -> None:
    """iter_roster takes lines of bytes (a file opened "rb"); anything else is InvalidInput."""
    with pytest.raises(InvalidInput) as caught:
        list(iter_roster(lines))  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [("roster", "wrong_type")]


@pytest.mark.parametrize("batch_size", [0, -5, 1.5, "10", None, True])
def test_import_roster_refuses_a_batch_size_that_is_not_a_positive_int(batch_size: object) -> None:
    """batch_size 0, -5 or not an int: InvalidInput on "batch_size", and nothing is written."""
    written: list[object] = []

    class Destination:
        def upsert(self, records: Iterable[ProviderRecord]) -> int:
            written.append(records)
            return 0

    lines = [b"provider_id,tax_id,name,zip_codes\n", b"P1,311234567,Ann,45402\n"]
    with pytest.raises(InvalidInput) as caught:
        import_roster(lines, Destination(), batch_size=batch_size)  # type: ignore[arg-type]
    assert caught.value.errors[0].field == "batch_size"
    assert written == []


@pytest.mark.parametrize(
    "moment", [datetime(2026, 1, 5, 9, 0), "2026-01-05T09:00Z", None, 1767603600]
)
def test_ensure_utc_refuses_naive_and_non_datetimes_with_a_typed_error(moment: object) -> None:
    """A naive or a non-datetime: InvalidInput (still a ValueError), never AttributeError."""
    with pytest.raises(InvalidInput) as caught:
        ensure_utc(moment)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert_well_typed(caught.value)


@pytest.mark.parametrize("end_date", ["2026-13-01", "tomorrow", "x" * 40, 20260101, ["2026-01-01"]])
def test_a_provider_record_refuses_an_end_date_that_is_not_a_date(end_date: object) -> None:
    """A typed InvalidInput on the end_date field; an ISO date or a date is taken as the date."""
    with pytest.raises(InvalidInput) as caught:
        ProviderRecord(
            provider_id="P1", tax_id="311234567", name="A", zip_codes=("45402",),
            end_date=end_date,  # type: ignore[arg-type]  # the point
        )  # fmt: skip
    assert caught.value.errors[0].field == "end_date"
    record = ProviderRecord(
        provider_id="P1", tax_id="311234567", name="A", zip_codes=("45402",), end_date="2026-06-30"
    )
    assert record.end_date == date(2026, 6, 30)


def test_a_snapshot_into_a_destination_that_cannot_end_records_writes_nothing() -> None:
    """A destination with upsert only: InvalidInput before any batch is written."""

    class UpsertOnly:
        def __init__(self) -> None:
            self.written: list[object] = []

        def upsert(self, records: Iterable[ProviderRecord]) -> int:
            batch = list(records)
            self.written.extend(batch)
            return len(batch)

    destination = UpsertOnly()
    lines = [b"provider_id,tax_id,name,zip_codes", b"P1,311234567,A,45402"]
    with pytest.raises(InvalidInput) as caught:
        import_roster(lines, destination, snapshot=True)
    assert caught.value.errors[0].field == "snapshot"
    assert destination.written == []


@pytest.mark.parametrize("use", ["registration", "change", 1, object()])
def test_requirements_refuse_a_use_that_is_not_a_password_use(use: object) -> None:
    """A string for ``use`` once gave an empty checklist; now it is InvalidInput on "use"."""
    with pytest.raises(InvalidInput) as caught:
        PasswordPolicy().requirements(use)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [("use", "wrong_type")]
    assert "PasswordUse" in caught.value.errors[0].message
