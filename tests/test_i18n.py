"""Translations: the catalogue, the Spanish wording, and the English text left as it was."""

from __future__ import annotations

import os
import pickle
import re
import runpy
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider_identity import (
    SEED_POLICY,
    Branding,
    IdentityService,
    PasswordPolicy,
    errors,
)
from provider_identity.errors import FieldError, IdentityError
from provider_identity.i18n import (
    Text,
    current_locale,
    listing,
    locales,
    msg,
    msg_plural,
    negotiate,
    supported_locale,
    translate,
    use_locale,
)
from provider_identity.mail import MessageKind, Templates, account_locked_message
from provider_identity.mail import activation_message as activation
from provider_identity.passwords import (
    VIOLATION_CODES,
    PasswordUse,
    StaticBlocklist,
    reused_violation,
)
from provider_identity.testing import RecordingMailer
from provider_identity.web import error_view, password_checklist
from tests.helpers import practitioner

babel = pytest.importorskip("babel", reason="Babel (the dev extra) extracts the catalogue")

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = runpy.run_path(str(ROOT / "scripts" / "update-catalogue"))
SPANISH_PO = CATALOGUE["LOCALE_DIR"] / "es" / "LC_MESSAGES" / "messages.po"

#: ``{name}`` fields and ``$name`` / ``${name}`` placeholders of a message.
_DOLLAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


# Under mutmut the source holds every mutant's copy of each function.
reads_the_source = pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ,
    reason="mutmut rewrites the source, so its messages are not the catalogue's",
)


def placeholders(text: str) -> set[str]:
    """The names a message fills in, of either style."""
    braces = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    return braces | {"$" + (a or b) for a, b in _DOLLAR.findall(text)}


def spanish() -> Any:
    return CATALOGUE["read"](SPANISH_PO, locale="es")


def ids(catalog: Any) -> set[Any]:
    return {message.id for message in catalog if message.id}


# -- the catalogue files ------------------------------------------------------------------


@reads_the_source
def test_the_template_holds_exactly_the_messages_of_the_source() -> None:
    """messages.pot is what scripts/update-catalogue extracts now (run it after an edit)."""
    committed = CATALOGUE["read"](CATALOGUE["TEMPLATE"])
    assert ids(committed) == ids(CATALOGUE["extract"]())
    assert len(ids(committed)) > 150


def test_every_message_has_a_spanish_translation_with_the_same_placeholders() -> None:
    """Complete, not fuzzy, two plural forms; every {name} and $name kept."""
    catalog = spanish()
    assert ids(catalog) == ids(CATALOGUE["read"](CATALOGUE["TEMPLATE"]))
    assert CATALOGUE["problems"](catalog) == []
    assert catalog.num_plurals == 2
    for message in catalog:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*map(placeholders, sources))
        for target in targets:
            assert target.strip(), message.id
            # A singular may leave the count out ("su última contraseña"), never add a name.
            found = placeholders(target)
            assert found <= wanted, (message.id, target)
            assert found == wanted or isinstance(message.id, tuple), (message.id, target)


def test_the_compiled_catalogue_is_the_compilation_of_the_po() -> None:
    """The committed .mo is what the .po compiles to (runtime reads the .mo)."""
    assert SPANISH_PO.with_suffix(".mo").read_bytes() == CATALOGUE["mo_bytes"](spanish())


@reads_the_source
def test_the_files_are_as_the_script_writes_them() -> None:
    """Re-running the script changes nothing: no stray edits, the header not fuzzy."""
    template = CATALOGUE["extract"]()
    assert CATALOGUE["TEMPLATE"].read_bytes() == CATALOGUE["po_bytes"](template)
    assert SPANISH_PO.read_bytes() == CATALOGUE["po_bytes"](
        CATALOGUE["updated"](SPANISH_PO, template)
    )
    assert not spanish().fuzzy


