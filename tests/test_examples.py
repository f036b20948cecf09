"""The scripts in examples/ run and say what they promise."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_registers_activates_and_logs_in(capsys: pytest.CaptureFixture[str]) -> None:
    """quickstart.py prints the activation subject, the verification subject and the login."""
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "sent: Activate Your Provider Portal Account" in out
    assert "sent: Email Verification" in out
    assert "logged in: jdoe active" in out


def test_csv_directory_finds_the_group_by_tax_id(capsys: pytest.CaptureFixture[str]) -> None:
    """csv_directory.py lists both records under the group's Tax ID, Tax ID masked."""
    runpy.run_path(str(EXAMPLES / "csv_directory.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "G2000001 Miami Valley Radiology Group" in out
    assert "P2000002 Ravi Patel" in out
    assert "317654321" not in out
