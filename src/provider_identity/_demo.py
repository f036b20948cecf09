"""The story ``provider-identity demo`` tells: every seed flow, step by step."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import TextIO

import attrs

from provider_identity.errors import IdentityError, InvalidCredentials
from provider_identity.mfa import SecondFactorDue, SecondFactors, SecretBox
from provider_identity.passwords import PasswordHasher
from provider_identity.ports import (
    AccountRepository,
    FactorStore,
    LockoutStore,
    Mailer,
    WritableDirectory,
)
from provider_identity.providers import ProviderRecord, ProviderType
from provider_identity.registration import RegistrationRequest
from provider_identity.service import IdentityService, LoginResult
from provider_identity.support import SupportDesk
from provider_identity.testing import (
    FakeAuthenticator,
    InlineDelivery,
    ManualClock,
    MemoryAccountRepository,
    MemoryEventLog,
    MemoryFactorStore,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingMailer,
    message_text,
    sample_records,
)
from provider_identity.tokens import TokenIssuer

__all__ = ["DemoStores", "memory_stores", "run_demo"]

_DEMO_KEY = b"provider-identity demo key, not a secret (32+ bytes)"


@attrs.frozen
class _Tee:
    """Records every message for the demo's story, and hands it on to ``also``."""

    recording: RecordingMailer
    also: Mailer | None

    def send(self, message: EmailMessage) -> None:
        self.recording.send(message)
        if self.also is not None:
            self.also.send(message)


@attrs.frozen(kw_only=True)
class DemoStores:
    """Where the demo keeps its data, and how to name that place."""

    directory: WritableDirectory
    accounts: AccountRepository
    lockouts: LockoutStore
    description: str
    factors: FactorStore | None = None


def memory_stores() -> DemoStores:
    """In-memory stores holding the sample records."""
    return DemoStores(
        directory=MemoryProviderDirectory(sample_records()),
        accounts=MemoryAccountRepository(),
        lockouts=MemoryLockoutStore(),
        description="in-memory adapters",
    )


class _Demo:
    def __init__(
        self, out: TextIO, hasher: PasswordHasher, stores: DemoStores, mailer: Mailer | None
    ) -> None:
        self.out = out
        self.clock = ManualClock()
        self.mailer = RecordingMailer()
        self.directory = stores.directory
        self.trail = MemoryEventLog()  # the audit trail the support desk reads
        self.factors = stores.factors if stores.factors is not None else MemoryFactorStore()
        self.service = IdentityService(
            directory=self.directory,
            accounts=stores.accounts,
            lockouts=stores.lockouts,
            mailer=_Tee(self.mailer, mailer),
            events=self.trail,
            delivery=InlineDelivery(),  # each step shows its mail at once
            clock=self.clock,
            tokens=TokenIssuer(current=_DEMO_KEY, clock=self.clock),
            hasher=hasher,
            second_factors=SecondFactors(
                mode="optional", store=self.factors, secrets=SecretBox(current=_DEMO_KEY)
            ),
        )
        self.desk = SupportDesk(service=self.service, trail=self.trail)
        self.step_number = 0
        self.seen_mail = 0

    def step(self, title: str) -> None:
        self.step_number += 1
        print(f"\n== {self.step_number}. {title}", file=self.out)

    def say(self, text: str) -> None:
        print(f"   {text}", file=self.out)

    def refused(self, err: IdentityError) -> None:
        self.say(f"refused [{err.code}]: {err.message}")

    def new_mail(self) -> list[EmailMessage]:
        messages = self.mailer.messages[self.seen_mail :]
        self.seen_mail = len(self.mailer.messages)
        for message in messages:
            print("   +-- email " + "-" * 50, file=self.out)
            for header in ("From", "To", "Subject", "Date"):
                print(f"   | {header}: {message[header]}", file=self.out)
            print("   |", file=self.out)
            for line in message_text(message).splitlines():
                print(f"   | {line}".rstrip(), file=self.out)
            print("   +" + "-" * 58, file=self.out)
        return messages

    def logged_in(self, result: LoginResult | SecondFactorDue) -> LoginResult:
        assert isinstance(result, LoginResult)  # noqa: S101  # no factor is enrolled at this point
        return result

    def token(self) -> str:
        return self.mailer.last_token()

    def request(self, **fields: object) -> RegistrationRequest:
        defaults: dict[str, object] = {
            "password": "Blue-Heron-2031",
            "security_question": "What is the name of your first pet?",
            "security_answer": "Rex",
            "agreement_confirmed": True,
        }
        return RegistrationRequest(**{**defaults, **fields})  # type: ignore[arg-type]  # demo data


