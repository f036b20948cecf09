"""The ``provider-identity`` command: the demo's story and check-password's answers.

tests/test_cli_basics.py has the first check-password cases; the database
commands are in tests/adapters/test_cli.py.
"""

from __future__ import annotations

import email
import email.policy
import getpass as stdlib_getpass
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from provider_identity.cli import main

STEPS = [
    "A practitioner registers (details typed with different formatting)",
    "Activate Account link clicked",
    "Login with the right password",
    "Five wrong passwords lock the account",
    "Forgot password? (works while locked)",
    "Reset the password from the link",
    "Login with the new password",
    "Forgot user name? (mailed to the stored address; an unknown one gets nothing)",
    "Set up an authenticator app (TOTP)",
    "Login now takes two steps",
    "The same code again is refused (each code works once)",
    "The phone is lost: a recovery code instead",
    "A radiology group registers and sees every provider under its Tax ID",
    "A primary-care group may not register as a Group",
    "A provider that is not in the system",
    "Registering the same practitioner again",
    "A support-desk call: a registration with a mistyped address",
    "Unknown user and wrong password look the same",
    "A registration with a mistyped email waits for activation",
    "Seven days later the pending account has expired: registering again replaces it",
    "Jane changes her email address (confirmed from the new one)",
    "Ana's provider record ends: reconcile deactivates her account",
]

#: (To, Subject) of every message of the story, in order.
MAIL = [
    ("Jane.Doe@example.org", "Activate Your Provider Portal Account"),
    ("Jane.Doe@example.org", "Email Verification"),
    ("Jane.Doe@example.org", "Your Provider Portal Account Is Locked"),
    ("Jane.Doe@example.org", "CareSource Provider Portal Password"),
    ("Jane.Doe@example.org", "Your Provider Portal Password Was Changed"),
    ("Jane.Doe@example.org", "CareSource Provider Portal User Name"),
    ("Jane.Doe@example.org", "Provider Portal Security Notice"),
    ("Jane.Doe@example.org", "Provider Portal Security Notice"),
    ("office@mvradiology.example.org", "Activate Your Provider Portal Account"),
    ("office@mvradiology.example.org", "Email Verification"),
    ("ravi.patel@exmaple.org", "Activate Your Provider Portal Account"),
    ("ravi.patel@example.org", "Activate Your Provider Portal Account"),
    ("ravi.patel@example.org", "Email Verification"),
    ("ana.lopz@example.org", "Activate Your Provider Portal Account"),
    ("ana.lopez@example.org", "Activate Your Provider Portal Account"),
    ("ana.lopez@example.org", "Email Verification"),
    ("jane.doe@newclinic.example.org", "Confirm Your New Provider Portal Email Address"),
    ("Jane.Doe@example.org", "Your Provider Portal Email Address Is Changing"),
]


def run(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), stdin=io.StringIO(stdin), out=out), out.getvalue()


@pytest.fixture(scope="module")
def story() -> str:
    status, output = run("demo", "--fast", "--memory")
    assert status == 0
    return output


def headers(output: str, name: str) -> list[str]:
    return re.findall(rf"^   \| {name}: (.*)$", output, flags=re.MULTILINE)


def test_the_demo_tells_every_seed_flow_in_order(story: str) -> None:
    """The numbered steps in order, from registration to deprovisioning, then Done."""
    assert re.findall(r"^== \d+\. (.*)$", story, flags=re.MULTILINE) == STEPS
    first = "provider-identity demo: every seed flow against in-memory adapters."
    assert story.splitlines()[0] == first
    assert story.rstrip().endswith("\nDone.")


def test_the_demo_prints_the_headers_of_every_message(story: str) -> None:
    """From webmaster, the stored address, the seed's subjects, and a date on each message."""
    assert list(zip(headers(story, "To"), headers(story, "Subject"), strict=True)) == MAIL
    assert set(headers(story, "From")) == {"webmaster <webmaster@provider-portal.example>"}
    assert len(headers(story, "Date")) == len(MAIL)
    assert story.count("   +-- email ") == len(MAIL)


