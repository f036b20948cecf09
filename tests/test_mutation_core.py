"""The core modules' exact outputs and refusals, written out by hand.

Events, errors, fields, accounts, registration, passwords, i18n, security
questions, mail: each test pins words, values or boundaries that mutation
testing found unpinned by the fast suite (several were only covered by
tests/adapters, which mutants do not run).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from provider_identity import (
    AccountLocked,
    AccountStatus,
    Action,
    AlreadyRegistered,
    AuditEvent,
    Branding,
    CanonicalEmail,
    ConfigurationError,
    InvalidInput,
    InvalidTransition,
    LoggingEventSink,
    MessageKind,
    NotEligibleForGroup,
    PasswordPolicy,
    PasswordUse,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    RegistrationMatcher,
    SecurityQuestions,
    StoreUnavailable,
    Templates,
    TicketInvalid,
    TooManyAttempts,
    mask_email,
)
from provider_identity._fields import to_tuple
from provider_identity.events import (
    EventFilter,
    from_json_line,
    stored_form,
    to_json_line,
    write_json_lines,
)
from provider_identity.i18n import listing, negotiate
from provider_identity.mail import (
    email_change_message,
    email_change_notice_message,
    password_changed_message,
    security_answer_changed_message,
    username_reminder_message,
)
from provider_identity.registration import RegistrationTicket
from provider_identity.testing import MemoryProviderDirectory
from tests.adapters.builders import make_account

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def full_event() -> AuditEvent:
    """An event with every field set, one value outside ASCII."""
    return AuditEvent(
        action=Action.LOGIN,
        outcome="invalid_credentials",
        at=AT,
        username="josé",
        account_id="a1",
        client_address="203.0.113.7",
        detail={"zone": "b", "agent": "a"},
    )


# -- events: the JSON lines ------------------------------------------------------------


def test_a_json_line_has_sorted_keys_and_keeps_non_ascii_text() -> None:
    """Keys in sorted order, detail as an object, "josé" as typed (not \\u00e9)."""
    assert to_json_line(full_event()) == (
        '{"account_id": "a1", "action": "login", "at": "2026-01-05T09:00:00+00:00", '
        '"client_address": "203.0.113.7", "detail": {"agent": "a", "zone": "b"}, '
        '"outcome": "invalid_credentials", "username": "josé"}'
    )


def test_a_json_line_reads_back_as_the_same_event() -> None:
    """Every field survives the round trip, the time as an aware UTC datetime."""
    back = from_json_line(to_json_line(full_event()))
    assert back == full_event()
    assert back.at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert back.detail == (("agent", "a"), ("zone", "b"))


def test_a_json_line_that_is_no_object_is_refused_in_words() -> None:
    """A JSON list or string is no event: ValueError saying what a line must be."""
    for line in ("[1, 2]", '"login"'):
        with pytest.raises(ValueError, match=r"^an audit event line is a JSON object$"):
            from_json_line(line)


def test_writing_json_lines_writes_one_line_each_and_counts_them() -> None:
    """Two events: two lines, each ending in a line break, and the count 2."""
    out = io.StringIO()
    second = AuditEvent(action=Action.REGISTER, outcome="success", at=AT)
    assert write_json_lines([full_event(), second], out) == 2
    assert out.getvalue() == (
        to_json_line(full_event())
        + "\n"
        + '{"account_id": null, "action": "register", "at": "2026-01-05T09:00:00+00:00", '
        '"client_address": null, "detail": {}, "outcome": "success", "username": null}\n'
    )
    assert write_json_lines([], io.StringIO()) == 0


# -- events: what a persisted trail keeps ----------------------------------------------


def test_the_stored_form_keeps_the_last_four_digits_of_a_tax_id_everywhere() -> None:
    """Nine digits, 12-3456789 and 123-45-6789 all become *****6789; empty detail stays empty."""
    event = AuditEvent(
        action=Action.LOGIN,
        outcome="success",
        at=AT,
        username="123456789",
        account_id="123456789",
        client_address="12-3456789",
        detail={"typed": "id 123-45-6789 here", "blank": ""},
    )
    assert stored_form(event) == AuditEvent(
        action=Action.LOGIN,
        outcome="success",
        at=AT,
        username="*****6789",
        account_id="123456789",
        client_address="*****6789",
        detail={"typed": "id *****6789 here", "blank": ""},
    )


def test_the_stored_form_hides_a_password_hash() -> None:
    """An argon2 hash in a username becomes [redacted]; a missing username stays missing."""
    event = AuditEvent(
        action=Action.LOGIN, outcome="success", at=AT, username="x $argon2id$v=19$m=1$abc y"
    )
    assert stored_form(event).username == "x [redacted] y"
    assert stored_form(AuditEvent(action=Action.LOGIN, outcome="success", at=AT)).username is None


# -- events: the log line --------------------------------------------------------------


class Records(logging.Handler):
    """Keeps the records a logger hands over."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_audit_log_record_has_one_fixed_template() -> None:
    """The record's msg is "%s" and the line its argument, so aggregators group every event."""
    handler = Records()
    logger = logging.Logger("test-mutation-audit", logging.DEBUG)
    logger.addHandler(handler)
    LoggingEventSink(logger=logger).emit(AuditEvent(action=Action.LOGIN, outcome="success", at=AT))
    [record] = handler.records
    line = "action=login outcome=success at=2026-01-05T09:00:00+00:00"
    assert (record.msg, record.args) == ("%s", (line,))
    assert record.getMessage() == line


