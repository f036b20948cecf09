"""An account's life at its edges: email change refusals and mail, the words of refusals,
user names as typed, and the batch jobs (reconcile, purge) that skip one account and go on.

Written for mutation testing of ``_flows/account_life.py``, ``_flows/base.py``,
``_flows/directory.py``, ``_flows/registration.py`` and ``accounts.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import timedelta
from email.message import EmailMessage

import attrs
import idna
import pytest

from provider_identity import (
    IdentityService,
    InvalidInput,
    MailDeliveryError,
    RegistrationRequest,
    UsernameUnavailable,
)
from provider_identity.accounts import (
    Account,
    AccountStatus,
    DeactivationReason,
    canonical_email,
    canonical_username,
)
from provider_identity.errors import ConcurrentUpdate, InvalidTransition
from provider_identity.events import Action
from provider_identity.service import ReconcileReport
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    message_text,
    sample_records,
)
from provider_identity.tokens import TokenPurpose
from tests.helpers import PASSWORD, group, member, practitioner

NEW_EMAIL = "jane.new@example.org"


def ana() -> RegistrationRequest:
    """Ana Lopez's registration (sample record P2000003, a member of the radiology group)."""
    return member("alopez", name="Ana Lopez", provider_id="P2000003", zip_code="45459")


# -- request_email_change -------------------------------------------------------------------


def test_an_email_change_to_another_accounts_address_names_the_email_field(
    service: IdentityService, active_account: str
) -> None:
    """Someone else's address: refused on ``email``, in words about the address, not the name."""
    service.register(group())
    with pytest.raises(UsernameUnavailable) as caught:
        service.request_email_change(active_account, PASSWORD, "office@mvradiology.example.org")
    assert caught.value.field == "email"
    assert caught.value.message == "That email address is already used by another account."


def test_an_email_change_link_names_its_request_with_128_random_bits(
    service: IdentityService, active_account: str, mailer: RecordingMailer
) -> None:
    """Each request's nonce is 16 random bytes as 22 URL-safe characters, and differs each time."""
    nonces = []
    for _ in range(3):
        service.request_email_change(active_account, PASSWORD, NEW_EMAIL)
        token = mailer.last_token(NEW_EMAIL)
        nonce = service.tokens.verify(token, TokenPurpose.EMAIL_CHANGE).nonce
        assert nonce is not None
        assert len(nonce) == 22
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16
        pending = service.accounts.get(active_account).pending_email  # type: ignore[union-attr]  # there
        assert pending is not None
        assert pending.nonce == nonce
        nonces.append(nonce)
    assert len(set(nonces)) == 3


@attrs.define(eq=False)
class DownFor(RecordingMailer):
    """A RecordingMailer whose relay refuses mail to one address (and keeps the rest)."""

    down: str = ""

    def send(self, message: EmailMessage) -> None:
        """Refuse mail to ``down``; keep every other message."""
        if str(message["To"]) == self.down:
            raise MailDeliveryError(550)
        super().send(message)


@pytest.mark.parametrize("down", [NEW_EMAIL, "jane.doe@example.org"])
def test_an_email_change_mail_that_fails_is_named_in_the_event(
    make_service: Callable[..., IdentityService], events: RecordingEventSink, down: str
) -> None:
    """Whether the link to the new address or the notice to the old one fails, the event says so."""
    mailer = DownFor()
    service = make_service(mailer=mailer)
    account_id = service.register(practitioner()).account.id
    service.activate(mailer.last_token())
    mailer.clear()
    mailer.down = down
    service.request_email_change(account_id, PASSWORD, NEW_EMAIL)
    event = events.events[-1]
    assert (event.action, event.outcome) == (Action.REQUEST_EMAIL_CHANGE, "success")
    assert dict(event.detail) == {"mail": "mail_delivery_failed"}
    other = ({NEW_EMAIL, "jane.doe@example.org"} - {down}).pop()
    assert [str(m["To"]) for m in mailer.messages] == [other]


# -- the words of refusals ------------------------------------------------------------------


@pytest.mark.usefixtures("active_account")
def test_a_security_answer_that_is_not_usable_is_named_in_words(service: IdentityService) -> None:
    """The support desk's check refuses a blank or non-text answer naming "Security Answer"."""
    with pytest.raises(InvalidInput) as caught:
        service.verify_security_answer("jdoe", "   ")
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "security_answer",
        "required",
        "Security Answer is required.",
    )
    with pytest.raises(InvalidInput) as caught:
        service.verify_security_answer("jdoe", 7)  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert error.message == "Security Answer must be text."


def test_deactivating_with_no_reason_or_twice_is_refused_in_words(
    service: IdentityService, active_account: str
) -> None:
    """A reason that is not a DeactivationReason, or a second deactivation: each says why."""
    with pytest.raises(InvalidInput) as caught:
        service.deactivate(active_account, "moved away")  # type: ignore[arg-type]  # wrong on purpose
    (error,) = caught.value.errors
    assert (error.field, error.code, error.message) == (
        "reason",
        "wrong_type",
        "Not a deactivation reason.",
    )
    service.deactivate(active_account)
    with pytest.raises(InvalidTransition) as refused:
        service.deactivate(active_account)
    assert refused.value.message == "The account is deactivated."


# -- user names as typed --------------------------------------------------------------------


