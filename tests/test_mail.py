"""The portal's messages: sender, subjects, links, text and HTML parts, and where they go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import pytest

from provider_identity import (
    Branding,
    ConfigurationError,
    IdentityService,
    MessageKind,
    Templates,
)
from provider_identity.mail import (
    activation_message,
    email_verification_message,
    password_changed_message,
    password_reset_message,
)
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    RecordingMailer,
    message_link,
    message_text,
)
from tests.helpers import PASSWORD, practitioner

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "eyJhIjoxfQ.aGVsbG8.c2ln-_"
PORTAL = "https://provider-portal.example"

Builder = Callable[..., EmailMessage]

#: builder, takes a token, subject, link label, link
MESSAGES = [
    (
        activation_message,
        True,
        "Activate Your Provider Portal Account",
        "Activate Account",
        f"{PORTAL}/activate?token={TOKEN}",
    ),
    (email_verification_message, False, "Email Verification", "Login", f"{PORTAL}/login"),
    (
        password_reset_message,
        True,
        "CareSource Provider Portal Password",
        "Reset Password",
        f"{PORTAL}/reset-password?token={TOKEN}",
    ),
    (
        password_changed_message,
        False,
        "Your Provider Portal Password Was Changed",
        "Login",
        f"{PORTAL}/login",
    ),
]
BUILDERS = [(builder, takes_token) for builder, takes_token, *_ in MESSAGES]
IDS = ["activation", "verification", "reset", "changed"]


def build(
    builder: Builder,
    takes_token: bool,
    branding: Branding | None = None,
    *,
    username: str = "jdoe",
) -> EmailMessage:
    kwargs: dict[str, Any] = {"to": "jane@example.org", "username": username, "now": NOW}
    if takes_token:
        kwargs["token"] = TOKEN
    return builder(branding or Branding(), **kwargs)


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(("builder", "takes_token", "subject", "label", "link"), MESSAGES, ids=IDS)
def test_messages_carry_the_seeds_sender_subject_and_link(
    builder: Builder, takes_token: bool, subject: str, label: str, link: str
) -> None:
    """From 'webmaster', the seed's subject, and the labelled link in both parts."""
    message = build(builder, takes_token)
    [sender] = message["From"].addresses
    assert sender.display_name == "webmaster"
    assert sender.addr_spec == "webmaster@provider-portal.example"
    assert (message["To"], message["Subject"]) == ("jane@example.org", subject)
    assert parsedate_to_datetime(message["Date"]) == NOW
    assert message["Message-ID"].endswith("@provider-portal.example>")
    assert f"{label}: {link}" in message_text(message)
    assert message_link(message) == link
    assert f'<a href="{link}">{label}</a>' in html_part(message)


@pytest.mark.parametrize(("builder", "takes_token"), BUILDERS, ids=IDS)
def test_every_message_has_a_text_and_an_html_part(builder: Builder, takes_token: bool) -> None:
    """multipart/alternative with text/plain first and text/html second."""
    message = build(builder, takes_token)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert "Hello jdoe," in message_text(message)
    assert "Hello jdoe," in html_part(message)


@pytest.mark.parametrize(("builder", "takes_token"), BUILDERS, ids=IDS)
@pytest.mark.parametrize("username", ["<b>x", '"><script>alert(1)</script>', "a&b'c"])
def test_html_part_escapes_the_username(builder: Builder, takes_token: bool, username: str) -> None:
    """The username is markup-escaped in HTML and kept verbatim in the text part."""
    message = build(builder, takes_token, username=username)
    markup = html_part(message)
    assert username not in markup
    assert f"Hello {username}," in message_text(message)
    escaped = username.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.replace('"', "&quot;").replace("'", "&#x27;") in markup


def test_links_come_from_the_configured_templates_with_the_token_quoted() -> None:
    """Any absolute base URL works; the token is URL-quoted where {token} stands."""
    branding = Branding(
        activation_url="https://portal.acme.test/a/{token}/go",
        reset_url="http://localhost:8000/reset?t={token}&lang=en",
        login_url="https://portal.acme.test/sign-in",
    )
    activation = activation_message(
        branding, to="a@example.org", username="u", token="a/b+c=&d", now=NOW
    )
    reset = password_reset_message(branding, to="a@example.org", username="u", token=TOKEN, now=NOW)
    verification = email_verification_message(branding, to="a@example.org", username="u", now=NOW)
    assert message_link(activation) == "https://portal.acme.test/a/a%2Fb%2Bc%3D%26d/go"
    assert message_link(reset) == f"http://localhost:8000/reset?t={TOKEN}&lang=en"
    assert message_link(verification) == "https://portal.acme.test/sign-in"
    assert 'href="http://localhost:8000/reset?t=' + TOKEN + '&amp;lang=en"' in html_part(reset)


