"""Registration: matching a request against the provider records, and every outcome."""

from __future__ import annotations

import string
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from provider_identity import (
    GROUP_ELIGIBLE_CATEGORIES,
    AccountStatus,
    AlreadyRegistered,
    DetailsMismatch,
    IdentityService,
    InvalidInput,
    LineOfBusiness,
    NotEligibleForGroup,
    PasswordPolicy,
    PasswordRejected,
    ProviderCategory,
    ProviderDetails,
    ProviderNotFound,
    ProviderRecord,
    ProviderType,
    RegistrationMatcher,
    RegistrationRequest,
    SecurityQuestions,
    UsernameUnavailable,
)
from provider_identity.registration import validate_registration
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryProviderDirectory,
    RecordingMailer,
)
from provider_identity.testing.strategies import provider_records
from tests.helpers import PASSWORD, group, practitioner

MEDICAID = ("Medicaid", "1-855-202-1058")
MARKETPLACE = ("Marketplace", "1-833-230-2030")


def parse(request: RegistrationRequest) -> ProviderDetails:
    """The normalised provider details of a request that must be well formed."""
    return ProviderDetails.parse(request)


def match(record: ProviderRecord, request: RegistrationRequest) -> ProviderRecord:
    """Match ``request`` against a directory that holds only ``record``."""
    return RegistrationMatcher(directory=MemoryProviderDirectory([record])).match(parse(request))


# -- formatting variants: property tests -----------------------------------------------

_GAPS = st.sampled_from(["", "", "", "-", " ", " - "])
_PADDING = st.sampled_from(["", " ", "  ", "\t"])
_WHITESPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", " \n "])


@st.composite
def tax_id_spelling(draw: st.DrawFn, digits: str) -> str:
    return "".join(draw(_GAPS) + digit for digit in digits) + draw(_GAPS)


@st.composite
def name_spelling(draw: st.DrawFn, name: str) -> str:
    changes: list[Callable[[str], str]] = [str, str.upper, str.lower]
    cases = st.sampled_from(changes)
    typed = "".join(draw(_WHITESPACE) if c == " " else draw(cases)(c) for c in name)
    return draw(_PADDING) + typed + draw(_PADDING)


@st.composite
def zip_spelling(draw: st.DrawFn, zip_codes: tuple[str, ...]) -> str:
    four = draw(st.text(string.digits, min_size=4, max_size=4))
    plus4 = draw(st.sampled_from(["", "-", " "])) + four
    typed = draw(st.sampled_from(zip_codes)) + draw(st.sampled_from(["", plus4]))
    return draw(_PADDING) + typed + draw(_PADDING)


@st.composite
def id_spelling(draw: st.DrawFn, value: str) -> str:
    typed = "".join(c.lower() if draw(st.booleans()) else c for c in value)
    return draw(_PADDING) + typed + draw(_PADDING)


@st.composite
def spelled_requests(draw: st.DrawFn) -> tuple[ProviderRecord, RegistrationRequest]:
    """A record and a request for it, every field typed in some other harmless way."""
    record = draw(provider_records())
    kinds = [ProviderType.PRACTITIONER]
    if record.category in GROUP_ELIGIBLE_CATEGORIES:
        kinds.append(ProviderType.GROUP)
    kind = draw(st.sampled_from(kinds))
    by_npi = kind is ProviderType.PRACTITIONER and record.npi is not None and draw(st.booleans())
    request = practitioner(
        provider_type=draw(st.sampled_from([kind, kind.value, f" {kind.value.upper()} "])),
        name=draw(name_spelling(record.name)),
        tax_id=draw(tax_id_spelling(record.tax_id)),
        zip_code=draw(zip_spelling(record.zip_codes)),
        provider_id="" if by_npi else draw(id_spelling(record.provider_id)),
        npi=f" {record.npi} " if by_npi else "",
    )
    return record, request