def test_the_extraction_finds_both_marker_forms(tmp_path: Path) -> None:
    """msg's first argument and msg_plural's first two; nothing else."""
    source = tmp_path / "sample.py"
    source.write_text(
        'msg("one {x}", x=1)\nmsg_plural("a {count} day", "{count} days", count=2)\n'
        'message("not this")\nprint("nor this")\n'
    )
    found = [
        message
        for _, _, message, _, _ in babel.messages.extract.extract_from_dir(
            tmp_path, method_map=[("**.py", "python")], keywords=CATALOGUE["KEYWORDS"]
        )
    ]
    assert found == ["one {x}", ("a {count} day", "{count} days")]


# -- Text, translate, locales -------------------------------------------------------------


def test_a_text_is_its_english_wording() -> None:
    """A message is the English str it always was, with its id and parameters beside it."""
    text = msg("Must be a minimum of {min} characters.", min=14)
    assert text == "Must be a minimum of 14 characters."
    assert isinstance(text, Text)
    assert hash(text) == hash("Must be a minimum of 14 characters.")
    assert text.msgid == "Must be a minimum of {min} characters."
    assert text.params == {"min": 14}


def test_translate_fills_in_the_parameters_of_the_spanish_wording() -> None:
    """The policy's number goes into the Spanish wording; English comes back as a plain str."""
    text = msg("Must be a minimum of {min} characters.", min=14)
    assert translate(text, "es") == "Debe tener un mínimo de 14 caracteres."
    assert translate(text, "en") == str(text)
    assert type(translate(text, "en")) is str


def test_text_that_is_not_a_message_is_shown_as_it_is() -> None:
    """An application's own text has no message id: it is not looked up."""
    assert translate("An app's own wording.", "es") == "An app's own wording."


def test_plural_forms_follow_the_count() -> None:
    """One hour, three hours; the reuse rule for a history of one says so in words."""
    one, many = (msg_plural("{count} hour", "{count} hours", count=n) for n in (1, 3))
    assert (one, many) == ("1 hour", "3 hours")
    assert (translate(one, "es"), translate(many, "es")) == ("1 hora", "3 horas")
    assert reused_violation(1).message == "Must not be your last password."
    assert translate(reused_violation(1).message, "es") == "No debe ser su última contraseña."


def test_nested_texts_and_listings_are_translated_part_by_part() -> None:
    """Listings keep the seed's English (a, b and c; a or b or c) and translate each item."""
    words = [msg("radiologists"), msg("hospitals"), msg("specialists")]
    assert listing(words) == "radiologists, hospitals and specialists"
    assert translate(listing(words), "es") == "radiólogos, hospitales y especialistas"
    assert listing(["1", "2", "3"], "or") == "1 or 2 or 3"
    assert translate(listing(["1", "2"], "or"), "es") == "1 o 2"
    assert listing([]) == ""
    assert listing(["only"]) == "only"


def test_a_text_survives_pickling_with_what_it_needs_to_be_translated() -> None:
    """An error sent to another process can still be shown in Spanish."""
    error = errors.AccountLocked(datetime(2026, 1, 1, tzinfo=UTC), lock_duration=timedelta(days=7))
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes
    assert copy.message == error.message
    assert "7 días" in translate(copy.message, "es")


@pytest.mark.parametrize(
    ("tag", "found"),
    [("es", "es"), ("ES", "es"), ("es-MX", "es"), ("es_419", "es"), ("en-US", "en"),
     ("fr", None), ("", None), (None, None), (7, None)],
)  # fmt: skip
def test_supported_locale(tag: object, found: str | None) -> None:
    """Tags in any case and separator; a region falls back to its language; junk is None."""
    assert supported_locale(tag) == found


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("fr-CH, fr;q=0.9, es;q=0.8, *;q=0.5", "es"),
        ("en;q=0.9, es", "es"),  # the weight decides, not the order
        ("es;q=0, en", "en"),  # q=0: not this one
        ("es;q=abc", "en"),
        ("de, fr", "en"),
        ("", "en"),
        (None, "en"),
        ("\x00garbage;;,", "en"),
    ],
)
def test_negotiate_reads_accept_language(header: str | None, chosen: str) -> None:
    """The highest q with a catalogue wins; q=0 refuses; anything else is English."""
    assert negotiate(header) == chosen


