"""The mail's exact wording and headers, and the words of each branding refusal.

Written out here (not built from the library's templates), so a changed
sentence, label or header is noticed (mutation testing of mail.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from provider_identity import Branding, ConfigurationError, MessageKind, Templates
from provider_identity.mail import (
    account_locked_message,
    activation_message,
    email_change_message,
    email_change_notice_message,
    email_verification_message,
    password_changed_message,
    password_reset_message,
    security_answer_changed_message,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SIGNATURE = "-- webmaster, CareSource Provider Portal"
ABSOLUTE = "must be an absolute http(s) URL."
ONCE = "must contain {token} exactly once."


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies of ``message``."""
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None
    assert markup is not None
    return str(text.get_content()), str(markup.get_content())


def test_the_activation_email_reads_as_the_seed_asks() -> None:
    """Greeting, the registration sentence, the Activate Account link and the signature."""
    message = activation_message(
        Branding(), to="jane@example.org", username="jdoe", token="a/b", now=NOW
    )
    text, markup = parts(message)
    link = "https://provider-portal.example/activate?token=a%2Fb"
    assert text == (
        "Hello jdoe,\n\n"
        "Thank you for registering for the CareSource Provider Portal. "
        "Click Activate Account to activate your user account.\n\n"
        f"Activate Account: {link}\n\n{SIGNATURE}\n"
    )
    assert markup == (
        "<!DOCTYPE html>\n<html><body>\n"
        "<p>Hello jdoe,</p>\n"
        "<p>Thank you for registering for the CareSource Provider Portal. "
        "Click Activate Account to activate your user account.</p>\n"
        f'<p><a href="{link}">Activate Account</a></p>\n'
        f"<p>{SIGNATURE}</p>\n</body></html>\n"
    )


def test_the_other_emails_read_as_written() -> None:
    """Verification, reset and password-changed bodies, word for word."""
    login = "https://provider-portal.example/login"
    verification = email_verification_message(
        Branding(), to="jane@example.org", username="jdoe", now=NOW
    )
    assert parts(verification)[0] == (
        "Hello jdoe,\n\nYour email address is verified and your Provider Portal account is "
        f"active. Click Login to access the Provider Portal.\n\nLogin: {login}\n\n{SIGNATURE}\n"
    )
    reset = password_reset_message(
        Branding(), to="jane@example.org", username="jdoe", token="t", now=NOW
    )
    assert parts(reset)[0] == (
        "Hello jdoe,\n\nWe received a request to reset your Provider Portal password. "
        "If you did not ask for it, ignore this message; your password stays as it is.\n\n"
        "Reset Password: https://provider-portal.example/reset-password?token=t\n\n"
        f"{SIGNATURE}\n"
    )
    changed = password_changed_message(Branding(), to="jane@example.org", username="jdoe", now=NOW)
    text, markup = parts(changed)
    assert text == (
        "Hello jdoe,\n\nThe password of your Provider Portal account was just changed. "
        "If this was not you, use the Forgot password? link on the login page at once "
        f"and call the help line.\n\nLogin: {login}\n\n{SIGNATURE}\n"
    )
    assert f'<p><a href="{login}">Login</a></p>' in markup


def test_headers_name_the_sender_the_recipient_the_date_and_the_senders_domain() -> None:
    """From is 'webmaster <address>', Date is the clock's, Message-ID on the sender's domain."""
    branding = Branding(sender_address="noreply@mail.acme.example")
    message = email_verification_message(branding, to="jane@example.org", username="j", now=NOW)
    assert message["From"] == "webmaster <noreply@mail.acme.example>"
    assert message["To"] == "jane@example.org"
    assert message["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"
    assert message["Message-ID"].endswith("@mail.acme.example>")
    assert message.get_content_type() == "multipart/alternative"


def test_a_subject_may_use_the_sender_name_and_the_username() -> None:
    """Every placeholder is filled in a subject, the sender's name among them."""
    branding = Branding(
        sender_name="Acme Team", verification_subject="$sender_name: $portal_name for $username"
    )
    message = email_verification_message(branding, to="a@example.org", username="jdoe", now=NOW)
    assert message["Subject"] == "Acme Team: Provider Portal for jdoe"


def test_a_subject_with_a_line_break_is_refused_in_words() -> None:
    """The refusal names the message kind's subject and the characters."""
    branding = Branding(reset_subject="Reset for $username")
    with pytest.raises(ConfigurationError) as caught:
        password_reset_message(branding, to="a@example.org", username="a\nb", token="t", now=NOW)
    assert caught.value.message == "the password_reset subject may not contain CR or LF."


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("organisation", " ", "Branding.organisation must be non-blank text."),
        ("sender_name", 7, "Branding.sender_name must be non-blank text."),
        ("portal_name", "a\0b", "Branding.portal_name may not contain CR, LF or NUL."),
        ("login_url", "mailto:x@example.org", f"Branding.login_url {ABSOLUTE}"),
        ("login_url", "https://", f"Branding.login_url {ABSOLUTE}"),
        ("reset_url", "https://p.example/r", f"Branding.reset_url {ONCE}"),
        ("templates", "text", "Branding.templates must be a Templates or a callable."),
        (
            "activation_subject",
            "Hi $password",
            "Branding.activation_subject: placeholders must be among "
            "$link, $organisation, $portal_name, $sender_name, $username, $wait.",
        ),
    ],
)
def test_branding_refusals_say_which_setting_and_why(
    field: str, value: object, message: str
) -> None:
    """Each refusal names the setting and its rule, in these words."""
    with pytest.raises(ConfigurationError) as caught:
        Branding(**{field: value})  # type: ignore[arg-type]  # one field at a time
    assert caught.value.message == message


