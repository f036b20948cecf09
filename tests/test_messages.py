"""What users and operators read: each refusal names its field and its rule, in the seed's words.

These tests pin the default wording (mutation testing showed that a changed
label or a blanked message went unnoticed while the error code stayed right).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo

import argon2
import pytest

from provider_identity import (
    NIST_POLICY,
    RFC_9106_LOW_MEMORY,
    ConcurrentUpdate,
    ConfigurationError,
    InvalidInput,
    LockoutPolicy,
    PasswordHasher,
    PasswordPolicy,
    PasswordRejected,
    ProviderDetails,
    ProviderNotFound,
    SecurityQuestions,
    TokenIssuer,
    TokenPurpose,
    UsernameUnavailable,
)
from provider_identity._fields import CONTROLS, checked_text
from provider_identity.accounts import canonical_email, canonical_username
from provider_identity.clock import SystemClock, ensure_utc
from provider_identity.providers import (
    ProviderRecord,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)
from tests.helpers import KEY, group, practitioner


def only_error(call: Callable[[], object]) -> tuple[str, str, str]:
    """``(field, code, message)`` of the single field error ``call`` raises."""
    with pytest.raises(InvalidInput) as caught:
        call()
    (error,) = caught.value.errors
    return error.field, error.code, error.message


def says(pattern: str, err: pytest.ExceptionInfo[ConfigurationError]) -> bool:
    """The configuration error names the setting and its rule as whole words."""
    return re.search(pattern, err.value.message) is not None and str(err.value) == (
        err.value.message
    )


NORMALISERS = [
    (normalize_tax_id, "tax_id", "Tax ID"),
    (normalize_zip, "zip_code", "ZIP Code"),
    (normalize_provider_id, "provider_id", "Provider ID"),
    (normalize_npi, "npi", "NPI"),
]


@pytest.mark.parametrize(("normalize", "field", "label"), NORMALISERS)
def test_identifier_refusals_name_the_field_in_the_forms_words(
    normalize: Callable[..., str], field: str, label: str
) -> None:
    """Not text, blank and oversized identifiers each say which field and why."""
    assert only_error(lambda: normalize(42)) == (field, "wrong_type", f"{label} must be text.")
    assert only_error(lambda: normalize("   ")) == (field, "required", f"{label} is required.")
    assert only_error(lambda: normalize("1" * 65)) == (
        field,
        "too_long",
        f"{label} must be at most 64 characters.",
    )


def test_name_refusals_name_the_field_in_the_forms_words() -> None:
    """Names are limited to 200 characters and say so; controls are named too."""
    assert only_error(lambda: normalize_name(None)) == ("name", "wrong_type", "Name must be text.")
    assert only_error(lambda: normalize_name(" \t")) == ("name", "required", "Name is required.")
    assert only_error(lambda: normalize_name("a" * 201)) == (
        "name",
        "too_long",
        "Name must be at most 200 characters.",
    )
    assert only_error(lambda: normalize_name("Jane\x00Doe")) == (
        "name",
        "invalid_characters",
        "Name contains characters that are not allowed.",
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda: normalize_tax_id("12-345678"),
            ("tax_id", "invalid_format", "Tax ID must be 9 digits, e.g. 12-3456789."),
        ),
        (
            lambda: normalize_zip("4540"),
            ("zip_code", "invalid_format", "ZIP Code must be 5 digits or ZIP+4."),
        ),
        (
            lambda: normalize_provider_id("P-1000 01"),
            ("provider_id", "invalid_format", "Provider ID must be letters and digits."),
        ),
        (
            lambda: normalize_npi("123456789"),
            ("npi", "invalid_format", "NPI must be 10 digits."),
        ),
        (
            lambda: normalize_npi("1234567890"),
            ("npi", "invalid_check_digit", "This NPI is not valid; please check it."),
        ),
    ],
)
def test_format_refusals_state_the_rule(
    call: Callable[[], object], expected: tuple[str, str, str]
) -> None:
    """A malformed identifier's message says what the field must look like."""
    assert only_error(call) == expected


def test_a_record_without_zip_codes_says_it_needs_one() -> None:
    """An empty ZIP list is refused on the record's zip_codes field."""
    assert only_error(
        lambda: ProviderRecord(provider_id="P1", tax_id="123456789", name="A", zip_codes=())
    ) == ("zip_codes", "required", "A provider record needs at least one ZIP code.")