@settings(max_examples=150)
@given(spelled_requests())
def test_any_formatting_of_the_records_details_matches(
    drawn: tuple[ProviderRecord, RegistrationRequest],
) -> None:
    """Hyphens/spaces in the Tax ID, ZIP+4, case and spacing of names and IDs never stop a match."""
    record, request = drawn
    assert match(record, request) == record


@settings(max_examples=150)
@given(spelled_requests(), st.sampled_from(["tax_id", "zip_code", "provider_id"]), st.data())
def test_one_changed_digit_never_matches(
    drawn: tuple[ProviderRecord, RegistrationRequest], field: str, data: st.DataObject
) -> None:
    """Changing any one digit of the Tax ID, ZIP or Provider ID refuses the registration."""
    record, request = drawn
    typed = getattr(request, field)
    positions = [i for i, c in enumerate(typed) if c.isdigit()]
    assume(positions)
    if field == "zip_code":  # only the 5 compared digits; ZIP+4 is not compared
        positions = positions[:5]
    at = data.draw(st.sampled_from(positions))
    digit = data.draw(st.sampled_from(string.digits.replace(typed[at], "")))
    changed = practitioner(**{**_fields(request), field: typed[:at] + digit + typed[at + 1 :]})
    assume(field != "zip_code" or parse(changed).zip_code not in record.zip_codes)
    with pytest.raises(ProviderNotFound if field == "provider_id" else DetailsMismatch):
        match(record, changed)


_PROVIDER_FIELDS = ("provider_type", "name", "tax_id", "zip_code", "provider_id", "npi")


def _fields(request: RegistrationRequest) -> dict[str, object]:
    return {name: getattr(request, name) for name in _PROVIDER_FIELDS}


@settings(max_examples=30)
@given(provider_records().filter(lambda r: len(r.zip_codes) > 1), st.data())
def test_any_zip_of_any_address_matches(record: ProviderRecord, data: st.DataObject) -> None:
    """Each ZIP of the profile works; a ZIP of none of its addresses does not."""
    for zip_code in record.zip_codes:
        assert match(record, _request_for(record, zip_code=zip_code)) == record
    other = data.draw(st.text(string.digits, min_size=5, max_size=5))
    assume(other not in record.zip_codes)
    with pytest.raises(DetailsMismatch):
        match(record, _request_for(record, zip_code=other))


def _request_for(record: ProviderRecord, **changes: object) -> RegistrationRequest:
    fields: dict[str, object] = {
        "name": record.name,
        "tax_id": record.tax_id,
        "zip_code": record.zip_codes[0],
        "provider_id": record.provider_id,
    }
    return practitioner(**{**fields, **changes})


