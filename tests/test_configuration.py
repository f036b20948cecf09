"""Configuration: a wrong type or an out-of-range number is a ConfigurationError, field named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from provider_identity import (
    NIST_POLICY,
    SEED_POLICY,
    Branding,
    ConfigurationError,
    IdentityService,
    Limiter,
    LimitKind,
    LockoutPolicy,
    PasswordHasher,
    PasswordPolicy,
    RateLimit,
    RateLimits,
    SecurityQuestions,
    TokenIssuer,
)
from provider_identity.adapters.outbox import (
    Dispatcher,
    FileOutboxMailer,
    MemoryOutbox,
    OutboxMailer,
)
from provider_identity.adapters.smtp import SmtpMailer
from provider_identity.mfa import RelyingParty, SecondFactors, SecretBox, TotpSettings
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    cheapest_hasher,
)
from tests.helpers import KEY

CLOCK = ManualClock()
HASHER = cheapest_hasher()


def service_fields() -> dict[str, object]:
    return {
        "directory": MemoryProviderDirectory(),
        "accounts": MemoryAccountRepository(),
        "lockouts": MemoryLockoutStore(),
        "mailer": RecordingMailer(),
        "events": RecordingEventSink(),
        "clock": CLOCK,
        "tokens": TokenIssuer(current=KEY, clock=CLOCK),
        "hasher": HASHER,
    }


#: Per class: the fields it needs, and the types each field takes (a value of
#: one of them is not junk for that field). Every init field is listed.
CLASSES: dict[type[Any], tuple[Callable[[], dict[str, object]], dict[str, tuple[type, ...]]]] = {
    PasswordPolicy: (dict, {
        "min_length": (int,), "max_length": (int,), "require_lowercase": (bool,),
        "require_uppercase": (bool,), "require_digit": (bool,), "require_symbol": (bool,),
        "context_words": (str,), "reject_identifiers": (bool,), "reject_common_patterns": (bool,),
        "blocklist": (type(None),),
        "history": (int,), "min_length_with_second_factor": (int, type(None)),
    }),
    SecondFactors: (dict, {
        "mode": (str,), "store": (type(None),), "secrets": (type(None),), "totp": (),
        "recovery_codes": (int,), "challenge_lifetime": (), "relying_party": (type(None),),
    }),
    TotpSettings: (dict, {
        "issuer": (str,), "digits": (int,), "period": (int,), "window": (int,),
    }),
    RelyingParty: (lambda: {"id": "portal.example", "origins": ("https://portal.example",)}, {
        "id": (str,), "name": (str,), "origins": (str, list, tuple),
    }),
    SecretBox: (lambda: {"current": KEY}, {"current": (), "previous": ()}),
    PasswordHasher: (dict, {"parameters": (), "max_cost_factor": (int,)}),
    LockoutPolicy: (dict, {"max_failures": (int,), "lock_duration": ()}),
    TokenIssuer: (lambda: {"current": KEY, "clock": CLOCK}, {
        "current": (), "previous": (), "clock": (), "lifetimes": (dict,), "namespace": (str,),
    }),
    SecurityQuestions: (dict, {
        "questions": (str,), "max_answer_length": (int,), "attempts": (),
    }),
    Branding: (dict, {
        "organisation": (str,), "portal_name": (str,), "sender_name": (str,),
        "sender_address": (str,), "activation_url": (str,), "reset_url": (str,),
        "login_url": (str,), "activation_subject": (str,), "verification_subject": (str,),
        "reset_subject": (str,), "password_changed_subject": (str,),
        "username_reminder_subject": (str,), "templates": (),
        "email_change_url": (str,),
        "email_change_subject": (str,),
        "email_change_notice_subject": (str,), "security_answer_changed_subject": (str,),
        "account_locked_subject": (str,),
    }),
    IdentityService: (service_fields, {
        "directory": (), "accounts": (), "lockouts": (), "mailer": (), "events": (), "delivery": (),
        "clock": (), "tokens": (), "hasher": (), "password_policy": (), "lockout_policy": (),
        "mail_throttle": (), "security_questions": (), "branding": (), "help_lines": (dict,),
        "group_categories": (), "agreement_version": (str,), "new_account_id": (),
        "pending_lifetime": (), "second_factors": (),
        "limits": (), "human_check": (type(None),),
        "device_lockout": (bool,),
    }),
    RateLimit: (lambda: {"limit": 5, "period": timedelta(minutes=1)}, {
        "limit": (int,), "period": (), "window": (), "human_check_after": (int, type(None)),
    }),
    RateLimits: (dict, {
        **{kind.value: (type(None),) for kind in LimitKind},
        "ipv6_prefix": (int,), "ipv4_prefix": (int,),
    }),
    Limiter: (lambda: {"store": MemoryLockoutStore()}, {
        "store": (), "limits": (), "clock": (), "human_check": (type(None),),
        "namespace": (str,),
    }),
    SmtpMailer: (lambda: {"host": "relay.example"}, {
        "host": (str,), "port": (int,), "security": (), "username": (str, type(None)),
        "password": (str, type(None)), "timeout": (int, float), "retries": (int,),
        "backoff": (), "ssl_context": (), "sleep": (),
    }),
    Dispatcher: (lambda: {"outbox": MemoryOutbox(), "mailer": RecordingMailer()}, {
        "outbox": (), "mailer": (), "clock": (), "batch": (int,), "lease": (),
        "backoff": (), "max_attempts": (int,),
    }),
    OutboxMailer: (lambda: {"outbox": MemoryOutbox()}, {"outbox": (), "clock": ()}),
    FileOutboxMailer: (lambda: {"folder": "outbox"}, {"folder": (str,), "clock": ()}),
}  # fmt: skip

#: Values of every kind a misconfigured deployment might pass.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
    st.builds(object),
)

SETTINGS = [(cls, name) for cls, (_, fields) in CLASSES.items() for name in sorted(fields)]


def test_every_init_field_of_every_configuration_class_is_covered() -> None:
    """The property below tries every field: a field added later must be listed here too."""
    for cls, (_, fields) in CLASSES.items():
        assert set(fields) == {f.alias for f in attrs.fields(cls) if f.init}, cls


@given(setting=st.sampled_from(SETTINGS), value=JUNK)
@example(setting=(PasswordPolicy, "context_words"), value=b"")  # empty bytes: no items, not text
@example(setting=(PasswordPolicy, "context_words"), value={})  # an empty mapping: the same
@example(setting=(TokenIssuer, "previous"), value={})
@example(setting=(PasswordHasher, "max_cost_factor"), value=None)  # read by a derived default
def test_a_wrong_typed_value_for_any_field_is_a_configuration_error(
    setting: tuple[type[Any], str], value: object
) -> None:
    """Never TypeError or AttributeError: a ConfigurationError naming the class and field."""
    cls, name = setting
    base, fields = CLASSES[cls]
    assume(type(value) not in fields[name])
    with pytest.raises(ConfigurationError) as caught:
        cls(**(base() | {name: value}))
    assert name in caught.value.message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


@pytest.mark.parametrize(
    ("cls", "changes"),
    [
        (PasswordPolicy, {"min_length": 0}),
        (PasswordPolicy, {"max_length": 63}),
        (PasswordPolicy, {"history": -1}),
        (LockoutPolicy, {"max_failures": 0}),
        (LockoutPolicy, {"max_failures": 101}),
        (LockoutPolicy, {"lock_duration": timedelta(0)}),
        (SecurityQuestions, {"max_answer_length": 0}),
        (SmtpMailer, {"host": "relay.example", "port": 0}),
        (SmtpMailer, {"host": "relay.example", "port": 65536}),
        (SmtpMailer, {"host": "relay.example", "timeout": 0}),
        (SmtpMailer, {"host": "relay.example", "retries": -1}),
        (SmtpMailer, {"host": "relay.example", "backoff": timedelta(seconds=-1)}),
        (SmtpMailer, {"host": " "}),
        (Dispatcher, {"outbox": MemoryOutbox(), "mailer": RecordingMailer(), "batch": 0}),
        (Dispatcher, {"outbox": MemoryOutbox(), "mailer": RecordingMailer(), "max_attempts": 0}),
        (TokenIssuer, {"current": KEY, "lifetimes": {"activation": timedelta(hours=1)}}),
    ],
)
def test_an_out_of_range_setting_is_a_configuration_error(
    cls: type[Any], changes: dict[str, object]
) -> None:
    """Numbers outside their documented range are refused at construction, naming the field."""
    with pytest.raises(ConfigurationError) as caught:
        cls(**changes)
    assert any(name in caught.value.message for name in changes if name not in ("outbox", "mailer"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: attrs.evolve(NIST_POLICY, min_length="sixteen"),
        lambda: attrs.evolve(SEED_POLICY, max_length=64.5),
        lambda: attrs.evolve(SEED_POLICY, require_digit="no"),
    ],
)
def test_the_presets_refuse_a_wrong_change_with_a_configuration_error(
    make: Callable[[], PasswordPolicy],
) -> None:
    """A preset evolved with a wrong type is refused at run time too (mypy refuses it first)."""
    with pytest.raises(ConfigurationError):
        make()


def test_a_configuration_error_never_quotes_the_value() -> None:
    """A wrong-typed signing key or relay password is named, never shown."""
    secret = bytearray(b"s3cret-signing-key-material-0123456789")
    with pytest.raises(ConfigurationError) as caught:
        TokenIssuer(current=secret, clock=CLOCK)  # type: ignore[arg-type]
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigurationError) as caught:
        SmtpMailer(host="relay.example", password=b"hunter2-password")  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
    assert "password" in str(caught.value)


def test_the_file_outbox_takes_a_path(tmp_path: Path) -> None:
    """A str or a Path names the folder."""
    assert FileOutboxMailer(tmp_path).folder == FileOutboxMailer(str(tmp_path)).folder


@pytest.mark.parametrize("factor", [None, "4", 4.0])
def test_a_non_int_cost_factor_is_a_configuration_error(factor: object) -> None:
    """PasswordHasher(max_cost_factor=None) is refused, not a TypeError from the ceiling."""
    with pytest.raises(ConfigurationError, match="max_cost_factor"):
        PasswordHasher(max_cost_factor=factor)  # type: ignore[arg-type]