def test_record_zip_refusals_name_the_records_field() -> None:
    """A bad ZIP in a record is reported on zip_codes, not on a request's zip_code."""
    field, code, message = only_error(
        lambda: ProviderRecord(provider_id="P1", tax_id="123456789", name="A", zip_codes=["x"])
    )
    assert (field, code, message) == (
        "zip_codes",
        "invalid_format",
        ("ZIP Code must be 5 digits or ZIP+4."),
    )


def test_lockout_settings_refusals_name_the_setting_and_the_rule() -> None:
    """Out-of-range lockout settings name the setting and the allowed range."""
    with pytest.raises(ConfigurationError) as too_many:
        LockoutPolicy(max_failures=101)
    assert says(r"\bmax_failures\b.*\b1\b.*\b100\b", too_many)
    with pytest.raises(ConfigurationError) as negative:
        LockoutPolicy(lock_duration=timedelta(0))
    assert says(r"\block_duration\b.*\blonger than 0:00:00\b", negative)


def test_token_settings_refusals_name_the_rule() -> None:
    """A short key or lifetime is refused with the minimum it needs."""
    with pytest.raises(ConfigurationError) as short_key:
        TokenIssuer(current=b"k" * 31)
    assert says(
        r"^TokenIssuer\.current: signing keys\b.*\bat least 32 bytes\b.*"
        r"secrets\.token_bytes\(32\)\.$",
        short_key,
    )
    with pytest.raises(ConfigurationError) as short_life:
        TokenIssuer(current=KEY, lifetimes={TokenPurpose.PASSWORD_RESET: timedelta(0)})
    assert says(
        r"^TokenIssuer\.lifetimes: password-reset tokens\b.*\bat least 1 second\b", short_life
    )


def field_errors(check: Callable[[], object]) -> list[tuple[str, str, str]]:
    """Every ``(field, code, message)`` that ``check`` refuses with (none if it returns)."""
    try:
        check()
    except InvalidInput as refused:
        return [(error.field, error.code, error.message) for error in refused.errors]
    return []


PET = "What is your first pet's name?"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (7, ("security_answer", "wrong_type", "Security Answer must be text.")),
        ("  ", ("security_answer", "required", "Security Answer is required.")),
        (
            "x" * 129,
            ("security_answer", "too_long", "Security Answer must be at most 128 characters."),
        ),
        (
            "Re\x07x",
            (
                "security_answer",
                "invalid_characters",
                "Security Answer contains characters that are not allowed.",
            ),
        ),
    ],
)
def test_security_answer_refusals_name_the_field(
    answer: object, expected: tuple[str, str, str]
) -> None:
    """An unusable answer is refused under the form's label, with the rule it breaks."""
    questions = SecurityQuestions(questions=(PET,))
    assert field_errors(lambda: questions.validate(PET, answer)) == [expected]


def test_an_unknown_question_asks_for_one() -> None:
    """A question not on the list asks the user to select one."""
    questions = SecurityQuestions(questions=(PET,))
    assert field_errors(lambda: questions.validate("Other?", "Rex")) == [
        ("security_question", "unknown_question", "Please select a Security Question.")
    ]


def test_a_bad_question_list_is_refused_with_the_rule() -> None:
    """Blank questions are a configuration error naming what questions must be."""
    with pytest.raises(ConfigurationError) as caught:
        SecurityQuestions(questions=("  ",))
    assert says(r"^SecurityQuestions\.questions\b.*\bnon-empty\b.*\bnon-blank\b", caught)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            practitioner(provider_type="doctor"),
            ("provider_type", "required", "Select Practitioner or Group."),
        ),
        (
            group(provider_id="  ", npi="1234567893"),
            ("provider_id", "required", "Provider ID is required for a Group."),
        ),
        (
            practitioner(provider_id="", npi=""),
            ("provider_id", "required", "Provider ID or NPI is required."),
        ),
        (
            practitioner(line_of_business="Medicaid"),
            ("line_of_business", "wrong_type", "Line of business is not valid."),
        ),
    ],
)
def test_registration_refusals_say_what_is_missing(
    request_: object, expected: tuple[str, str, str]
) -> None:
    """Each missing or unusable provider detail says what the form needs."""
    assert field_errors(lambda: ProviderDetails.parse(request_)) == [  # type: ignore[arg-type]
        expected
    ]