# -- events: the query filter ----------------------------------------------------------


def refusal(**arguments: object) -> tuple[str, str, str]:
    """The field, code and message of the one error ``EventFilter.of`` raises."""
    with pytest.raises(InvalidInput) as caught:
        EventFilter.of(**arguments)
    [error] = caught.value.errors
    return error.field, error.code, error.message


def test_the_filter_keeps_what_it_was_given() -> None:
    """Account, username, both times in UTC and the limit, as passed."""
    plus_two = timezone(timedelta(hours=2))
    query = EventFilter.of(
        account_id="a1",
        username="jdoe",
        since=datetime(2026, 1, 5, 11, 0, tzinfo=plus_two),
        until=datetime(2026, 1, 6, 11, 0, tzinfo=plus_two),
        limit=0,
    )
    assert query == EventFilter(
        account_id="a1",
        username="jdoe",
        since=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        until=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
        limit=0,
    )


def test_the_filter_takes_identifiers_of_1024_characters_and_refuses_1025() -> None:
    """account_id and username: text up to 1024 characters, each refused by its own name."""
    assert EventFilter.of(account_id="a" * 1024, username="u" * 1024).username == "u" * 1024
    for field in ("account_id", "username"):
        assert refusal(**{field: "a" * 1025}) == (field, "invalid", f"{field} must be text.")
        assert refusal(**{field: 7}) == (field, "invalid", f"{field} must be text.")


def test_the_filter_refuses_naive_or_non_time_bounds() -> None:
    """since and until must be aware datetimes: naive ones and text are refused by name."""
    for field in ("since", "until"):
        expected = (field, "invalid", f"{field} must be an aware datetime.")
        assert refusal(**{field: datetime(2026, 1, 5, 9, 0)}) == expected
        assert refusal(**{field: "2026-01-05T09:00:00+00:00"}) == expected


def test_the_filter_limit_is_a_whole_number_from_zero() -> None:
    """0 and 1 pass; -1, True, 1.0 and "1" are refused with the same words."""
    assert EventFilter.of(limit=0).limit == 0
    assert EventFilter.of(limit=1).limit == 1
    expected = ("limit", "invalid", "limit must be a whole number >= 0.")
    for bad in (-1, True, 1.0, "1"):
        assert refusal(limit=bad) == expected


def test_a_username_filter_matches_that_username_only() -> None:
    """jdoe's event passes a jdoe filter; another user's and an anonymous one do not."""
    query = EventFilter.of(username="jdoe")
    assert query.matches(AuditEvent(action=Action.LOGIN, outcome="success", at=AT, username="jdoe"))
    assert not query.matches(
        AuditEvent(action=Action.LOGIN, outcome="success", at=AT, username="rpatel")
    )
    assert not query.matches(AuditEvent(action=Action.LOGIN, outcome="success", at=AT))


# -- errors and fields -----------------------------------------------------------------


