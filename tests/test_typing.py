"""What mypy --strict tells a user who configures the library wrongly."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra")

USER_SCRIPT = """\
import attrs
from provider_identity import NIST_POLICY, PasswordPolicy, LockoutPolicy

PasswordPolicy(min_length="sixteen")
attrs.evolve(NIST_POLICY, min_length="sixteen")
attrs.evolve(NIST_POLICY, no_such_rule=True)
LockoutPolicy(max_failures=5.5)
fine = attrs.evolve(NIST_POLICY, min_length=16)
"""


def test_mypy_strict_catches_wrong_configuration_in_a_user_script(tmp_path: Path) -> None:
    """A wrong type or an unknown field in a policy or a preset is a mypy error, line by line."""
    script = tmp_path / "portal_settings.py"
    script.write_text(USER_SCRIPT)
    out, _, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(script)]
    )
    flagged = sorted({int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line})
    assert status == 1
    assert flagged == [4, 5, 6, 7]