def test_registration_field_errors_come_with_the_fields_label() -> None:
    """A bad identifier in a request is reported with its own label; no details come back."""
    parsed: list[object] = []
    assert field_errors(
        lambda: parsed.append(ProviderDetails.parse(practitioner(tax_id="", zip_code="x")))
    ) == [
        ("tax_id", "required", "Tax ID is required."),
        ("zip_code", "invalid_format", "ZIP Code must be 5 digits or ZIP+4."),
    ]
    assert parsed == []  # refused: no details come back


def test_password_refusals_use_the_seed_wording() -> None:
    """Each broken rule is listed in the words printed beside the password field."""
    assert [(v.code, v.message) for v in PasswordPolicy().check("\x01")] == [
        ("too_short", "Must be a minimum of 12 characters."),
        ("control_character", "Must not contain control characters."),
        ("missing_lowercase", "Must contain one lowercase letter."),
        ("missing_uppercase", "Must contain one uppercase letter."),
        ("missing_digit", "Must contain one digit."),
        ("missing_symbol", "Must contain one non-alphanumeric character."),
    ]
    assert [(v.code, v.message) for v in PasswordPolicy().check("Aa1!" * 33)] == [
        ("too_long", "Must be at most 128 characters.")
    ]
    assert [(v.code, v.message) for v in PasswordPolicy().check(1234)] == [
        ("wrong_type", "Password must be text.")
    ]


def test_password_word_rules_use_the_seed_wording() -> None:
    """Identifier, context-word and blocklist refusals say what the password may not be."""
    policy = PasswordPolicy(blocklist=NIST_POLICY.blocklist, reject_common_patterns=False)
    assert [(v.code, v.message) for v in policy.check("Jdoe-CareSource-1", username="jdoe")] == [
        ("contains_identifier", "Must not contain your user name or email address."),
        (
            "contains_context_word",
            "Must not contain the name of the organisation, the portal or a plan.",
        ),
    ]
    assert [(v.code, v.message) for v in policy.check("Password1234!")] == [
        ("blocklisted", "Must not be a commonly used password.")
    ]


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"max_length": 63}, r"^PasswordPolicy\.max_length must be an integer of at least 64\.$"),
        ({"min_length": 0}, r"^PasswordPolicy\.min_length\b.*\bat least 1\b"),
        ({"history": -1}, r"^PasswordPolicy\.history\b.*\bat least 0\b"),
        ({"min_length": 65, "max_length": 64}, r"^min_length\b.*\bexceed max_length\b"),
    ],
)
def test_password_settings_refusals_name_the_setting(changes: dict[str, int], pattern: str) -> None:
    """An unsafe password setting names itself and its limit."""
    with pytest.raises(ConfigurationError) as caught:
        PasswordPolicy(**changes)  # type: ignore[arg-type]
    assert says(pattern, caught)


@pytest.mark.parametrize("tax_id", [42, None, b"123456789"])
def test_a_tax_id_that_is_not_text_shows_as_such_in_a_repr(tax_id: object) -> None:
    """Logs show "<not text>" for a Tax ID typed as anything but text, and never its value."""
    shown = repr(practitioner(tax_id=tax_id))
    assert "tax_id=<not text>," in shown
    assert "123456789" not in shown


def test_the_password_requirements_read_as_the_seed_prints_them() -> None:
    """Every line beside the password field, in order, for the seed's policy."""
    assert PasswordPolicy().describe() == (
        "Must be a minimum of 12 characters",
        "Must contain one lowercase letter, one uppercase letter, one digit and one "
        "non-alphanumeric character.",
        "Must be at most 128 characters",
        "Must not contain your user name or email address",
        "Must not contain CareSource, Provider, Portal, Medicaid, Marketplace",
        "Must not be a common word, season or keyboard pattern with digits or symbols added",
        "Must not be one of your last 5 passwords",
    )


def test_validate_refuses_a_password_holding_the_username_or_the_email() -> None:
    """validate applies the identifier rule to the username and the email it is given."""
    for identifiers in ({"username": "jdoe"}, {"email": "jdoe@example.org"}):
        with pytest.raises(PasswordRejected) as caught:
            PasswordPolicy().validate("Blue-Jdoe-2031x", **identifiers)
        assert [(e.field, e.code, e.message) for e in caught.value.errors] == [
            ("password", "contains_identifier", "Must not contain your user name or email address.")
        ]


@pytest.mark.parametrize("password", ["zqvbnmtrewplkjh", "ZQVBNMTREWPLKJH", "730194826350174"])
def test_the_nist_preset_has_no_composition_rules(password: str) -> None:
    """NIST: 15 characters of a single kind are enough."""
    assert NIST_POLICY.check(password) == ()


