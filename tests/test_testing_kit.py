"""The pytest plugin: registered by entry point, cheap, nothing autouse, fixtures wired right."""

from __future__ import annotations

import sys
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from provider_identity import (
    AccountLocked,
    Branding,
    IdentityService,
    InvalidCredentials,
    LockoutPolicy,
    PasswordPolicy,
    PasswordRejected,
    ProviderType,
    TokenExpired,
    TokenIssuer,
)
from provider_identity.passwords import NIST_POLICY, TEST_ONLY_CHEAPEST
from provider_identity.testing import (
    InlineDelivery,
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
)
from provider_identity.testing.pytest_plugin import IdentityServiceFactory
from tests.helpers import KEY, PASSWORD, practitioner

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "testing"
PLUGIN = "provider_identity.testing.pytest_plugin"

NEW_USER_TEST = """
from provider_identity import RegistrationRequest


def test_x(identity_service, identity_mailer):
    identity_service.register(
        RegistrationRequest(
            provider_type="practitioner", name="Jane Q. Doe", tax_id="311234567",
            zip_code="45402", provider_id="P1000001", username="jdoe",
            password="Blue-Heron-2031", email="jane.doe@example.org",
            security_question="What is the name of your first pet?",
            security_answer="Rex", agreement_confirmed=True,
        )
    )
    assert identity_mailer.last_token("jane.doe@example.org")
"""


# -- registration and loading ----------------------------------------------------------


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    """Installing the package registers the plugin module under pytest11."""
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("provider_identity") == PLUGIN


def test_the_plugin_is_active_in_this_session(pytestconfig: pytest.Config) -> None:
    """pytest loaded the plugin here too, with no conftest asking for it."""
    assert pytestconfig.pluginmanager.has_plugin("provider_identity")