def run_demo(
    out: TextIO, *, hasher: PasswordHasher, stores: DemoStores, mailer: Mailer | None = None
) -> int:
    """Tell the story of every seed flow against ``stores``; return the exit status."""
    if stores.directory.by_provider_id("P1000001") is None:
        print("The sample providers are missing: run `provider-identity import-roster", file=out)
        print("examples/roster.csv --database ...` first.", file=out)
        return 1
    if stores.accounts.find_by_provider_id("P1000001") is not None:
        print("The demo has run against this database already (its accounts exist);", file=out)
        print("use a fresh database, or run without --database.", file=out)
        return 1
    return _story(_Demo(out, hasher, stores, mailer), stores.description)


def _story(demo: _Demo, where: str) -> int:  # a linear story, top to bottom
    out, service = demo.out, demo.service
    print(f"provider-identity demo: every seed flow against {where}.", file=out)
    print("The clock is a ManualClock starting at " + demo.clock.now().isoformat(), file=out)

    demo.step("A practitioner registers (details typed with different formatting)")
    registered = service.register(
        demo.request(
            provider_type="practitioner",
            name="  JANE q.  doe ",
            tax_id="31 1234567",
            zip_code="45409-1234",
            provider_id=" p1000001 ",
            username="jdoe",
            email="Jane.Doe@Example.org",
        ),
        client_address="203.0.113.7",
    )
    demo.say(
        f"pending account {registered.account.username!r} "
        f"for provider {registered.account.provider_id}"
    )
    demo.new_mail()

    demo.step("Activate Account link clicked")
    service.activate(demo.token())
    demo.say("account is active; the Email Verification message follows")
    demo.new_mail()

    demo.step("Login with the right password")
    result = demo.logged_in(service.login("JDoe", "Blue-Heron-2031"))
    demo.say(f"logged in as {result.account.username} (status {result.account.status.value})")

    demo.step("Five wrong passwords lock the account")
    for attempt in range(1, 6):
        try:
            service.login("jdoe", f"Wrong-Guess-{attempt:04d}")
        except IdentityError as err:
            demo.say(f"attempt {attempt}: [{err.code}]")
    try:
        service.login("jdoe", "Blue-Heron-2031")
    except IdentityError as err:
        demo.say("right password while locked:")
        demo.refused(err)
    demo.say(f"locked until {service.lockout_status('jdoe').locked_until}")
    demo.say("the lock notice goes to the stored address, once per lock:")
    demo.new_mail()

    demo.step("Forgot password? (works while locked)")
    service.request_password_reset("jdoe")
    demo.new_mail()

    demo.step("Reset the password from the link")
    try:
        service.reset_password(demo.mailer.last_token(), "short")
    except IdentityError as err:
        demo.refused(err)
        for violation in getattr(err, "errors", ()):
            demo.say(f"  - {violation.message}")
    service.reset_password(demo.mailer.last_token(), "Green-Kestrel-2032")
    demo.say("password changed; the lock is lifted; a notice goes to the stored address")
    demo.new_mail()

    demo.step("Login with the new password")
    result = demo.logged_in(service.login("jdoe", "Green-Kestrel-2032"))
    demo.say(f"logged in as {result.account.username}")

    demo.step("Forgot user name? (mailed to the stored address; an unknown one gets nothing)")
    for address in ("JANE.DOE@example.org", "nobody@example.org"):
        service.request_username_reminder(address)
        demo.say(f"{address}: the same confirmation page")
    demo.new_mail()
    _second_factor_story(demo, result.account.id)

    demo.step("A radiology group registers and sees every provider under its Tax ID")
    group = service.register(
        demo.request(
            provider_type=ProviderType.GROUP,
            name="Miami Valley Radiology Group",
            tax_id="31-7654321",
            zip_code="45440",
            provider_id="G2000001",
            username="mvr-admin",
            email="office@mvradiology.example.org",
        )
    )
    demo.new_mail()
    service.activate(demo.token())
    demo.new_mail()
    for record in service.accessible_providers(group.account.id):
        demo.say(f"can see {record.provider_id} {record.name}")
    demo.directory.upsert(
        [
            ProviderRecord(
                provider_id="P2000009", tax_id="317654321", name="Lee Chen", zip_codes=("45440",)
            )
        ]
    )
    demo.say("a provider is added under the group's Tax ID; looked up live:")
    for record in service.accessible_providers(group.account.id):
        demo.say(f"can see {record.provider_id} {record.name}")

    demo.step("A primary-care group may not register as a Group")
    try:
        service.register(
            demo.request(
                provider_type="group",
                name="Family Medicine Partners",
                tax_id="315550000",
                zip_code="43215",
                provider_id="G3000001",
                username="fmp-office",
                email="office@fmp.example.org",
            )
        )
    except IdentityError as err:
        demo.refused(err)

    demo.step("A provider that is not in the system")
    try:
        service.register(
            demo.request(
                provider_type="practitioner",
                name="Nobody Known",
                tax_id="99-9999999",
                zip_code="45402",
                provider_id="P9999999",
                username="nobody",
                email="nobody@example.org",
            )
        )
    except IdentityError as err:
        demo.refused(err)

    demo.step("Registering the same practitioner again")
    try:
        service.register(
            demo.request(
                provider_type="practitioner",
                name="Jane Q. Doe",
                tax_id="311234567",
                zip_code="45402",
                npi="1234567893",
                username="jane2",
                email="jane2@example.org",
            )
        )
    except IdentityError as err:
        demo.refused(err)

    demo.step("A support-desk call: a registration with a mistyped address")
    typo = service.register(
        demo.request(
            provider_type="practitioner",
            name="Ravi Patel",
            tax_id="31-7654321",
            zip_code="45440",
            provider_id="P2000002",
            username="rpatel",
            email="ravi.patel@exmaple.org",
        )
    )
    demo.say("Ravi registered as rpatel, but his activation went to ravi.patel@exmaple.org")
    demo.new_mail()
    desk, agent = demo.desk, "agent-017"
    view = desk.find_account(agent, provider_id="P2000002")
    demo.say(
        f"{agent} finds {view.account.username} ({view.account.status.value}, "
        f"expires {view.pending_expires_at}, agreement v{view.agreement_version})"
    )
    try:
        desk.correct_pending_email(agent, typo.account.id, "ravi.patel@example.org")
    except IdentityError as err:
        demo.say("before the caller answers the security question:")
        demo.refused(err)
    verified = desk.verify_caller(agent, typo.account.id, "rex")
    demo.say(f"security answer verified; the desk may act until {verified.valid_until}")
    desk.correct_pending_email(agent, typo.account.id, "ravi.patel@example.org")
    demo.say("address corrected; the old link is dead; a fresh activation goes out")
    demo.new_mail()
    service.activate(demo.token())
    demo.new_mail()
    demo.say("the account's history, as the desk sees it:")
    for event in desk.history(agent, typo.account.id):
        by = dict(event.detail).get("agent")
        demo.say(f"  {event.action.value}: {event.outcome}" + (f" (by {by})" if by else ""))

    demo.step("Unknown user and wrong password look the same")
    for username in ("no-such-user", "jdoe"):
        try:
            service.login(username, "Not-The-Password-1")
        except InvalidCredentials as err:
            demo.say(f"{username}: [{err.code}] {err.message}")
    _account_life(demo, result.account.id)
    print("\nDone.", file=out)
    return 0