def fail_as_an_adapter_does() -> None:
    """Raise StoreUnavailable while handling the driver's error, as the SQL adapter does."""
    try:
        raise OSError("INSERT ... VALUES ('123-45-6789')")
    except OSError:
        StoreUnavailable.raise_unchained()


def test_store_unavailable_raised_in_an_except_block_carries_no_context() -> None:
    """The driver's error (which may quote values) is neither the cause nor the context."""
    with pytest.raises(StoreUnavailable) as caught:
        fail_as_an_adapter_does()
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
    assert caught.value.message == (
        "The service is temporarily unavailable. Please try again in a few minutes."
    )


LOCKED = (
    "Your account is locked due to too many incorrect login attempts. Use the Forgot "
    "password? link to reset your password, or wait {} and attempt to log in again."
)


def test_a_wait_is_stated_in_whole_seconds_rounded_up_and_never_zero() -> None:
    """No wait and 0.2 s both read "1 second"; 2 s reads "2 seconds"."""
    for wait in (timedelta(0), timedelta(milliseconds=200)):
        assert TooManyAttempts("login", wait).message == (
            "Too many attempts. Please wait 1 second and try again."
        )
    assert TooManyAttempts("login", timedelta(seconds=2)).message == (
        "Too many attempts. Please wait 2 seconds and try again."
    )


def test_a_lock_of_two_days_or_more_is_stated_in_days() -> None:
    """1 day is "24 hours"; 2 and 3 days are "2 days" and "3 days"; 2 days and 1 s are seconds."""
    until = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    words = {
        timedelta(days=1): "24 hours",
        timedelta(days=2): "2 days",
        timedelta(days=3): "3 days",
        timedelta(days=2, seconds=1): "172801 seconds",
    }
    for duration, wait in words.items():
        assert AccountLocked(until, lock_duration=duration).message == LOCKED.format(wait)


PENDING = (
    "This provider has a registration waiting for activation. The activation email went "
    "to j***@e***.org; use Resend Activation Email, or register again after March 5, 2026."
)
SIGNED_UP = "You are already registered. Please go to the Provider Login page and log in."


def test_a_pending_registration_names_the_masked_address_and_the_date() -> None:
    """Pending, with its expiry and masked address: the sentence with both; attributes kept."""
    expires = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    error = AlreadyRegistered(pending=True, expires_at=expires, masked_email="j***@e***.org")
    assert error.message == PENDING
    assert (error.pending, error.expires_at, error.masked_email) == (True, expires, "j***@e***.org")


def test_the_pending_sentence_needs_pending_the_date_the_address_and_no_message() -> None:
    """Missing any one of them, the seed's "already registered" (or the given) message stands."""
    expires = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert AlreadyRegistered(masked_email="j***@e***.org").message == SIGNED_UP
    assert AlreadyRegistered(pending=True, masked_email="j***@e***.org").message == SIGNED_UP
    assert AlreadyRegistered(pending=True, expires_at=expires).message == SIGNED_UP
    assert AlreadyRegistered(expires_at=expires, masked_email="j***@e***.org").message == SIGNED_UP
    given = AlreadyRegistered(
        "Call us.", pending=True, expires_at=expires, masked_email="j***@e***.org"
    )
    assert given.message == "Call us."


def test_to_tuple_takes_a_lone_string_as_one_item() -> None:
    """ "abc" is one item, not three; a list or a generator gives its items in order."""
    assert to_tuple("abc") == ("abc",)
    assert to_tuple(["a", "b"]) == ("a", "b")
    assert to_tuple(word for word in ("x", "y")) == ("x", "y")
    assert to_tuple([]) == ()


# -- accounts --------------------------------------------------------------------------


def test_a_masked_address_splits_at_the_last_at_sign() -> None:
    """A quoted local part may hold an @: the domain is what follows the last one."""
    assert mask_email('"j@d"@example.org') == '"***@e***.org'


def test_switching_the_address_ends_the_pending_request() -> None:
    """with_email sets the address and key and drops the pending change."""
    email = CanonicalEmail("Jane@New.example.org", "jane@new.example.org")
    account = make_account(1, status=AccountStatus.ACTIVE)
    pending = account.with_pending_email(email, nonce="n1", now=AT)
    assert pending.pending_email is not None
    switched = pending.with_email(email.address, email.key)
    assert (switched.email, switched.email_key) == ("Jane@New.example.org", "jane@new.example.org")
    assert switched.pending_email is None