def test_a_reset_mail_greets_the_user_name_as_registered_not_as_typed(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Registered as "JDoe", asked for as "jdoe": the reset mail shows "JDoe"."""
    service = make_service()
    service.register(practitioner(username="JDoe"))
    service.activate(mailer.last_token())
    mailer.clear()
    service.request_password_reset("jdoe")
    text = message_text(mailer.last("jane.doe@example.org"))
    assert "JDoe" in text
    assert "jdoe" not in text


def test_a_254_character_idna_user_name_gets_the_key_of_its_unicode_spelling() -> None:
    """An address of exactly 254 characters, typed with the domain as IDNA ASCII, is an address.

    Its key is the Unicode one (59 characters, a valid user name), so both
    spellings are one user name, and one with the email address.
    """
    letters = ["\U0001df1e"] * 21 + ["é"] * 8  # Latin letters whose IDNA form is long
    unicode_name = "a@" + ".".join(letters)
    ascii_name = "a@" + ".".join(idna.encode(letter).decode() for letter in letters)
    assert len(ascii_name) == 254
    key = canonical_username(unicode_name)
    assert canonical_username(ascii_name) == key == canonical_email(ascii_name).key
    assert len(key) == 59


# -- reconcile and purge_pending go on past an account they skip ----------------------------


class LosesWrites(MemoryAccountRepository):
    """Another request wins the next ``lose`` writes (replace or remove)."""

    lose = 0

    def _race(self) -> None:
        if self.lose:
            self.lose -= 1
            raise ConcurrentUpdate

    def replace(self, account: Account, *, expected_version: int) -> None:
        self._race()
        super().replace(account, expected_version=expected_version)

    def remove(self, account_id: str, *, expected_version: int) -> None:
        self._race()
        super().remove(account_id, expected_version=expected_version)


def ordered_ids(ids: Iterable[str]) -> Callable[[], str]:
    """Account ids handed out in this order (the batch jobs go by id)."""
    it = iter(ids)
    return lambda: next(it)


def test_reconcile_goes_on_past_an_account_that_changed_or_is_still_gone(
    make_service: Callable[..., IdentityService],
    directory: MemoryProviderDirectory,
    mailer: RecordingMailer,
    events: RecordingEventSink,
    clock: ManualClock,
) -> None:
    """A lost write or a record still gone skips that account only; the next is handled."""
    accounts = LosesWrites()
    service = make_service(accounts=accounts, new_account_id=ordered_ids(["a-1", "a-2", "a-3"]))
    service.register(practitioner())  # a-1, Jane
    service.activate(mailer.last_token())
    service.register(member())  # a-2, Ravi
    service.activate(mailer.last_token("rpatel@example.org"))
    service.register(ana())  # a-3, pending
    records = {record.provider_id: record for record in sample_records()}
    ended = clock.now().date()
    directory.upsert(
        [attrs.evolve(records[pid], end_date=ended) for pid in ("P1000001", "P2000002", "P2000003")]
    )
    accounts.lose = 1  # Jane's account changes meanwhile
    before = len(events.events)
    report = service.reconcile()
    assert (report.deactivated, report.reactivated) == (("alopez", "rpatel"), ())
    assert [(e.account_id, e.outcome) for e in events.events[before:]] == [
        ("a-1", "concurrent_update"),
        ("a-2", "success"),
        ("a-3", "success"),
    ]
    assert service.reconcile() == ReconcileReport(deactivated=("jdoe",))
    off = [accounts.get(account_id) for account_id in ("a-1", "a-2", "a-3")]
    assert all(
        a is not None and a.deactivation_reason is DeactivationReason.PROVIDER_LEFT_DIRECTORY
        for a in off
    )

    directory.upsert([records["P2000002"], records["P2000003"]])  # Jane's record stays ended
    accounts.lose = 1  # Ravi's account changes meanwhile
    before = len(events.events)
    report = service.reconcile()
    assert (report.deactivated, report.reactivated) == ((), ("alopez",))
    assert [(e.account_id, e.outcome) for e in events.events[before:]] == [
        ("a-2", "concurrent_update"),
        ("a-3", "success"),
    ]
    assert service.reconcile() == ReconcileReport(reactivated=("rpatel",))
    statuses = [accounts.get(account_id).status for account_id in ("a-1", "a-2", "a-3")]  # type: ignore[union-attr]  # there
    assert statuses == [AccountStatus.DEACTIVATED, AccountStatus.ACTIVE, AccountStatus.PENDING]


def test_purge_pending_goes_on_past_a_young_account_and_a_lost_race(
    make_service: Callable[..., IdentityService],
    clock: ManualClock,
    events: RecordingEventSink,
) -> None:
    """The first account by id is young, the second changes meanwhile: the third is purged."""
    accounts = LosesWrites()
    service = make_service(
        accounts=accounts,
        pending_lifetime=timedelta(days=7),
        new_account_id=ordered_ids(["b-old", "c-old", "a-young"]),
    )
    service.register(practitioner())  # b-old
    service.register(member())  # c-old
    clock.advance(timedelta(days=6))
    service.register(ana())  # a-young
    clock.advance(timedelta(days=1))
    accounts.lose = 1
    before = len(events.events)
    assert service.purge_pending() == ("rpatel",)
    assert [(e.account_id, e.outcome) for e in events.events[before:]] == [
        ("b-old", "concurrent_update"),
        ("c-old", "success"),
    ]
    assert accounts.get("c-old") is None
    assert service.purge_pending() == ("jdoe",)
    assert accounts.get("a-young") is not None