# -- outcomes through the service ------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        practitioner(),
        practitioner(name="  JANE   q.  DOE ", tax_id="311 23 4567", zip_code="45402-9999"),
        practitioner(zip_code="45409"),  # the profile's second address
        practitioner(provider_id=" p1000001 "),
        practitioner(provider_id="", npi="1234567893"),  # a practitioner by NPI
        practitioner(npi="1234567893"),  # both, and they agree
        group(),
        group(provider_id="g2000001", tax_id="317654321", provider_type="Group"),
    ],
)
def test_matching_details_register_a_pending_account(
    service: IdentityService,
    accounts: MemoryAccountRepository,
    clock: ManualClock,
    request_: RegistrationRequest,
) -> None:
    """Any formatting of the record's details registers, and the agreement is recorded."""
    view = service.register(request_).account
    assert view.status is AccountStatus.PENDING
    assert view.provider_id in {"P1000001", "G2000001"}
    stored = accounts.get(view.id)
    assert stored is not None
    assert (stored.agreement_version, stored.agreement_accepted_at) == ("1", clock.now())


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (LineOfBusiness.MEDICAID, (MEDICAID,)),
        (LineOfBusiness.MARKETPLACE, (MARKETPLACE,)),
        (None, (MEDICAID, MARKETPLACE)),
    ],
)
@pytest.mark.parametrize(
    "changes", [{"provider_id": "P9999999"}, {"provider_id": "", "npi": "1245319599"}]
)
def test_unknown_provider_names_the_help_line_to_call(
    service: IdentityService,
    changes: dict[str, str],
    line: LineOfBusiness | None,
    expected: tuple[tuple[str, str], ...],
) -> None:
    """'Provider does not exist' gives the line of business's help line, or both when unknown."""
    with pytest.raises(ProviderNotFound) as caught:
        service.register(practitioner(line_of_business=line, **changes))
    assert caught.value.help_lines == expected
    assert caught.value.code == "provider_not_found"
    for _, number in expected:
        assert number in caught.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Jane Doe"},
        {"tax_id": "31-1234568"},
        {"zip_code": "45403"},
        {"npi": "1245319599"},  # valid NPI, but not this provider's
        {"provider_id": "", "npi": "1234567893", "tax_id": "317654321"},
    ],
)
def test_details_that_differ_from_the_record_are_refused(
    service: IdentityService,
    accounts: MemoryAccountRepository,
    mailer: RecordingMailer,
    changes: dict[str, str],
) -> None:
    """The record exists but one detail differs: 'does not match', nothing stored or sent."""
    with pytest.raises(DetailsMismatch) as caught:
        service.register(practitioner(**changes))
    assert caught.value.code == "details_mismatch"
    assert "must match exactly" in caught.value.message
    assert (len(accounts), mailer.messages) == (0, [])


@pytest.mark.parametrize("category", list(ProviderCategory))
def test_group_registration_is_open_only_to_the_seeds_categories(
    category: ProviderCategory,
) -> None:
    """A Group may register for the seed's specialties and facilities; others as Practitioner."""
    record = ProviderRecord(
        provider_id="G1", tax_id="311111111", name="Lab", zip_codes="45402", category=category
    )
    as_group = _request_for(record, provider_type=ProviderType.GROUP)
    if category in GROUP_ELIGIBLE_CATEGORIES:
        assert match(record, as_group) == record
    else:
        with pytest.raises(NotEligibleForGroup) as caught:
            match(record, as_group)
        assert "register as a Practitioner" in caught.value.message
    assert match(record, _request_for(record)) == record


def test_primary_care_group_is_told_to_register_as_practitioner(
    service: IdentityService,
) -> None:
    """The seed's Family Medicine group may not register as a Group."""
    request = group(
        name="Family Medicine Partners",
        tax_id="31-5550000",
        zip_code="43215",
        provider_id="G3000001",
    )
    with pytest.raises(NotEligibleForGroup):
        service.register(request)


PRIMARY_CARE_GROUP = group(
    name="Family Medicine Partners", tax_id="31-5550000", zip_code="43215", provider_id="G3000001"
)


@pytest.mark.parametrize(
    ("categories", "listed", "unlisted"),
    [
        ({ProviderCategory.HOSPITAL}, ["hospitals"], ["radiologists", "skilled nursing"]),
        (
            {ProviderCategory.RADIOLOGY, ProviderCategory.LABORATORY},
            ["radiologists and laboratory providers"],
            ["pathologists", "hospitals", "facilities"],
        ),
        (
            {ProviderCategory.HOSPITAL, ProviderCategory.PATHOLOGY, ProviderCategory.SPECIALIST},
            ["pathologists, specialists and hospitals"],
            ["radiologists", "skilled nursing"],
        ),
        (set(), ["not available"], ["radiologists", "hospitals"]),
    ],
)
def test_the_not_eligible_message_lists_the_configured_categories(
    make_service: Callable[..., IdentityService],
    categories: set[ProviderCategory],
    listed: list[str],
    unlisted: list[str],
) -> None:
    """The refusal names the categories the service lets register as a Group, no others."""
    service = make_service(group_categories=frozenset(categories))
    with pytest.raises(NotEligibleForGroup) as caught:
        service.register(PRIMARY_CARE_GROUP)
    message = caught.value.message
    assert all(words in message for words in listed), message
    assert not any(words in message for words in unlisted), message
    assert message.endswith("Please register as a Practitioner.")