def test_an_unknown_locale_is_english() -> None:
    """No catalogue, no error: the English wording."""
    assert translate(errors.InvalidCredentials().message, "fr") == (
        "The user name or password is incorrect."
    )
    with use_locale("fr") as chosen:
        assert chosen == current_locale() == "en"


def test_use_locale_is_the_default_of_calls_naming_none() -> None:
    """Calls naming no locale use the block's; an explicit one wins; it ends with the block."""
    assert current_locale() == "en"
    with use_locale("es-MX"):
        assert current_locale() == "es"
        assert (
            error_view(errors.TokenExpired()).message == "Este enlace venció. Solicite uno nuevo."
        )
        assert error_view(errors.TokenExpired(), locale="en").message == (
            "This link has expired. Please request a new one."
        )
    assert current_locale() == "en"
    assert locales() == ("en", "es")


# -- every error and every rule, in both locales ------------------------------------------


def error_classes() -> Iterator[type[IdentityError]]:
    pending = [IdentityError]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__ == "provider_identity.errors":
            yield cls


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
waits = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400))
phones = st.from_regex(r"1-8\d\d-\d{3}-\d{4}", fullmatch=True)
help_lines = st.lists(st.tuples(st.sampled_from(["Medicaid", "Marketplace"]), phones), max_size=3)

REQUIRED = FieldError(
    field="x", code="required", message=msg("{label} is required.", label=msg("Name"))
)
#: How to build the errors whose constructor takes more than a message.
BUILDERS: dict[type[IdentityError], Callable[..., st.SearchStrategy[IdentityError]]] = {
    errors.InvalidInput: lambda cls: st.just(cls([REQUIRED])),
    errors.ProviderNotFound: lambda cls: st.builds(cls, help_lines),
    errors.AlreadyRegistered: lambda cls: st.builds(
        cls, pending=st.booleans(), expires_at=moments, masked_email=st.just("j***@e***.org")
    ),
    errors.UsernameUnavailable: lambda cls: st.builds(cls, st.sampled_from(["username", "email"])),
    errors.AccountLocked: lambda cls: st.builds(cls, moments, lock_duration=st.none() | waits),
    errors.SecurityAnswerMismatch: lambda cls: st.builds(cls, st.integers(0, 5)),
    errors.SecurityAnswerLocked: lambda cls: st.builds(cls, moments),
    errors.AbuseLimitError: lambda cls: st.builds(cls, st.just("login")),
    errors.TooManyAttempts: lambda cls: st.builds(cls, st.just("login"), waits),
    errors.HumanCheckRequired: lambda cls: st.builds(cls, st.just("login")),
    errors.FactorRequired: lambda cls: st.builds(cls, st.just("policy")),
    errors.MailDeliveryError: lambda cls: st.builds(cls, st.none() | st.just(550)),
}  # fmt: skip


def any_error() -> st.SearchStrategy[IdentityError]:
    def build(cls: type[IdentityError]) -> st.SearchStrategy[IdentityError]:
        for base in cls.__mro__:
            if base in BUILDERS:
                return BUILDERS[base](cls)
        return st.just(cls())

    return st.sampled_from(sorted(error_classes(), key=lambda cls: cls.__name__)).flatmap(build)


def assert_rendered(english: str, spanish: str) -> None:
    """Both filled in completely; the Spanish really is a translation."""
    for text in (english, spanish):
        assert not re.search(r"[{}$]", text), text
    assert spanish != english or not re.search(r"[a-z]{3}", english), english


@given(any_error())
def test_every_error_renders_in_both_locales(error: IdentityError) -> None:
    """Every error class, with any values, fills every placeholder in English and in Spanish."""
    english, spanish = error_view(error, locale="en"), error_view(error, locale="es")
    assert english == error_view(error)  # English unless a locale is chosen
    assert_rendered(english.message, spanish.message)
    for name, messages in english.fields.items():
        for en, es in zip(messages, spanish.field(name), strict=True):
            assert_rendered(en, es)
    assert [e.params for e in english.field_errors] == [e.params for e in spanish.field_errors]


