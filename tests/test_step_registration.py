"""Step-by-step registration: check_provider's ticket, then register with an AccountRequest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_identity import (
    AccountRequest,
    AccountStatus,
    Action,
    AlreadyRegistered,
    IdentityError,
    IdentityService,
    InvalidInput,
    ProviderCategory,
    ProviderRecord,
    ProviderRequest,
    RegistrationRequest,
    TicketExpired,
    TicketInvalid,
    TokenPurpose,
)
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
)
from tests.helpers import group, member, practitioner

PROVIDER_FIELDS = ("provider_type", "name", "tax_id", "zip_code", "provider_id", "npi")
ACCOUNT_FIELDS = (
    "username",
    "password",
    "email",
    "security_question",
    "security_answer",
    "agreement_confirmed",
)


def split(request: RegistrationRequest) -> tuple[ProviderRequest, Callable[[str], AccountRequest]]:
    """The two steps' requests that carry the same fields as ``request``."""
    values = attrs.asdict(request, recurse=False)
    provider = ProviderRequest(
        **{name: values[name] for name in (*PROVIDER_FIELDS, "line_of_business")}
    )
    return provider, lambda ticket: AccountRequest(
        ticket=ticket, **{name: values[name] for name in ACCOUNT_FIELDS}
    )


def fresh(make_service: Callable[..., IdentityService], **overrides: Any) -> IdentityService:
    """A service with stores of its own (the fixtures' are shared by every make_service())."""
    return make_service(
        accounts=MemoryAccountRepository(), lockouts=MemoryLockoutStore(), **overrides
    )


def outcome(call: Callable[[], object]) -> str:
    """``"success"`` or the code of the error ``call`` raised."""
    try:
        call()
    except IdentityError as err:
        return err.code
    return "success"


def in_steps(service: IdentityService, request: RegistrationRequest) -> str:
    """Register ``request`` in two steps; the first refusal's code, or ``"success"``."""
    provider, account = split(request)
    try:
        check = service.check_provider(provider)
        service.register(account(check.ticket))
    except IdentityError as err:
        return err.code
    return "success"


def test_steps_register_a_pending_account_and_send_activation(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """check_provider then register(AccountRequest) stores the account and mails activation."""
    provider, account = split(practitioner())
    check = service.check_provider(provider)
    result = service.register(account(check.ticket))
    assert result.account.status is AccountStatus.PENDING
    assert result.account.provider_id == "P1000001"
    assert mailer.last("jane.doe@example.org")["Subject"] == "Activate Your Provider Portal Account"


def test_a_group_registered_in_steps_is_a_group(service: IdentityService) -> None:
    """The ticket keeps the provider type chosen in step 1."""
    provider, account = split(group())
    result = service.register(account(service.check_provider(provider).ticket))
    assert result.account.provider_type.value == "group"


def test_the_ticket_holds_no_personal_data(service: IdentityService) -> None:
    """The ticket's payload names the record by Provider ID and type only: no Tax ID, name, ZIP."""
    check = service.check_provider(split(practitioner())[0])
    payload, _ = service.tokens.verify_payload(check.ticket, TokenPurpose.REGISTRATION)
    assert set(payload) == {"r", "t", "p"}
    assert payload["r"] == "P1000001"
    for secret in ("1234567", "Doe", "45402"):
        assert secret not in check.ticket
        assert secret not in repr(check)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"provider_id": "P9999999"},
        {"tax_id": "31-0000000"},
        {"zip_code": ""},
        {"name": "John Doe"},
        {"provider_id": "", "npi": ""},
    ],
)
def test_step_one_has_the_outcome_of_the_one_shot_register(
    make_service: Callable[..., IdentityService], changes: dict[str, Any]
) -> None:
    """Provider details refused by register are refused by check_provider with the same code."""
    request = practitioner(**changes)
    expected = outcome(lambda: fresh(make_service).register(request))
    assert outcome(lambda: fresh(make_service).check_provider(split(request)[0])) == expected


edits = st.fixed_dictionaries(
    {},
    optional={
        "provider_type": st.sampled_from(["practitioner", "group", "", "Group"]),
        "tax_id": st.sampled_from(["31-1234567", "311234567", "31-7654321", "x"]),
        "zip_code": st.sampled_from(["45402", "45402-1234", "45440", ""]),
        "provider_id": st.sampled_from(["P1000001", "G2000001", "P9999999", ""]),
        "password": st.sampled_from(["short", "Blue-Heron-2031", "blue-heron-2031x"]),
        "email": st.sampled_from(["jane.doe@example.org", "not-an-email"]),
        "agreement_confirmed": st.booleans(),
        "username": st.sampled_from(["jdoe", "", "mvr-admin"]),
    },
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=edits, second=edits)
def test_two_steps_decide_as_one_shot_does(
    make_service: Callable[..., IdentityService], first: dict[str, Any], second: dict[str, Any]
) -> None:
    """For any two registrations in a row, steps and one shot end with the same codes.

    Except where the steps' order is the point: step 1 judges the provider
    before step 3 sees the account fields, so when the one-shot call refuses
    the account fields, the steps may refuse the provider first.
    """
    one_shot, steps = fresh(make_service), fresh(make_service)
    provider_refusals = {
        "provider_not_found",
        "details_mismatch",
        "not_eligible_for_group",
        "already_registered",
    }
    for changes in (first, second):
        request = practitioner(**changes)
        expected = outcome(lambda request=request: one_shot.register(request))
        got = in_steps(steps, request)
        if got != expected:
            assert expected in {"invalid_input", "password_rejected"}
            assert got in provider_refusals