def test_the_default_not_eligible_message_is_the_seeds(service: IdentityService) -> None:
    """With the default categories the refusal is the seed's sentence, word for word."""
    with pytest.raises(NotEligibleForGroup) as caught:
        service.register(PRIMARY_CARE_GROUP)
    assert caught.value.message == (
        "Group registration is available for radiologists, anesthesiologists, pathologists, "
        "hospitalists, emergency room/urgent care and laboratory providers, and facilities "
        "such as hospitals and skilled nursing facilities. Please register as a Practitioner."
    )


@pytest.mark.parametrize(
    "second",
    [
        practitioner(username="jane2", email="j2@example.org"),
        practitioner(provider_id="", npi="1234567893", username="jane2", email="j2@example.org"),
    ],
)
def test_a_provider_registers_only_once(
    service: IdentityService, mailer: RecordingMailer, second: RegistrationRequest
) -> None:
    """A second account for the same provider is 'already registered', by ID or by NPI."""
    first = service.register(practitioner())
    service.activate(mailer.last_token())
    with pytest.raises(AlreadyRegistered) as caught:
        service.register(second)
    assert "log in" in caught.value.message
    assert caught.value.pending is False
    assert service.accounts.get(first.account.id) is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "JDOE"}, "username"),
        ({"username": "ｊｄｏｅ"}, "username"),
        ({"email": "JANE.DOE@EXAMPLE.ORG"}, "email"),
        ({"username": "jane.doe@example.org"}, "username"),  # another account's email
    ],
)
def test_taken_usernames_and_emails_are_unavailable(
    service: IdentityService, changes: dict[str, str], field: str
) -> None:
    """Usernames and emails are unique in canonical form, and across each other."""
    service.register(practitioner())
    with pytest.raises(UsernameUnavailable) as caught:
        service.register(group(**changes))
    assert caught.value.field == field


def test_every_field_error_is_reported_at_once(
    service: IdentityService, accounts: MemoryAccountRepository, mailer: RecordingMailer
) -> None:
    """One submission learns about every bad field, and nothing is stored or sent."""
    request = RegistrationRequest(
        provider_type="dentist",
        name="",
        tax_id="31-12345",
        zip_code="4540",
        npi="1234567890",
        username="x",
        password="short",
        email="not-an-email",
        security_question="Favourite colour?",
        security_answer="",
        agreement_confirmed=False,
        line_of_business="Medicaid",  # type: ignore[arg-type]  # a str, not the enum
    )
    with pytest.raises(InvalidInput) as caught:
        service.register(request)
    assert not isinstance(caught.value, PasswordRejected)
    assert caught.value.fields == {
        "provider_type",
        "name",
        "tax_id",
        "zip_code",
        "npi",
        "username",
        "password",
        "email",
        "security_question",
        "security_answer",
        "agreement_confirmed",
        "line_of_business",
    }
    assert (len(accounts), mailer.messages) == (0, [])


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"provider_id": "", "npi": ""}, "provider_id", "required"),
        ({"tax_id": "３１-1234567"}, "tax_id", "invalid_format"),
        ({"zip_code": "٤٥٤٠٢"}, "zip_code", "invalid_format"),
        ({"npi": "1234567890"}, "npi", "invalid_check_digit"),
        ({"password": "alllowercase1!"}, "password", "missing_uppercase"),
    ],
)
def test_single_field_errors_name_the_field(
    service: IdentityService, changes: dict[str, str], field: str, code: str
) -> None:
    """A practitioner needs a Provider ID or an NPI; identifiers are ASCII; NPIs are checked."""
    with pytest.raises(InvalidInput) as caught:
        service.register(practitioner(**changes))
    assert (field, code) in [(error.field, error.code) for error in caught.value.errors]