def test_the_property_covers_every_error_class() -> None:
    """The walk above finds every exported error class."""
    assert len(list(error_classes())) == len(errors.__all__) - 1  # all but FieldError


policies = st.builds(
    PasswordPolicy,
    min_length=st.integers(1, 64),
    history=st.integers(0, 24),
    require_symbol=st.booleans(),
    require_digit=st.booleans(),
    blocklist=st.just(StaticBlocklist(["password123"])),
    min_length_with_second_factor=st.none(),
)


@given(policies)
def test_every_requirement_and_violation_renders_in_both_locales(policy: PasswordPolicy) -> None:
    """Any policy's rules are complete in both locales and state their numbers in both."""
    english, spanish = policy.requirements(locale="en"), policy.requirements(locale="es")
    assert [r.code for r in english] == [r.code for r in spanish]
    assert [r.params for r in english] == [r.params for r in spanish]
    codes = {r.code for r in english}
    assert codes >= VIOLATION_CODES - {
        "wrong_type",
        "control_character",
        "missing_digit",
        "missing_symbol",
    }
    for en, es in zip(english, spanish, strict=True):
        assert_rendered(en.message, es.message)
        stated = () if en.params == {"count": 1} else en.params.values()  # "your last password"
        for value in stated:  # the rule's number is stated in both
            assert str(value) in en.message
            assert str(value) in es.message
    for en_line, es_line in zip(
        policy.describe(locale="en"), policy.describe(locale="es"), strict=True
    ):
        assert_rendered(en_line, es_line)
    for violation in policy.check("\x00", username="jdoe1"):
        assert_rendered(violation.message, translate(violation.message, "es"))


def test_the_spanish_checklist_states_the_policys_numbers() -> None:
    """The checklist's messages carry this policy's 14 and 3, not the seed's 12 and 5."""
    policy = attrs.evolve(SEED_POLICY, min_length=14, history=3)
    checklist = password_checklist(policy, PasswordUse.CHANGE, locale="es")
    by_code = {line["code"]: line for line in checklist}
    assert by_code["too_short"]["message"] == "Debe tener un mínimo de 14 caracteres."
    assert by_code["too_short"]["params"] == {"min": 14}
    assert by_code["reused"]["message"] == "No debe ser ninguna de sus últimas 3 contraseñas."
    assert policy.describe(locale="es")[1] == (
        "Debe contener una letra minúscula, una letra mayúscula, un dígito y un carácter no "
        "alfanumérico."
    )


def test_a_spanish_error_view_keeps_field_codes_and_parameters() -> None:
    """Only the wording changes: codes and parameters stay for the page's script."""
    with pytest.raises(errors.PasswordRejected) as caught:
        attrs.evolve(SEED_POLICY, min_length=14).validate("Short1!")
    view = error_view(caught.value, locale="es")
    assert view.message == "La contraseña no cumple con los requisitos."
    assert view.field("password")[0] == "Debe tener un mínimo de 14 caracteres."
    assert view.field_errors[0].code == "too_short"
    assert view.field_errors[0].params == {"min": 14}


def test_spanish_errors_with_their_values() -> None:
    """The wait, the help lines and the expiry date, in Spanish; the English unchanged."""
    locked = errors.AccountLocked(
        datetime(2026, 1, 1, tzinfo=UTC), lock_duration=timedelta(minutes=1)
    )
    assert "espere 1 minuto e intente" in translate(locked.message, "es")
    missing = errors.ProviderNotFound(
        [("Medicaid", "1-855-202-1058"), ("Marketplace", "1-833-230-2030")]
    )
    assert translate(missing.message, "es") == (
        "El proveedor no existe en Provider Portal. Llame a la línea de ayuda al "
        "1-855-202-1058 (Medicaid) o 1-833-230-2030 (Marketplace)."
    )
    pending = errors.AlreadyRegistered(
        pending=True, expires_at=datetime(2026, 3, 5, tzinfo=UTC), masked_email="j***@e***.org"
    )
    assert translate(pending.message, "es").endswith("después del 5 de marzo de 2026.")
    assert pending.message.endswith("register again after March 5, 2026.")


