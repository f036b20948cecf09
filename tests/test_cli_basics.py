"""The command line without a database: check-password, demo options, the module entry point."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from provider_identity.cli import main


def check(password: str, *options: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["check-password", *options], stdin=io.StringIO(password + "\n"), out=out)
    return status, out.getvalue()


def test_check_password_lists_every_violation_and_exits_1() -> None:
    status, output = check("short")
    assert status == 1
    codes = [line.partition(":")[0] for line in output.splitlines()]
    assert codes == ["too_short", "missing_uppercase", "missing_digit", "missing_symbol"]


def test_check_password_accepts_a_good_password() -> None:
    assert check("Blue-Heron-2031") == (0, "ok: the password meets every requirement\n")


@pytest.mark.parametrize(
    ("options", "code"),
    [(("--preset", "nist"), "too_short"), (("--username", "heron"), "contains_identifier")],
)
def test_check_password_options(options: tuple[str, ...], code: str) -> None:
    status, output = check("Blue-Heron-203", *options)
    assert status == 1
    assert output.startswith(code)


def test_the_demo_goes_on_when_its_smtp_server_refuses() -> None:
    out = io.StringIO()
    # Port 9 (discard) on loopback: nothing listens, so every send fails;
    # the story goes on, as the service promises.
    assert main(["demo", "--fast", "--memory", "--smtp", "127.0.0.1:9"], out=out) == 0
    assert "Done." in out.getvalue()


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "provider_identity", "check-password"],
        input="Blue-Heron-2031\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "ok: the password meets every requirement\n")