def test_a_new_security_answer_sets_both_question_and_hash() -> None:
    """The question and the answer's hash are the ones given; nothing else changes."""
    account = make_account(2)
    changed = account.with_security_answer("In what city were you born?", "$argon2id$new")
    assert changed.security_question == "In what city were you born?"
    assert changed.security_answer_hash == "$argon2id$new"
    assert changed.credential_version == account.credential_version


# -- registration ----------------------------------------------------------------------


def test_a_ticket_payload_needs_text_and_a_known_provider_type() -> None:
    """A known type with a text Provider ID reads back; anything else is TicketInvalid."""
    assert RegistrationTicket.from_payload({"r": "P1", "t": "group"}) == RegistrationTicket(
        provider_id="P1", provider_type=ProviderType.GROUP
    )
    for payload in ({"r": "P1", "t": "bogus"}, {"r": 5, "t": "group"}, {"r": "P1", "t": 5}, {}):
        with pytest.raises(TicketInvalid):
            RegistrationTicket.from_payload(payload)


def test_a_ticket_of_a_category_no_longer_eligible_names_the_plans_categories() -> None:
    """A plan's own category reads with spaces for its underscores, after the seed's words."""
    record = ProviderRecord(
        provider_id="P1",
        tax_id="123456789",
        name="Acme Clinic",
        zip_codes=["45402"],
        category=ProviderCategory.PRIMARY_CARE,
    )
    matcher = RegistrationMatcher(
        directory=MemoryProviderDirectory([record]),
        group_categories=frozenset({ProviderCategory.HOSPITAL, ProviderCategory("home_dialysis")}),
    )
    with pytest.raises(NotEligibleForGroup) as caught:
        matcher.match_ticket(RegistrationTicket(provider_id="P1", provider_type=ProviderType.GROUP))
    assert caught.value.message == (
        "Group registration is available for hospitals and home dialysis providers. "
        "Please register as a Practitioner."
    )


# -- security questions ----------------------------------------------------------------


def test_questions_that_are_no_list_of_text_are_refused_by_their_full_name() -> None:
    """Bytes or a list holding a number: "SecurityQuestions.questions must be a list of text." """
    for bad in (b"pet?", [1]):
        with pytest.raises(ConfigurationError) as caught:
            SecurityQuestions(questions=bad)  # type: ignore[arg-type]  # wrong on purpose
        assert caught.value.message == "SecurityQuestions.questions must be a list of text."


# -- passwords -------------------------------------------------------------------------


def codes(password: str) -> list[str]:
    """The codes of the rules ``password`` breaks under the default policy."""
    return [violation.code for violation in PasswordPolicy().check(password)]


def test_a_four_key_walk_with_padding_is_a_common_pattern() -> None:
    """ "sdfg" (not a common word) is a walk of exactly 4 keys: refused with its year and marks."""
    assert codes("Sdfg2024!!!!") == ["common_pattern"]
    assert codes("Xsdfg2024!!!") == ["common_pattern"]


def test_two_letters_left_after_a_season_are_no_walk() -> None:
    """ "Summer-xy-2024!" passes: "xy" is too short to be a keyboard walk."""
    assert codes("Summer-xy-2024!") == []


def test_a_checklist_for_a_plain_string_use_is_refused_in_words() -> None:
    """use="change" (not PasswordUse.CHANGE) is refused on the use field, code wrong_type."""
    with pytest.raises(InvalidInput) as caught:
        PasswordPolicy().requirements("change")  # type: ignore[arg-type]  # wrong on purpose
    [error] = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "use",
        "wrong_type",
        "use must be a PasswordUse or None.",
    )


def test_each_requirement_says_where_it_applies() -> None:
    """The length rule applies to both uses; the history rule to a change only."""
    both = frozenset({PasswordUse.REGISTRATION, PasswordUse.CHANGE})
    requirements = {item.code: item.applies_to for item in PasswordPolicy().requirements()}
    assert requirements["too_short"] == both
    assert requirements["too_long"] == both
    assert requirements["reused"] == frozenset({PasswordUse.CHANGE})


