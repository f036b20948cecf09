"""The account's state changes as methods of the domain model, and the credential-version rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider_identity import (
    Account,
    AccountStatus,
    CanonicalEmail,
    DeactivationReason,
    InvalidInput,
    InvalidTransition,
    mask_email,
)
from tests.adapters.builders import make_account

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NEW_EMAIL = CanonicalEmail("Jane@New.example.org", "jane@new.example.org")

statuses = st.sampled_from(AccountStatus)
versions = st.integers(min_value=0, max_value=10_000)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
reasons = st.sampled_from(DeactivationReason)


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    """Any account in any state: status, version, history and activation drawn independently."""
    status = draw(statuses)
    activated = draw(st.booleans()) if status is AccountStatus.DEACTIVATED else None
    if status is AccountStatus.ACTIVE:
        activated = True
    return make_account(
        draw(st.integers(min_value=0, max_value=99)),
        status=status,
        credential_version=draw(versions),
        password_history=tuple(draw(st.lists(st.text(min_size=1, max_size=4), max_size=5))),
        activated_at=T0 if activated else None,
        deactivation_reason=draw(reasons) if status is AccountStatus.DEACTIVATED else None,
        deactivated_at=T0 if status is AccountStatus.DEACTIVATED else None,
    )


Transition = Callable[[Account], Account]

#: Each transition with whether it changes what a link or a session proves.
TRANSITIONS: dict[str, tuple[Transition, bool]] = {
    "activated": (lambda a: a.activated(T0), True),
    "with_password": (lambda a: a.with_password("$new", keep=4), True),
    "with_password (reset)": (lambda a: a.with_password("$new", keep=4, now=T0), True),
    "with_email": (lambda a: a.with_email(NEW_EMAIL.address, NEW_EMAIL.key), True),
    "deactivated": (lambda a: a.deactivated(DeactivationReason.ADMINISTRATOR, T0), True),
    "reactivated": (lambda a: a.reactivated(T0), True),
    "with_rehashed_password": (lambda a: a.with_rehashed_password("$same"), False),
    "with_pending_email": (lambda a: a.with_pending_email(NEW_EMAIL, nonce="n", now=T0), False),
    "with_security_answer": (lambda a: a.with_security_answer("Q?", "$answer"), False),
    "accepted_agreement": (lambda a: a.accepted_agreement("2", T0), False),
}


@given(account=accounts(), name=st.sampled_from(sorted(TRANSITIONS)))
def test_a_transition_bumps_the_credential_version_exactly_when_one_is_due(
    account: Account, name: str
) -> None:
    """Status, password and address changes add one to the version; nothing else touches it."""
    transition, bumps = TRANSITIONS[name]
    try:
        after = transition(account)
    except InvalidTransition:
        return  # not applicable in this state: nothing to bump
    expected = account.credential_version + 1 if bumps else account.credential_version
    assert after.credential_version == expected


@given(account=accounts(), name=st.sampled_from(sorted(TRANSITIONS)))
def test_a_transition_changes_neither_the_id_the_username_nor_the_provider(
    account: Account, name: str
) -> None:
    """The identifiers the stores index stay put (the email moves only through with_email)."""
    try:
        after = TRANSITIONS[name][0](account)
    except InvalidTransition:
        return
    assert (after.id, after.username_key, after.provider_id) == (
        account.id,
        account.username_key,
        account.provider_id,
    )
    if name != "with_email":
        assert after.email_key == account.email_key


@given(account=accounts(), chain=st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=8))
def test_no_chain_of_transitions_leaves_a_deactivated_account_with_a_version_seen_before(
    account: Account, chain: list[str]
) -> None:
    """Whatever happened before, deactivation always lands on a version no link or session has."""
    seen = {account.credential_version}
    for name in chain:
        try:
            account = TRANSITIONS[name][0](account)
        except InvalidTransition:
            continue
        if account.is_deactivated and name == "deactivated":
            assert account.credential_version not in seen
        seen.add(account.credential_version)


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("activated", {AccountStatus.PENDING}),
        ("with_pending_email", {AccountStatus.ACTIVE}),
        ("accepted_agreement", {AccountStatus.ACTIVE}),
        ("reactivated", {AccountStatus.DEACTIVATED}),
        ("deactivated", {AccountStatus.PENDING, AccountStatus.ACTIVE}),
        ("with_password", {AccountStatus.PENDING, AccountStatus.ACTIVE}),
        ("with_email", {AccountStatus.PENDING, AccountStatus.ACTIVE}),
        ("with_security_answer", {AccountStatus.PENDING, AccountStatus.ACTIVE}),
    ],
)
def test_each_transition_applies_only_in_its_states(name: str, allowed: set[AccountStatus]) -> None:
    """Outside its states a transition raises InvalidTransition, a typed error with its code."""
    for status in AccountStatus:
        account = make_account(1, status=status, activated_at=T0)
        if status in allowed:
            assert TRANSITIONS[name][0](account) != account
        else:
            with pytest.raises(InvalidTransition) as caught:
                TRANSITIONS[name][0](account)
            assert caught.value.code == "invalid_transition"


@given(account=accounts(), keep=st.integers(min_value=1, max_value=6))
def test_a_new_password_keeps_the_latest_hashes_as_history(account: Account, keep: int) -> None:
    """The old hash comes first in the history; the history holds keep - 1 hashes at most."""
    if account.is_deactivated:
        return
    after = account.with_password("$new", keep=keep)
    assert after.password_hash == "$new"
    assert after.password_history == (account.password_hash, *account.password_history)[: keep - 1]
    assert after.recent_password_hashes(keep)[0] == "$new"


def test_a_reset_activates_a_pending_account_and_a_change_does_not() -> None:
    """A reset link proves the address (pending becomes active); a plain change keeps the status."""
    pending = make_account(1)
    assert pending.with_password("$n", keep=4, now=T0).status is AccountStatus.ACTIVE
    assert pending.with_password("$n", keep=4, now=T0).activated_at == T0
    assert pending.with_password("$n", keep=4).status is AccountStatus.PENDING


def test_reactivation_returns_to_active_or_pending_as_the_account_was() -> None:
    """An account that was activated comes back active; one never activated comes back pending."""
    for activated_at, status in ((T0, AccountStatus.ACTIVE), (None, AccountStatus.PENDING)):
        account = make_account(1, status=AccountStatus.ACTIVE, activated_at=activated_at)
        off = account.deactivated(DeactivationReason.PROVIDER_LEFT_DIRECTORY, T0)
        assert (off.status, off.deactivation_reason, off.deactivated_at) == (
            AccountStatus.DEACTIVATED,
            DeactivationReason.PROVIDER_LEFT_DIRECTORY,
            T0,
        )
        back = off.reactivated(T0 + timedelta(days=1))
        assert (back.status, back.deactivation_reason, back.deactivated_at) == (status, None, None)


def test_deactivation_drops_a_pending_email_change_and_refuses_a_reason_of_the_wrong_type() -> None:
    """A pending new address dies with the account's links; "administrator" as text is refused."""
    asked = make_account(1, status=AccountStatus.ACTIVE).with_pending_email(
        NEW_EMAIL, nonce="n", now=T0
    )
    assert asked.deactivated(DeactivationReason.ADMINISTRATOR, T0).pending_email is None
    with pytest.raises(InvalidInput):
        asked.deactivated("administrator", T0)  # type: ignore[arg-type]  # the point