def test_branding_at_a_base_url_puts_every_link_under_it() -> None:
    """Branding.at: the default paths under the site's root (a trailing slash or not)."""
    branding = Branding.at("http://127.0.0.1:5000/", organisation="Acme")
    activation = activation_message(branding, to="a@example.org", username="u", token="t", now=NOW)
    assert message_link(activation) == "http://127.0.0.1:5000/activate?token=t"
    assert branding.reset_url == "http://127.0.0.1:5000/reset-password?token={token}"
    assert branding.email_change_url == "http://127.0.0.1:5000/confirm-email?token={token}"
    assert (branding.login_url, branding.organisation) == ("http://127.0.0.1:5000/login", "Acme")
    with pytest.raises(ConfigurationError, match="activation_url"):
        Branding.at("/portal")  # not absolute: refused like any link


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("organisation", "Acme\r\nBcc: victim@example.org"),
        ("portal_name", "Portal\n"),
        ("sender_name", "web\rmaster"),
        ("sender_address", "webmaster@example.org\nBcc: x@example.org"),
        ("sender_name", "web\0master"),
        ("organisation", ""),
        ("portal_name", "   "),
        ("reset_subject", "Reset\r\nBcc: x@example.org"),
        ("activation_subject", "Welcome $unknown"),
        ("activation_url", "https://portal.example/activate"),
        ("activation_url", "https://portal.example/{token}/{token}"),
        ("activation_url", "/activate?token={token}"),
        ("activation_url", "//portal.example/activate?token={token}"),
        ("reset_url", "ftp://portal.example/reset?token={token}"),
        ("reset_url", "javascript:alert(1)//{token}"),
        ("reset_url", "https:///reset?token={token}"),
        ("reset_url", "https://portal.example/reset?token={token}\r\n"),
        ("login_url", "/login"),
        ("login_url", "portal.example/login"),
    ],
)
def test_branding_refuses_unsafe_values(field: str, value: str) -> None:
    """Header injection (CR/LF/NUL), blank names, bad placeholders and non-absolute links."""
    with pytest.raises(ConfigurationError) as caught:
        Branding(**{field: value})  # type: ignore[arg-type]  # one str field
    assert isinstance(caught.value, ValueError)
    assert field in str(caught.value)


def test_subject_with_a_username_cannot_inject_headers() -> None:
    """A subject that uses $username refuses a username with a line break."""
    branding = Branding(activation_subject="Welcome $username")
    with pytest.raises(ConfigurationError):
        activation_message(
            branding, to="a@example.org", username="x\r\nBcc: b@example.org", token="t", now=NOW
        )
    good = activation_message(branding, to="a@example.org", username="Jane", token="t", now=NOW)
    assert good["Subject"] == "Welcome Jane"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Branding(organisation="Acme"),
        lambda: attrs.evolve(Branding(), organisation="Acme"),
    ],
    ids=["constructed", "evolved"],
)
def test_subjects_follow_the_organisation(make: Callable[[], Branding]) -> None:
    """Re-branding derives 'Acme Provider Portal Password', built or evolved alike."""
    branding = make()
    reset = build(password_reset_message, True, branding)
    activation = build(activation_message, True, branding)
    assert reset["Subject"] == "Acme Provider Portal Password"
    assert activation["Subject"] == "Activate Your Provider Portal Account"
    assert "Acme Provider Portal" in message_text(activation)


def test_custom_templates_replace_only_the_bodies_given() -> None:
    """A Templates override changes one body; the others keep the seed's wording."""
    branding = Branding(templates=Templates(text={MessageKind.ACTIVATION: "Hi $username: $link\n"}))
    activation = build(activation_message, True, branding)
    reset = build(password_reset_message, True, branding)
    assert message_text(activation) == f"Hi jdoe: {PORTAL}/activate?token={TOKEN}\n"
    assert "Reset Password:" in message_text(reset)
    with pytest.raises(ConfigurationError):
        Templates(text={MessageKind.ACTIVATION: "Hi $password"})


# -- through the service: mail goes to the stored address ------------------------------


def test_activation_and_reset_go_to_the_stored_address(
    service: IdentityService,
    mailer: RecordingMailer,
    accounts: MemoryAccountRepository,
    clock: ManualClock,
) -> None:
    """Every message goes to the address as stored, whatever spelling of the username is typed."""
    view = service.register(practitioner(email="Jane.Doe@Example.org"))
    stored = accounts.get(view.account.id)
    assert stored is not None
    assert stored.email == "Jane.Doe@example.org"
    activation = mailer.last()
    service.activate(mailer.last_token())
    verification = mailer.last()
    service.request_password_reset("  JDOE ")
    reset = mailer.last()
    clock.advance(minutes=1)
    service.reset_password(mailer.last_token(), "Green-Kestrel-2032")
    changed = mailer.last()
    assert [str(m["To"]) for m in (activation, verification, reset, changed)] == [stored.email] * 4
    assert [str(m["Subject"]) for m in (activation, verification, reset, changed)] == [
        "Activate Your Provider Portal Account",
        "Email Verification",
        "CareSource Provider Portal Password",
        "Your Provider Portal Password Was Changed",
    ]
    assert "Hello jdoe," in message_text(reset)
    assert service.login("jdoe", "Green-Kestrel-2032").account.email == stored.email


def test_reset_for_an_unknown_username_sends_nothing(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """Forgot password for a name that has no account returns quietly and sends no mail."""
    service.request_password_reset("nobody")
    assert mailer.messages == []


def test_service_links_use_the_configured_branding(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """The activation link is built from the configured base URL, and it works."""
    branding = Branding(activation_url="https://portal.acme.test/activate/{token}")
    service = make_service(branding=branding)
    service.register(practitioner())
    link = mailer.last_link()
    assert link.startswith("https://portal.acme.test/activate/")
    assert service.activate(link.rpartition("/")[2]).username == "jdoe"
    assert service.login("jdoe", PASSWORD).account.username == "jdoe"


def test_html_escapes_a_registered_username(
    service: IdentityService, mailer: RecordingMailer
) -> None:
    """A username with markup, accepted at registration, arrives escaped in the HTML part."""
    service.register(practitioner(username="x<b>y"))
    markup = html_part(mailer.last())
    assert "x&lt;b&gt;y" in markup
    assert "<b>y" not in markup