def test_group_requires_a_provider_id_even_with_an_npi(service: IdentityService) -> None:
    """A Group registers with its Provider ID; an NPI does not replace it."""
    with pytest.raises(InvalidInput) as caught:
        service.register(group(provider_id="", npi="1234567893"))
    assert [(e.field, e.code) for e in caught.value.errors] == [("provider_id", "required")]


# -- what a registration gives access to -----------------------------------------------


def test_group_sees_every_record_under_its_tax_id_live(
    service: IdentityService, directory: MemoryProviderDirectory
) -> None:
    """A Group's providers are read at each call: a record added later is listed, others not."""
    account = service.register(group()).account
    before = [r.provider_id for r in service.accessible_providers(account.id)]
    directory.upsert(
        [ProviderRecord(provider_id="P2000009", tax_id="31-7654321", name="Lee", zip_codes="45440")]
    )
    after = [r.provider_id for r in service.accessible_providers(account.id)]
    assert before == ["G2000001", "P2000002", "P2000003"]
    assert after == [*before, "P2000009"]
    assert {r.tax_id for r in service.accessible_providers(account.id)} == {"317654321"}


def test_practitioner_sees_only_its_own_record(
    service: IdentityService, directory: MemoryProviderDirectory
) -> None:
    """A Practitioner sees itself, even when others share its Tax ID."""
    account = service.register(practitioner()).account
    directory.upsert(
        [ProviderRecord(provider_id="P1000002", tax_id="311234567", name="Sam", zip_codes="45402")]
    )
    assert [r.provider_id for r in service.accessible_providers(account.id)] == ["P1000001"]


# -- secrets in reprs ------------------------------------------------------------------

FULL_TAX_ID_FORMS = ("311234567", "31-1234567", "31123", "1234567", "234567")


@pytest.mark.parametrize(
    "value",
    [
        practitioner(),
        practitioner(tax_id="311234567"),
        parse(practitioner()),
        ProviderRecord(provider_id="P1", tax_id="31-1234567", name="Jane", zip_codes="45402"),
    ],
    ids=["request", "request-unformatted", "details", "record"],
)
def test_reprs_show_only_the_tax_ids_last_four_digits(value: object) -> None:
    """A Tax ID may be an SSN: request, details and record reprs show its last 4 digits only."""
    shown = repr(value)
    assert "4567" in shown
    assert not [form for form in FULL_TAX_ID_FORMS if form in shown]


def test_request_repr_hides_password_and_answer() -> None:
    """Neither the password nor the security answer appears in a request's repr."""
    shown = repr(practitioner(password="Blue-Heron-2031", security_answer="Marmaduke"))
    assert "Blue-Heron-2031" not in shown
    assert "Marmaduke" not in shown


def test_validate_registration_returns_the_normalised_values_and_hides_secrets() -> None:
    """The validator gives the canonical username, email and answer; its repr shows no secret."""
    valid = validate_registration(
        practitioner(username="  JDoe ", email="Jane.Doe@Example.org", security_answer=" REX "),
        password_policy=PasswordPolicy(),
        security_questions=SecurityQuestions(),
    )
    assert (valid.username, valid.username_key) == ("JDoe", "jdoe")
    assert valid.email.key == "jane.doe@example.org"
    assert valid.answer == "rex"
    assert valid.details.provider_id == "P1000001"
    assert valid.password == PASSWORD
    assert PASSWORD not in repr(valid)
    assert "rex" not in repr(valid).lower()


def test_a_registration_password_holding_the_mailbox_is_rejected(
    service: IdentityService,
) -> None:
    """The address before the @ counts as an identifier when registering, as the user name does."""
    with pytest.raises(PasswordRejected) as caught:
        service.register(practitioner(password="Kestrel-Jane.Doe-2040"))
    assert [(error.field, error.code) for error in caught.value.errors] == [
        ("password", "contains_identifier")
    ]