# -- mail ---------------------------------------------------------------------------------


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, markup = (part.get_content() for part in message.iter_parts())
    return text, markup


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_spanish_activation_mail() -> None:
    """Subject, greeting, body and the link's label, in both parts."""
    message = activation(
        Branding(), to="j@example.org", username="jdoe", token="t", now=NOW, locale="es"
    )
    text, markup = bodies(message)
    assert message["Subject"] == "Active su cuenta de Provider Portal"
    assert text.startswith("Hola, jdoe:\n\nGracias por registrarse en CareSource Provider Portal.")
    assert "Activar cuenta: https://provider-portal.example/activate?token=t" in text
    assert '<a href="https://provider-portal.example/activate?token=t">Activar cuenta</a>' in markup


def test_the_lock_notice_states_the_wait_in_spanish() -> None:
    """The lock notice's $wait is translated with the body."""
    args = {"to": "j@example.org", "username": "jdoe", "now": NOW}
    message = account_locked_message(
        Branding(), **args, wait=msg_plural("{count} hour", "{count} hours", count=24), locale="es"
    )
    assert "o espere 24 horas e intente iniciar sesión de nuevo." in bodies(message)[0]
    english = account_locked_message(
        Branding(), **args, wait=msg_plural("{count} hour", "{count} hours", count=24)
    )
    assert "or wait 24 hours and attempt" in bodies(english)[0]


def test_mail_an_application_wrote_itself_is_not_translated() -> None:
    """A subject or body the application set is used as it is; the defaults beside it translate."""
    branding = Branding(
        activation_subject="Welcome to $portal_name",
        templates=Templates(text={MessageKind.ACTIVATION: "Hi $username: $link\n"}),
    )
    message = activation(
        branding, to="j@example.org", username="jdoe", token="t", now=NOW, locale="es"
    )
    assert message["Subject"] == "Welcome to Provider Portal"
    text, markup = bodies(message)
    assert text == "Hi jdoe: https://provider-portal.example/activate?token=t\n"
    assert "Activar cuenta" in markup  # the HTML body was left default, so it is translated


def test_the_flows_mail_in_the_current_locale(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """A flow run inside use_locale mails in that language; outside it, English."""
    with use_locale("es"):
        service.register(practitioner())
    message = mailer.last()
    assert message["Subject"] == "Active su cuenta de Provider Portal"
    assert "Haga clic en Activar cuenta" in bodies(message)[0]
    service.resend_activation("jdoe")  # outside the block: English
    assert mailer.last()["Subject"] == "Activate Your Provider Portal Account"


def test_a_spanish_second_factor_notice_counts_the_codes_left() -> None:
    """The notice, its warning and the plural of the recovery codes left, in Spanish."""
    from provider_identity.mfa.notices import FactorNotice, factor_notice

    args = {"to": "j@example.org", "username": "jdoe", "now": NOW, "locale": "es"}
    one = factor_notice(Branding(), FactorNotice.RECOVERY_CODE_USED, remaining=1, **args)
    text = bodies(one)[0]
    assert one["Subject"] == "Aviso de seguridad de Provider Portal"
    assert text.startswith("Hola, jdoe:\n\nSe usó un código de recuperación")
    assert "Le queda 1 código de recuperación." in text
    assert "Iniciar sesión: https://provider-portal.example/login" in text
    many = factor_notice(Branding(), FactorNotice.RECOVERY_CODE_USED, remaining=4, **args)
    assert "Le quedan 4 códigos de recuperación." in bodies(many)[0]
    english = factor_notice(
        Branding(), FactorNotice.RECOVERY_CODE_USED, to="j@example.org", username="jdoe", now=NOW
    )
    assert "Hello jdoe,\n\nA recovery code was used" in bodies(english)[0]
    assert "Recovery codes left" not in bodies(english)[0]