@pytest.mark.parametrize(
    "line",
    [
        "   attempt 5: [account_locked]",
        "   refused [account_locked]: Your account is locked due to too many incorrect login",
        "   refused [password_rejected]: The password does not meet the requirements.",
        "     - Must be a minimum of 12 characters.",
        "   can see P2000009 Lee Chen",
        "   refused [not_eligible_for_group]: Group registration is available for radiologists",
        "   refused [provider_not_found]: The provider does not exist in Provider Portal. Please "
        "call the help line at 1-855-202-1058 (Medicaid) or 1-833-230-2030 (Marketplace).",
        "   refused [already_registered]: You are already registered. Please go to the Provider",
        "   Activate Account: https://provider-portal.example/activate?token=",
        "   | Reset Password: https://provider-portal.example/reset-password?token=",
        "   refused [caller_not_verified]: Verify the caller's security answer first",
        "     correct_pending_email: success (by agent-017)",
        "   refused [already_registered]: This provider has a registration waiting for "
        "activation. The activation email went to a***@e***.org;",
        "   | Confirm Email Address: https://provider-portal.example/confirm-email?token=",
        "   deactivated: alopez",
        "   wrong password: [invalid_credentials]",
        "   refused [account_deactivated]: Your Provider Portal account is deactivated.",
        "   forgot password sends nothing: 0 messages",
    ],
)
def test_the_demo_shows_each_outcome_in_the_seeds_words(story: str, line: str) -> None:
    """Refusals carry their stable code and the seed's wording; links are in the messages."""
    assert line.strip() in story


def test_the_demo_shows_unknown_user_and_wrong_password_alike(story: str) -> None:
    """Its step prints one and the same refusal for both."""
    lines = story.splitlines()
    step = "Unknown user and wrong password look the same"
    start = lines.index(f"== {STEPS.index(step) + 1}. {step}")
    unknown, wrong = lines[start + 1 : start + 3]
    assert unknown.partition(": ")[2] == wrong.partition(": ")[2]
    assert "[invalid_credentials]" in unknown


def test_the_demo_never_prints_a_hash_or_the_tax_id(story: str) -> None:
    """The story shows links (that is the point) but no hash and no full Tax ID."""
    assert "$argon2" not in story
    assert not re.search(r"31[- ]?1234567|317654321|31-7654321", story)


def test_the_demo_can_write_every_message_to_an_outbox_folder(tmp_path: Path) -> None:
    """--outbox DIR: one parseable .eml per message of the story."""
    status, _ = run("demo", "--fast", "--memory", "--outbox", str(tmp_path))
    files = sorted(tmp_path.glob("*.eml"))
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert status == 0
    assert sorted((str(m["To"]), str(m["Subject"])) for m in parsed) == sorted(MAIL)
    assert list(tmp_path.glob(".*")) == []  # no half-written files left behind