def _second_factor_story(demo: _Demo, account_id: str) -> None:
    service, clock = demo.service, demo.clock
    demo.step("Set up an authenticator app (TOTP)")
    enrolment = service.begin_totp_enrolment(account_id)
    kind = "an SVG QR code" if enrolment.qr_svg.startswith("<svg") else "a QR code"
    demo.say(f"the set-up page shows {kind} of the otpauth:// URI, and the secret for")
    demo.say("apps that cannot scan; neither is ever logged, stored in clear or audited")
    app = FakeAuthenticator.from_enrolment(enrolment, clock)
    confirmed = service.confirm_totp(account_id, app.code())
    assert confirmed.recovery_codes is not None  # noqa: S101  # the account's first factor
    codes = confirmed.recovery_codes.codes
    demo.say(f"first code accepted; {len(codes)} recovery codes, shown this once")
    demo.say(f"(each like {'x' * 5}-{'x' * 5}; only keyed digests are kept)")
    demo.new_mail()

    demo.step("Login now takes two steps")
    clock.advance(30)
    step = service.login("jdoe", "Green-Kestrel-2032")
    assert isinstance(step, SecondFactorDue)  # noqa: S101  # the account has a factor now
    demo.say(f"right password: second factor due ({', '.join(sorted(step.methods))})")
    code = app.code()
    result = service.complete_login(step.challenge, code)
    demo.say(f"the app's current code: logged in as {result.account.username}")

    demo.step("The same code again is refused (each code works once)")
    again = service.login("jdoe", "Green-Kestrel-2032")
    assert isinstance(again, SecondFactorDue)  # noqa: S101
    try:
        service.complete_login(again.challenge, code)
    except IdentityError as err:
        demo.refused(err)

    demo.step("The phone is lost: a recovery code instead")
    service.complete_login(again.challenge, codes[0])
    demo.say("logged in; the code is used up and a notice goes to the stored address")
    demo.new_mail()