# -- i18n ------------------------------------------------------------------------------


def test_a_listing_joins_with_and_unless_told_or() -> None:
    """Three items: "a, b and c" by default; "a or b or c" with "or"."""
    assert listing(["a", "b", "c"]) == "a, b and c"
    assert listing(["a", "b", "c"], "or") == "a or b or c"


def test_negotiation_reads_the_first_32_items_only() -> None:
    """es as the 32nd item is chosen; as the 33rd it is not looked at."""
    assert negotiate(",".join(["xx"] * 31 + ["es"]), default="en") == "es"
    assert negotiate(",".join(["xx"] * 32 + ["es"]), default="en") == "en"


def test_negotiation_skips_bad_items_and_goes_on() -> None:
    """A malformed tag or weight is passed over: the next good tag still counts."""
    assert negotiate("??, es", default="en") == "es"
    assert negotiate("en;q=1.2.3, es", default="fr") == "es"


def test_negotiation_weighs_an_absent_q_as_1_and_q_0_as_not_at_all() -> None:
    """A tie goes to the earlier tag; q=0 means "not this"."""
    assert negotiate("es;q=1, en", default="fr") == "es"
    assert negotiate("en;q=1, es", default="fr") == "en"
    assert negotiate("es;q=0", default="en") == "en"
    assert negotiate("es;q=0.001", default="en") == "es"


# -- mail ------------------------------------------------------------------------------


def plain(message: EmailMessage) -> str:
    """The text body of ``message``."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_notices_are_written_in_the_locale_asked_for() -> None:
    """Subject and greeting of each notice in Spanish when locale="es"."""
    branding = Branding()
    args = {"to": "j@example.org", "username": "jdoe", "now": AT, "locale": "es"}
    expected = [
        (password_changed_message(branding, **args), "Se cambió su contraseña de Provider Portal"),
        (
            email_change_message(branding, token="t", **args),
            "Confirme su nueva dirección de correo electrónico de Provider Portal",
        ),
        (
            email_change_notice_message(branding, **args),
            "Su dirección de correo electrónico de Provider Portal va a cambiar",
        ),
        (
            security_answer_changed_message(branding, **args),
            "Se cambió su pregunta de seguridad de Provider Portal",
        ),
    ]
    for message, subject in expected:
        assert message["Subject"] == subject
        assert plain(message).startswith("Hola, jdoe:\n\n")
    reminder = username_reminder_message(branding, **args)
    assert reminder["Subject"] == "Nombre de usuario de CareSource Provider Portal"
    assert plain(reminder).startswith(
        "Hola:\n\nUsted pidió el nombre de usuario de su cuenta de "
        "CareSource Provider Portal: jdoe."
    )


def test_branding_at_trims_only_slashes_from_the_base() -> None:
    """A base ending in a capital X keeps it; the trailing slash goes."""
    branding = Branding.at("https://portal.example/OX/")
    assert branding.login_url == "https://portal.example/OX/login"
    assert branding.activation_url == "https://portal.example/OX/activate?token={token}"


@pytest.fixture
def latin1_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files opened without an encoding are read as Latin-1, as on such a machine."""
    real = io.text_encoding

    def text_encoding(encoding: str | None, stacklevel: int = 2) -> str:
        return "latin-1" if encoding is None else real(encoding, stacklevel)

    monkeypatch.setattr(io, "text_encoding", text_encoding)


@pytest.mark.usefixtures("latin1_machine")
def test_template_files_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """An "é" saved as UTF-8 comes back as "é", not "Ã©", on a Latin-1 machine."""
    (tmp_path / "activation.txt").write_bytes("Café $username: $link\n".encode())
    templates = Templates.from_directory(tmp_path)
    assert templates.text[MessageKind.ACTIVATION] == "Café $username: $link\n"


def test_a_transition_from_the_wrong_state_says_both_states() -> None:
    """Activating an active account: the refusal names the state it is in and the one needed."""
    active = make_account(1).activated(AT)
    with pytest.raises(InvalidTransition) as caught:
        active.activated(AT)
    assert caught.value.message == "The account is active, not pending."