def test_a_new_users_test_file_works_without_a_conftest(pytester: pytest.Pytester) -> None:
    """A lone test file using identity_service and identity_mailer passes in a fresh pytest."""
    pytester.makepyfile(test_new_user=NEW_USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_importing_the_plugin_does_not_import_hypothesis(pytester: pytest.Pytester) -> None:
    """The plugin loads in every pytest run of the user's, so it leaves Hypothesis alone."""
    code = (
        f"import sys, {PLUGIN}\n"
        "print(sorted(name for name in sys.modules if name.partition('.')[0] == 'hypothesis'))"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0
    assert result.outlines == ["[]"]


def test_no_fixture_is_autouse(pytester: pytest.Pytester) -> None:
    """A test that asks for nothing gets no identity fixture."""
    pytester.makepyfile(
        """
        def test_nothing(request):
            assert [name for name in request.fixturenames if name.startswith("identity")] == []
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_fixtures_are_listed_for_users(pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows every identity fixture with its docstring."""
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    for name in (
        "identity_clock",
        "identity_mailer",
        "identity_events",
        "identity_delivery",
        "identity_directory",
        "identity_accounts",
        "identity_lockouts",
        "identity_hasher",
        "identity_service_factory",
        "identity_service",
    ):
        # The name's line, then at once an indented sentence, not "no docstring available".
        result.stdout.re_match_lines(
            [rf"{name}( \[session scope\])? -- .*", r" {4}(?!no docstring)\S.{15,}"],
            consecutive=True,
        )


# -- the fixtures ----------------------------------------------------------------------


def test_the_service_is_wired_to_the_fixtures(
    identity_service: IdentityService,
    identity_clock: ManualClock,
    identity_mailer: RecordingMailer,
    identity_events: RecordingEventSink,
    identity_directory: MemoryProviderDirectory,
    identity_accounts: MemoryAccountRepository,
    identity_lockouts: MemoryLockoutStore,
) -> None:
    """identity_service uses the very clock, mailer, events, directory and stores the test sees."""
    result = identity_service.register(practitioner())

    assert identity_service.clock is identity_clock
    assert identity_service.directory is identity_directory
    assert identity_service.lockouts is identity_lockouts
    assert identity_accounts.get(result.account.id) is not None
    assert identity_mailer.last("jane.doe@example.org")["Subject"] == (
        "Activate Your Provider Portal Account"
    )
    assert identity_events.outcomes() == [("register", "success")]


def test_the_service_has_the_seed_rules_and_the_cheapest_hashing(
    identity_service: IdentityService,
) -> None:
    """Defaults are the seed's; only the hashing is cheapened for speed."""
    assert identity_service.password_policy == PasswordPolicy()
    assert identity_service.lockout_policy == LockoutPolicy()
    assert identity_service.hasher.parameters is TEST_ONLY_CHEAPEST


def test_the_directory_holds_practitioners_and_groups(
    identity_directory: MemoryProviderDirectory,
) -> None:
    """The seeded directory has Jane Doe, the radiology group and its members."""
    jane = identity_directory.by_provider_id("P1000001")
    assert jane is not None
    assert jane.name == "Jane Q. Doe"
    assert identity_directory.by_npi("1234567893") == jane
    assert len(identity_directory.by_tax_id("317654321")) == 3


def test_the_mailer_finds_the_last_link_and_token_per_address(
    identity_service: IdentityService, identity_mailer: RecordingMailer
) -> None:
    """last_link and last_token read the newest message to an address, case-insensitively."""
    identity_service.register(practitioner())
    link = identity_mailer.last_link("Jane.Doe@example.org")
    token = identity_mailer.last_token("jane.doe@example.org")

    assert link == f"https://provider-portal.example/activate?token={token}"
    assert identity_service.activate(token).status.value == "active"
    assert identity_mailer.last_link().startswith("https://provider-portal.example/login")
    with pytest.raises(LookupError):
        identity_mailer.last_link("nobody@example.org")


def test_the_clock_is_manual(
    identity_service: IdentityService,
    identity_mailer: RecordingMailer,
    identity_clock: ManualClock,
) -> None:
    """Advancing identity_clock expires a reset link without any sleep."""
    identity_service.register(practitioner())
    identity_service.request_password_reset("jdoe")
    token = identity_mailer.last_token(subject="CareSource Provider Portal Password")

    identity_clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(TokenExpired):
        identity_service.reset_password(token, "Green-Finch-7742")


def test_the_service_delivers_inline_so_the_mail_is_there_on_return(
    identity_service: IdentityService,
    identity_mailer: RecordingMailer,
    identity_delivery: InlineDelivery,
) -> None:
    """The plugin's service hands reset mail to identity_delivery, which sends it at once."""
    identity_service.register(practitioner())
    identity_service.request_password_reset("jdoe")
    identity_service.request_password_reset("nobody")
    assert identity_service.delivery is identity_delivery
    assert identity_delivery.submitted == 2  # one job per request, known or not
    assert str(identity_mailer.last()["Subject"]) == "CareSource Provider Portal Password"


def test_the_factory_overrides_policy_lockout_and_branding(
    identity_service_factory: IdentityServiceFactory, identity_mailer: RecordingMailer
) -> None:
    """Any IdentityService field can be replaced; the rest stay on the fixtures."""
    service = identity_service_factory(
        password_policy=NIST_POLICY,
        lockout_policy=LockoutPolicy(max_failures=2),
        branding=Branding(activation_url="https://portal.example.net/go?token={token}"),
    )
    with pytest.raises(PasswordRejected):
        service.register(practitioner(password="Short-Pass-1"))

    result = service.register(practitioner(password="a long heron passphrase"))
    service.activate(identity_mailer.last_token(result.account.email))
    assert identity_mailer.messages[0]["To"] == "jane.doe@example.org"
    assert identity_mailer.last_link(subject="Activate Your Provider Portal Account").startswith(
        "https://portal.example.net/go?token="
    )
    for _ in range(2):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            service.login("jdoe", "wrong wrong wrong wrong")
    with pytest.raises(AccountLocked):
        service.login("jdoe", "a long heron passphrase")


def test_services_from_one_factory_share_stores_and_keys(
    identity_service_factory: IdentityServiceFactory, identity_mailer: RecordingMailer
) -> None:
    """A token one service mails is accepted by another built in the same test."""
    first, second = identity_service_factory(), identity_service_factory()
    first.register(practitioner())
    account = second.activate(identity_mailer.last_token())
    assert account.provider_type is ProviderType.PRACTITIONER
    assert first.login("jdoe", PASSWORD).account.id == account.id


def test_a_clock_override_reaches_the_tokens(
    identity_service_factory: IdentityServiceFactory,
) -> None:
    """With clock= and no tokens=, the token issuer reads that clock, as the service requires."""
    clock = ManualClock()
    service = identity_service_factory(clock=clock)
    assert service.tokens.clock is clock

    issuer = TokenIssuer(current=KEY, clock=clock)
    assert identity_service_factory(clock=clock, tokens=issuer).tokens is issuer


# -- the runnable examples -------------------------------------------------------------


def test_the_examples_for_users_pass(pytester: pytest.Pytester) -> None:
    """Every test in examples/testing passes as a user would run it: no conftest, plugin only."""
    files = {path.stem: path.read_text(encoding="utf-8") for path in EXAMPLES.glob("*.py")}
    pytester.makepyfile(**files)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=10)