def _account_life(demo: _Demo, jane_id: str) -> None:
    """After registration: expiry, an email change, and a provider leaving the network."""
    service = demo.service
    ana = demo.request(
        provider_type="practitioner",
        name="Ana Lopez",
        tax_id="31-7654321",
        zip_code="45459",
        provider_id="P2000003",
        username="alopez",
        email="ana.lopz@example.org",  # mistyped: the activation mail never arrives
    )
    demo.step("A registration with a mistyped email waits for activation")
    service.register(ana)
    demo.new_mail()
    try:
        service.register(attrs.evolve(ana, email="ana.lopez@example.org"))
    except IdentityError as err:
        demo.refused(err)

    demo.step("Seven days later the pending account has expired: registering again replaces it")
    demo.clock.advance(timedelta(days=7))
    service.register(attrs.evolve(ana, email="ana.lopez@example.org"))
    demo.new_mail()
    service.activate(demo.token())
    demo.new_mail()

    demo.step("Jane changes her email address (confirmed from the new one)")
    service.request_email_change(jane_id, "Green-Kestrel-2032", "jane.doe@newclinic.example.org")
    demo.say("a link to the new address, a notice to the old one:")
    demo.new_mail()
    changed = service.confirm_email_change(demo.mailer.last_token("jane.doe@newclinic.example.org"))
    demo.say(f"the address is now {changed.email}; her earlier sessions and links are dead")

    demo.step("Ana's provider record ends: reconcile deactivates her account")
    record = demo.directory.by_provider_id("P2000003")
    assert record is not None  # noqa: S101  # a sample record
    demo.directory.upsert([attrs.evolve(record, end_date=demo.clock.now().date())])
    report = service.reconcile()
    demo.say(f"deactivated: {', '.join(report.deactivated)}")
    try:
        service.login("alopez", "Not-The-Password-1")
    except IdentityError as err:
        demo.say(f"wrong password: [{err.code}]")
    try:
        service.login("alopez", "Blue-Heron-2031")
    except IdentityError as err:
        demo.say("right password:")
        demo.refused(err)
    service.request_password_reset("alopez")
    demo.say(f"forgot password sends nothing: {len(demo.new_mail())} messages")