def test_field_errors_of_step_three_are_all_reported(service: IdentityService) -> None:
    """Step 3 reports its account fields' problems at once, the agreement's included."""
    provider, account = split(practitioner(password="short", email="x", agreement_confirmed=False))
    with pytest.raises(InvalidInput) as caught:
        service.register(account(service.check_provider(provider).ticket))
    assert {"password", "email", "agreement_confirmed"} <= caught.value.fields


def test_ticket_expires_after_its_lifetime(service: IdentityService, clock: ManualClock) -> None:
    """A ticket works up to 30 minutes, and is refused as expired one second later."""
    provider, account = split(practitioner())
    ticket = service.check_provider(provider).ticket
    clock.advance(timedelta(minutes=30, seconds=1))
    with pytest.raises(TicketExpired) as caught:
        service.register(account(ticket))
    assert caught.value.__context__ is None
    assert service.accounts.find_by_provider_id("P1000001") is None


@pytest.mark.parametrize("ticket", ["", "garbage", "x" * 600])
def test_a_garbled_ticket_is_refused_and_stores_nothing(
    service: IdentityService, ticket: str
) -> None:
    """A ticket that is not one is refused as invalid; no account is stored."""
    with pytest.raises(TicketInvalid):
        service.register(split(practitioner())[1](ticket))
    assert service.accounts.find_by_provider_id("P1000001") is None


def test_an_activation_link_is_no_ticket(service: IdentityService, mailer: RecordingMailer) -> None:
    """A genuine token of another purpose is refused as an invalid ticket."""
    service.register(member())
    with pytest.raises(TicketInvalid):
        service.register(split(practitioner())[1](mailer.last_token()))


def test_a_ticket_once_used_gives_already_registered(service: IdentityService) -> None:
    """Replaying a ticket after its registration is the seed's "already registered"."""
    provider, _ = split(practitioner())
    ticket = service.check_provider(provider).ticket
    _, first = split(practitioner())
    _, second = split(practitioner(username="other", email="other@example.org"))
    service.register(first(ticket))
    assert outcome(lambda: service.register(second(ticket))) == "already_registered"


def test_a_record_gone_since_step_one_is_not_found(
    make_service: Callable[..., IdentityService],
) -> None:
    """If the record left the directory between steps, step 3 says the provider does not exist."""
    service = make_service()
    provider, account = split(practitioner())
    ticket = service.check_provider(provider).ticket
    no_records: list[ProviderRecord] = []
    emptied = make_service(directory=MemoryProviderDirectory(no_records), tokens=service.tokens)
    assert outcome(lambda: emptied.register(account(ticket))) == "provider_not_found"


def test_a_category_no_longer_eligible_is_refused_at_step_three(
    make_service: Callable[..., IdentityService],
) -> None:
    """Group eligibility is decided again at step 3, on the record as it is then."""
    service = make_service()
    provider, account = split(group())
    ticket = service.check_provider(provider).ticket
    narrower = make_service(
        tokens=service.tokens, group_categories=frozenset({ProviderCategory.HOSPITAL})
    )
    assert outcome(lambda: narrower.register(account(ticket))) == "not_eligible_for_group"


def test_each_step_emits_one_audit_event(
    service: IdentityService, events: RecordingEventSink
) -> None:
    """check_provider and register each record one event, with the Provider ID and no Tax ID."""
    provider, account = split(practitioner())
    service.register(account(service.check_provider(provider).ticket))
    assert [event.action for event in events.events] == [Action.CHECK_PROVIDER, Action.REGISTER]
    for event in events.events:
        assert dict(event.detail)["provider_id"] == "P1000001"
        assert "1234567" not in repr(event)


def test_check_provider_refuses_what_is_not_a_provider_request(service: IdentityService) -> None:
    """A wrong request type is a typed field error."""
    with pytest.raises(InvalidInput) as caught:
        service.check_provider(practitioner())  # type: ignore[arg-type]
    assert caught.value.fields == {"request"}


def test_step_one_says_pending_and_lets_an_expired_pending_account_be_replaced(
    service: IdentityService, clock: ManualClock
) -> None:
    """A pending account refuses step 1 as pending; once expired, the steps replace it."""
    service.register(practitioner())
    provider, account = split(practitioner(username="jdoe2", email="jane2@example.org"))
    with pytest.raises(AlreadyRegistered) as caught:
        service.check_provider(provider)
    assert caught.value.pending
    clock.advance(service.pending_lifetime + timedelta(seconds=1))
    result = service.register(account(service.check_provider(provider).ticket))
    assert result.account.username == "jdoe2"
    assert service.accounts.find_by_username("jdoe") is None