@pytest.mark.parametrize(
    ("parameters", "pattern"),
    [
        ("m=65536,t=3,p=4", r"^parameters must be argon2\.Parameters\.$"),
        (
            replace(RFC_9106_LOW_MEMORY, type=argon2.Type.I),
            r"^PasswordHasher uses argon2id only\.$",
        ),
        (
            replace(RFC_9106_LOW_MEMORY, time_cost=1),
            r"^argon2 parameters below the OWASP floor \(m=19 MiB, t=2, p=1\); "
            r"name TEST_ONLY_CHEAPEST explicitly for test suites\.$",
        ),
    ],
)
def test_hasher_settings_refusals_name_the_rule(parameters: object, pattern: str) -> None:
    """Parameters that are not argon2's say what they must be."""
    with pytest.raises(ConfigurationError) as caught:
        PasswordHasher(parameters=parameters)  # type: ignore[arg-type]
    assert says(pattern, caught)


def test_an_unknown_provider_is_told_every_help_line() -> None:
    """The seed's sentence, then each number with its line of business, joined by "or"."""
    err = ProviderNotFound((("Medicaid", "1-855-202-1058"), ("Marketplace", "1-833-230-2030")))
    assert err.message == (
        "The provider does not exist in Provider Portal. Please call the help line at "
        "1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace)."
    )


def test_a_taken_email_is_named_as_the_email() -> None:
    """A used email address is not reported as an unavailable user name."""
    assert UsernameUnavailable("email").message == (
        "That email address is already used by another account."
    )
    assert UsernameUnavailable().message == (
        "That user name is not available. Please choose another."
    )


def test_a_change_of_identifiers_is_refused_in_words() -> None:
    """A write that would change an account's identifiers says they do not change."""
    assert ConcurrentUpdate.identifiers_changed().message == (
        "Usernames, emails and providers of an account do not change."
    )


class _NoOffset(tzinfo):
    """A time zone that does not know its offset: as good as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_naive_datetimes_are_refused_with_the_fix() -> None:
    """No tzinfo, or one without an offset, is naive; the message says what to pass."""
    for naive in (datetime(2025, 1, 1), datetime(2025, 1, 1, tzinfo=_NoOffset())):
        with pytest.raises(
            ValueError, match=r"^naive datetime: pass an aware datetime \(e\.g\. tzinfo=UTC\)$"
        ):
            ensure_utc(naive)


def test_the_system_clock_reads_aware_utc() -> None:
    """SystemClock().now() is aware and in UTC."""
    assert SystemClock().now().utcoffset() == timedelta(0)


@pytest.mark.parametrize("controls_ok", [True, False])
def test_a_lone_surrogate_is_refused_even_where_controls_are_allowed(controls_ok: bool) -> None:
    """Lone surrogates never encode, so no text field accepts one."""
    refused = ("Cs",) if controls_ok else CONTROLS
    assert field_errors(
        lambda: checked_text("note", "a\ud800b", label="Note", max_length=10, refused=refused)
    ) == [("note", "invalid_characters", "Note contains characters that are not allowed.")]


def test_controls_pass_only_where_they_are_allowed() -> None:
    """controls_ok lets a bell character through; without it the field refuses it."""
    assert (
        field_errors(
            lambda: checked_text("note", "a\x07b", label="Note", max_length=10, refused=("Cs",))
        )
        == []
    )
    assert field_errors(lambda: checked_text("note", "a\x07b", label="Note", max_length=10)) == [
        ("note", "invalid_characters", "Note contains characters that are not allowed.")
    ]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: canonical_username(42), ("username", "wrong_type", "User Name must be text.")),
        (
            lambda: canonical_username("jane doe"),
            (
                "username",
                "invalid_characters",
                "User Name may not contain spaces or invisible characters.",
            ),
        ),
        (lambda: canonical_email(42), ("email", "wrong_type", "Email must be text.")),
        (
            lambda: canonical_email("jane\u200b@example.org"),
            ("email", "invalid_characters", "Email contains characters that are not allowed."),
        ),
        (
            lambda: canonical_email("jane.example.org"),
            ("email", "invalid_email", "Please enter a valid email address."),
        ),
    ],
)
def test_account_identifier_refusals_use_the_forms_labels(
    call: Callable[[], object], expected: tuple[str, str, str]
) -> None:
    """User Name and Email refusals name the field as the form labels it."""
    assert only_error(call) == expected