def test_the_demo_runs_as_a_module_in_a_fresh_process() -> None:
    """python -m provider_identity demo --fast --memory: exit 0, the whole story."""
    done = subprocess.run(
        [sys.executable, "-m", "provider_identity", "demo", "--fast", "--memory"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert re.findall(r"^== \d+\. (.*)$", done.stdout, flags=re.MULTILINE) == STEPS


# -- check-password ------------------------------------------------------------------------

ALL_RULES = [
    "too_short: Must be a minimum of 12 characters.",
    "missing_lowercase: Must contain one lowercase letter.",
    "missing_uppercase: Must contain one uppercase letter.",
    "missing_digit: Must contain one digit.",
    "missing_symbol: Must contain one non-alphanumeric character.",
]
OK = ["ok: the password meets every requirement"]
TOO_LONG = ["too_long: Must be at most 128 characters."]
CONTROL = ["control_character: Must not contain control characters."]
CONTEXT = [
    "contains_context_word: Must not contain the name of the organisation, the portal or a plan."
]
IDENTIFIER = ["contains_identifier: Must not contain your user name or email address."]
COMMON = [
    "common_pattern: Must not be a common word, season or keyboard pattern with digits or "
    "symbols added."
]
SEED_SHORT = [ALL_RULES[0], *ALL_RULES[2:], *COMMON]  # "short" is a common password word
NIST = ("--preset", "nist")
PHRASE = "correct horse battery staple\n"


@pytest.mark.parametrize(
    ("stdin", "options", "expected"),
    [
        pytest.param("", (), ALL_RULES, id="empty input breaks every rule"),
        pytest.param("Blue-Heron-2031", (), OK, id="no final newline"),
        pytest.param("Blue-Heron-2031\r\n", (), OK, id="CRLF line end"),
        pytest.param("Ab1-defghij \n", (), OK, id="a trailing space counts, no trimming"),
        pytest.param("Ab1-defghij\n", (), ALL_RULES[:1], id="11 characters"),
        pytest.param("short\nBlue-Heron-2031\n", (), SEED_SHORT, id="first line only"),
        pytest.param("Ｂｌｕｅ－Ｈｅｒｏｎ－２０３１\n", (), OK, id="fullwidth: NFKC"),
        pytest.param("x" * 200 + "\n", (), TOO_LONG, id="too long"),
        pytest.param("Blue-Heron\x00-2031\n", (), CONTROL, id="NUL"),
        pytest.param("P0rt@l-Blue-2031\n", (), CONTEXT, id="context word with swaps"),
        pytest.param(PHRASE, NIST, OK, id="nist: no composition rules"),
        pytest.param(PHRASE, (), ALL_RULES[2:4], id="seed: composition rules"),
        pytest.param("Blue-Heron-2031\n", NIST, OK, id="nist: exactly 15 characters"),
        pytest.param("Jane.Doe-2031!\n", ("--email", "Jane.Doe@x.org"), IDENTIFIER, id="email"),
        pytest.param("Blue-JDOE-2031!\n", ("--username", "jdoe"), IDENTIFIER, id="username"),
        pytest.param("Blue-JDOE-2031!\n", (), OK, id="no username given"),
    ],
)  # fmt: skip
def test_check_password_prints_every_violation_and_sets_the_exit_status(
    stdin: str, options: tuple[str, ...], expected: list[str]
) -> None:
    """One "code: message" line per broken rule and status 1; "ok" and status 0 otherwise."""
    status, output = run("check-password", *options, stdin=stdin)
    assert output.splitlines() == expected
    assert status == (0 if expected == OK else 1)


def test_check_password_never_echoes_the_password() -> None:
    """What is checked is never printed, whatever the verdict."""
    for password in ("Sh0rt!", "Blue-Heron-2031", "correct horse battery staple"):
        assert password not in run("check-password", stdin=password + "\n")[1]


def test_check_password_asks_without_echo_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the password is read with getpass, not from the echoed input line."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return "Blue-Heron-2031"

    monkeypatch.setattr(stdlib_getpass, "getpass", getpass)
    out = io.StringIO()
    assert main(["check-password"], stdin=Terminal("not this line\n"), out=out) == 0
    assert (prompts, out.getvalue()) == (["Password: "], OK[0] + "\n")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["check-password", "--preset", "owasp"],
        ["no-such-command"],
        ["demo", "--memory", "--database", "x.db"],
    ],
)
def test_usage_errors_exit_with_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse refuses bad usage with status 2 and a usage line on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv, stdin=io.StringIO(""), out=io.StringIO())
    assert caught.value.code == 2
    assert "usage: provider-identity" in capsys.readouterr().err