def test_names_with_any_letter_are_accepted() -> None:
    """Only CR, LF and NUL are refused in a name: 'X' and 'x' are letters like any other."""
    branding = Branding(organisation="Xenia Health", portal_name="Portal X")
    assert (branding.organisation, branding.portal_name) == ("Xenia Health", "Portal X")


def test_plain_http_links_are_accepted() -> None:
    """http:// is allowed (a development portal), as https:// is."""
    branding = Branding(login_url="http://localhost:8000/login")
    assert branding.login_url == "http://localhost:8000/login"


def test_a_template_with_a_broken_placeholder_is_refused_in_words() -> None:
    """'$' alone is not a placeholder: the refusal names the body and the allowed names."""
    with pytest.raises(ConfigurationError) as caught:
        Templates(html={"activation": "costs $ 5"})
    assert caught.value.message == (
        "Templates.html[activation]: placeholders must be among "
        "$link, $organisation, $portal_name, $sender_name, $username, $wait."
    )


def test_html_values_are_escaped_quotes_included() -> None:
    """A username with quotes and markup is escaped in HTML, kept as it is in text."""
    text, markup = Templates().render(
        MessageKind.ACTIVATION,
        {
            "username": '<b>"O\'Hara"</b>',
            "link": "https://p.example/a",
            "organisation": "Acme",
            "portal_name": "Portal",
            "sender_name": "web",
        },
    )
    assert text.startswith('Hello <b>"O\'Hara"</b>,')
    assert "<p>Hello &lt;b&gt;&quot;O&#x27;Hara&quot;&lt;/b&gt;,</p>" in markup


def test_templates_from_a_folder_read_both_parts_and_keep_the_rest(tmp_path: Path) -> None:
    """activation.txt and password_reset.html replace those bodies only; UTF-8 is read as such."""
    (tmp_path / "activation.txt").write_text("Grüß $username\n", encoding="utf-8")
    (tmp_path / "password_reset.html").write_text("<p>$link</p>", encoding="utf-8")
    (tmp_path / "verification.txt").mkdir()  # not a file: ignored
    templates = Templates.from_directory(str(tmp_path))
    assert templates.text[MessageKind.ACTIVATION] == "Grüß $username\n"
    assert templates.html[MessageKind.PASSWORD_RESET] == "<p>$link</p>"
    assert templates.text[MessageKind.VERIFICATION] == Templates().text[MessageKind.VERIFICATION]
    assert templates.html[MessageKind.ACTIVATION] == Templates().html[MessageKind.ACTIVATION]


def test_a_missing_template_folder_is_named_in_the_refusal(tmp_path: Path) -> None:
    """The refusal quotes the folder's name (not its whole path)."""
    with pytest.raises(ConfigurationError) as caught:
        Templates.from_directory(tmp_path / "my-templates")
    assert caught.value.message == "template folder 'my-templates' does not exist."


