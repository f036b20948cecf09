"""scripts/common_passwords.py, which derives the built-in common-word list, still runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from provider_identity.passwords import common_words

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "common_passwords.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("common_passwords", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_reduces_passwords_to_the_words_a_password_is_checked_against() -> None:
    """Padding goes from both ends, NFKC and case folding apply; short or letterless go."""
    words = load_script().words(["Summer2024!", "!!ｄｒａｇｏｎ99", "ab1", "12345", "qwe rty"])
    assert words == ["dragon", "qwe rty", "summer"]


def test_the_shipped_list_holds_what_the_script_keeps_of_a_common_password() -> None:
    """'monkey123' reduces to 'monkey', which the package's list has."""
    [word] = load_script().words(["monkey123"])
    assert word in common_words()