def test_the_demo_goes_on_when_its_smtp_server_refuses() -> None:
    """The demo finishes (status 0) even when no SMTP server accepts its mail."""
    out = io.StringIO()
    # Port 9 (discard) on loopback: nothing listens, so every send fails;
    # the story goes on, as the service promises.
    assert main(["demo", "--fast", "--memory", "--smtp", "127.0.0.1:9"], out=out) == 0
    assert "Done." in out.getvalue()


def test_the_demo_falls_back_to_memory_without_sqlalchemy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without SQLAlchemy installed the demo says so and runs on in-memory adapters."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sqlalchemy" else real(name, *a),
    )
    out = io.StringIO()
    assert main(["demo", "--fast"], out=out) == 0
    assert out.getvalue().startswith("(SQLAlchemy is not installed")
    assert "against in-memory adapters" in out.getvalue()


# -- errors: one clear line on stderr, exit status 2 ---------------------------------------


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """Run a command that must be refused; its stderr lines (no traceback, status 2)."""
    status, output = run(*argv)
    err = capsys.readouterr().err
    assert (status, output) == (2, "")
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines
    assert all(line.startswith(f"provider-identity {argv[0]}: ") for line in lines), lines
    return lines


@pytest.mark.parametrize("smtp", ["localhost", "h:abc", "h:", "h:0", "h:65536", "h:-1", "h:2.5"])
def test_a_demo_smtp_address_without_a_good_port_is_one_clear_line(
    smtp: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--smtp localhost or h:abc: "HOST:PORT" explained on one line, status 2, no traceback."""
    [line] = refusal(capsys, "demo", "--fast", "--memory", "--smtp", smtp)
    assert "--smtp" in line
    assert "HOST:PORT" in line


def test_field_errors_print_every_field_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    """InvalidInput prints each field's message, not only the form's generic sentence."""
    lines = refusal(capsys, "unlock", "\u202ejdoe", "--database", "unused.db")
    assert lines == [
        "provider-identity unlock: username: "
        "User Name may not contain spaces or invisible characters."
    ]


@pytest.fixture
def without_sqlalchemy(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy as if it were not installed (the sql extra missing)."""
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    for name in list(sys.modules):
        if name.startswith(("sqlalchemy.", "provider_identity.adapters.sql")):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.usefixtures("without_sqlalchemy")
@pytest.mark.parametrize(
    "argv",
    [
        ["init-db", "--database", "portal.db"],
        ["import-roster", "roster.csv", "--database", "portal.db"],
        ["unlock", "jdoe", "--database", "portal.db"],
        ["send-mail", "--database", "portal.db", "--smtp-host", "relay.example"],
        ["demo", "--fast", "--database", "portal.db"],
    ],
)
def test_a_command_that_needs_the_sql_extra_says_which_pip_line_installs_it(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without SQLAlchemy: one line naming pip install 'provider-identity[sql]', status 2."""
    monkeypatch.chdir(tmp_path)
    [line] = refusal(capsys, *argv)
    assert "pip install 'provider-identity[sql]'" in line
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the distribution's version and exits 0."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"provider-identity {version('provider-identity')}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version("provider-identity"))


def test_every_option_of_every_command_has_help_text() -> None:
    """No option or argument is left without a help line in --help."""
    from provider_identity.cli import _parser

    parser = _parser()
    [commands] = [a for a in parser._actions if a.choices and a.dest == "command"]
    parsers = [parser, *commands.choices.values()]
    missing = [
        f"{p.prog} {action.dest}"
        for p in parsers
        for action in p._actions
        if action.help is None and action.dest != "command"
    ]
    assert missing == []


def test_the_demo_refuses_a_replayed_code_and_prints_the_notices(story: str) -> None:
    """The MFA steps: a replayed code refused, a recovery code used, each notice printed."""
    assert "refused [code_already_used]" in story
    assert "An authenticator app was added to your account." in story
    assert "A recovery code was used to sign in to your account." in story
    assert "Recovery codes left: 9." in story