def test_the_pending_nonce_is_not_in_the_repr() -> None:
    """The nonce ties a link to its request; it stays out of repr like the hashes."""
    asked = make_account(1, status=AccountStatus.ACTIVE).with_pending_email(
        NEW_EMAIL, nonce="NONCE-VALUE", now=T0
    )
    assert "NONCE-VALUE" not in repr(asked)
    assert NEW_EMAIL.address in repr(asked)


@given(age=st.integers(min_value=0, max_value=20 * 24 * 3600), status=statuses)
def test_only_a_pending_account_past_its_lifetime_has_expired(
    age: int, status: AccountStatus
) -> None:
    """Expired iff pending and at least the lifetime old; the expiry is created_at + lifetime."""
    lifetime = timedelta(days=7)
    account = make_account(1, status=status, created_at=T0)
    now = T0 + timedelta(seconds=age)
    assert account.pending_expires_at(lifetime) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert account.is_expired_pending(now, lifetime) == (
        status is AccountStatus.PENDING and age >= 7 * 24 * 3600
    )


def test_the_agreement_is_needed_when_the_accepted_version_is_not_the_current_one() -> None:
    """Accepted "1": "1" needs nothing, "2" needs acceptance, which records version and time."""
    account = make_account(1, status=AccountStatus.ACTIVE, agreement_version="1")
    assert not account.needs_agreement("1")
    assert account.needs_agreement("2")
    accepted = account.accepted_agreement("2", T0 + timedelta(days=3))
    assert (accepted.agreement_version, accepted.agreement_accepted_at) == (
        "2",
        T0 + timedelta(days=3),
    )
    assert not accepted.needs_agreement("2")


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jdoe@example.org", "j***@e***.org"),
        ("Jane.Doe@mail.example.co.uk", "J***@m***.uk"),
        ("a@b.org", "a***@b***.org"),
        ("x@localhost", "x***@l***"),
    ],
)
def test_a_masked_address_shows_first_letters_and_the_top_level_domain(
    address: str, masked: str
) -> None:
    """The first letter of the local part and of the domain, and the last label; no more."""
    assert mask_email(address) == masked


def test_accounts_in_older_stores_read_as_never_deactivated() -> None:
    """The new fields default to nothing: an account built as before is unchanged in meaning."""
    account = make_account(1, status=AccountStatus.ACTIVE)
    assert (account.deactivated_at, account.deactivation_reason, account.pending_email) == (
        None,
        None,
        None,
    )
    assert attrs.evolve(account).is_active


@given(
    nonce=st.text(alphabet="abcdefXYZ0123456789-_", min_size=1, max_size=22),
    other=st.text(alphabet="abcdefXYZ0123456789-_", min_size=1, max_size=22),
    version_offset=st.integers(min_value=-3, max_value=3),
)
def test_a_confirmation_link_confirms_only_the_latest_request_of_an_unchanged_account(
    nonce: str, other: str, version_offset: int
) -> None:
    """Only the request's own nonce, at the account's own version, confirms its address."""
    asked = make_account(1, status=AccountStatus.ACTIVE).with_pending_email(
        NEW_EMAIL, nonce=nonce, now=T0
    )
    version = asked.credential_version + version_offset
    expected = other == nonce and version_offset == 0
    assert asked.confirms_pending_email(other, version) is expected
    assert asked.confirms_pending_email(None, asked.credential_version) is False
    assert make_account(1, status=AccountStatus.ACTIVE).confirms_pending_email(nonce, 0) is False
    gone = asked.deactivated(DeactivationReason.ADMINISTRATOR, T0)
    assert gone.confirms_pending_email(nonce, gone.credential_version) is False