def test_a_callable_renderer_gets_the_kind_and_every_value() -> None:
    """A renderer other than Templates is called with the kind and the filled-in names."""
    seen: list[tuple[MessageKind, dict[str, str]]] = []

    def render(kind: MessageKind, values: object) -> tuple[str, str]:
        seen.append((kind, dict(values)))  # type: ignore[call-overload]  # a Mapping
        return "plain", "<p>html</p>"

    message = email_verification_message(
        Branding(templates=render), to="a@example.org", username="jdoe", now=NOW
    )
    assert parts(message) == ("plain\n", "<p>html</p>\n")
    assert seen == [
        (
            MessageKind.VERIFICATION,
            {
                "username": "jdoe",
                "link": "https://provider-portal.example/login",
                "organisation": "CareSource",
                "portal_name": "Provider Portal",
                "sender_name": "webmaster",
                "wait": "",
            },
        )
    ]


def test_the_email_change_messages_read_as_written() -> None:
    """The new address gets the Confirm Email Address link; the old one a notice."""
    link = "https://provider-portal.example/confirm-email?token=t%2B1"
    confirm = email_change_message(
        Branding(), to="new@example.org", username="jdoe", token="t+1", now=NOW
    )
    assert confirm["To"] == "new@example.org"
    assert confirm["Subject"] == "Confirm Your New Provider Portal Email Address"
    assert parts(confirm)[0] == (
        "Hello jdoe,\n\nYou asked to use this address for your Provider Portal account. "
        "Click Confirm Email Address to make the change; until then the old address stays."
        f"\n\nConfirm Email Address: {link}\n\n{SIGNATURE}\n"
    )
    notice = email_change_notice_message(Branding(), to="old@example.org", username="jdoe", now=NOW)
    assert notice["To"] == "old@example.org"
    assert notice["Subject"] == "Your Provider Portal Email Address Is Changing"
    assert parts(notice)[0] == (
        "Hello jdoe,\n\nSomeone asked to change the email address of your Provider Portal "
        "account; a confirmation link went to the new address. If this was not you, change "
        "your password at once and call the help line.\n\n"
        f"Login: https://provider-portal.example/login\n\n{SIGNATURE}\n"
    )


def test_the_security_answer_and_lock_notices_read_as_written() -> None:
    """The answer-changed notice, and the lock notice with the seed's advice and the wait."""
    login = "https://provider-portal.example/login"
    answer = security_answer_changed_message(
        Branding(), to="jane@example.org", username="jdoe", now=NOW
    )
    assert answer["To"] == "jane@example.org"
    assert answer["Subject"] == "Your Provider Portal Security Question Was Changed"
    assert parts(answer)[0] == (
        "Hello jdoe,\n\nThe security question and answer of your Provider Portal account were "
        "just changed. If this was not you, change your password at once and call the help "
        f"line.\n\nLogin: {login}\n\n{SIGNATURE}\n"
    )
    locked = account_locked_message(
        Branding(), to="jane@example.org", username="jdoe", now=NOW, wait="24 hours"
    )
    assert locked["To"] == "jane@example.org"
    assert locked["Subject"] == "Your Provider Portal Account Is Locked"
    text, markup = parts(locked)
    assert text == (
        "Hello jdoe,\n\nYour Provider Portal account is locked due to too many incorrect login "
        "attempts. Use the Forgot password? link to reset your password, or wait 24 hours and "
        f"attempt to log in again.\n\nLogin: {login}\n\n{SIGNATURE}\n"
    )
    assert f'<p><a href="{login}">Login</a></p>' in markup


def test_subject_fills_in_the_brandings_names_on_its_own() -> None:
    """Branding.subject, called directly, knows $organisation, $portal_name and $sender_name."""
    branding = Branding(organisation="Acme", portal_name="Hub", sender_name="Team")
    assert branding.subject("$organisation $portal_name by $sender_name") == "Acme Hub by Team"
    assert branding.subject("$portal_name for $username", username="jdoe") == "Hub for jdoe"


def test_templates_made_now_have_the_default_html_body() -> None:
    """A Templates built in the test (not at import) renders the default HTML word for word."""
    _, markup = Templates().render(
        MessageKind.VERIFICATION,
        {
            "username": "jdoe",
            "link": "https://p.example/login",
            "organisation": "Acme",
            "portal_name": "Hub",
            "sender_name": "web",
            "wait": "",
        },
    )
    assert markup == (
        "<!DOCTYPE html>\n<html><body>\n"
        "<p>Hello jdoe,</p>\n"
        "<p>Your email address is verified and your Hub account is active. "
        "Click Login to access the Hub.</p>\n"
        '<p><a href="https://p.example/login">Login</a></p>\n'
        "<p>-- web, Acme Hub</p>\n</body></html>\n"
    )
