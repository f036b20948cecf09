"""Message bodies from templates: defaults, overrides, files and callables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provider_identity import Branding, ConfigurationError, MessageKind, Templates
from provider_identity.mail import password_reset_message
from provider_identity.testing import message_text

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def reset(branding: Branding, username: str = "jdoe") -> tuple[str, str]:
    message = password_reset_message(
        branding, to="j@example.org", username=username, token="t", now=NOW
    )
    html = message.get_body(("html",))
    assert html is not None
    return message_text(message), html.get_content()


def test_templates_from_a_folder_override_only_the_files_present(tmp_path: Path) -> None:
    """A template folder replaces only the messages it has files for, and escapes values in HTML."""
    (tmp_path / "password_reset.txt").write_text("Hi $username: $link\n", encoding="utf-8")
    (tmp_path / "password_reset.html").write_text('<a href="$link">$username</a>', encoding="utf-8")
    branding = Branding(templates=Templates.from_directory(tmp_path))
    text, html = reset(branding, username="<b>x")
    assert text == "Hi <b>x: https://provider-portal.example/reset-password?token=t\n"
    assert html.startswith(
        '<a href="https://provider-portal.example/reset-password?token=t">&lt;b&gt;x'
    )
    assert (
        branding.templates.text[MessageKind.ACTIVATION] == Templates().text[MessageKind.ACTIVATION]
    )


def test_a_missing_template_folder_is_a_configuration_error(tmp_path: Path) -> None:
    """A template folder that does not exist is a configuration error."""
    with pytest.raises(ConfigurationError):
        Templates.from_directory(tmp_path / "nope")


@pytest.mark.parametrize("body", ["$unknown", "Hi $", "${username"])
def test_templates_with_unknown_or_broken_placeholders_are_refused(body: str) -> None:
    """A template with an unknown or malformed placeholder is refused when built."""
    with pytest.raises(ConfigurationError):
        Templates(text={MessageKind.PASSWORD_RESET: body})


def test_a_callable_renders_the_bodies_with_raw_values() -> None:
    """A render callable gets the message kind and raw values and its bodies are used as given."""

    def render(kind: MessageKind, values: Mapping[str, str]) -> tuple[str, str]:
        return f"{kind.value} {values['username']}\n", f"<p>{values['link']}</p>"

    text, html = reset(Branding(templates=render), username="<b>x")
    assert text == "password_reset <b>x\n"
    assert html.startswith("<p>https://provider-portal.example/reset-password?token=t</p>")


def test_a_subject_that_would_hold_a_line_break_is_refused() -> None:
    """A subject that would hold a line break after filling in values is refused."""
    branding = Branding(reset_subject="Reset for $username")
    with pytest.raises(ConfigurationError):
        reset(branding, username="a\r\nBcc: victim@example.org")
