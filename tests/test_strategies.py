"""testing.strategies: passwords for any policy, identifiers, records, registration requests."""

from __future__ import annotations

import importlib
import re
import string
import sys
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from provider_identity import (
    IdentityService,
    PasswordHasher,
    PasswordPolicy,
    ProviderType,
    RegistrationMatcher,
    TokenIssuer,
    canonical_email,
    canonical_username,
    suggest_provider_type,
)
from provider_identity.passwords import NIST_POLICY, StaticBlocklist, common_passwords
from provider_identity.providers import (
    ProviderRecord,
    normalize_npi,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.registration import ProviderDetails, RegistrationRequest
from provider_identity.testing import (
    ManualClock,
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    RecordingEventSink,
    RecordingMailer,
    sample_records,
)
from provider_identity.testing import _password_solver as solver
from provider_identity.testing.strategies import (
    VIOLATION_CODES,
    emails,
    npis,
    passwords,
    provider_records,
    registration_requests,
    tax_ids,
    usernames,
    zip_codes,
)
from tests.helpers import KEY

COMPOSITION_CODES = {
    "require_lowercase": "missing_lowercase",
    "require_uppercase": "missing_uppercase",
    "require_digit": "missing_digit",
    "require_symbol": "missing_symbol",
}
#: Short words, digits, and letters whose folding expands ("ß" -> "ss", "İ" -> "i̇").
WORD_ALPHABET = string.ascii_letters + string.digits + "@$ßİé"

blocklists = st.one_of(
    st.none(),
    st.just(common_passwords()),
    st.builds(StaticBlocklist, st.lists(st.text(max_size=16), max_size=5)),
)
policies = st.builds(
    PasswordPolicy,
    min_length=st.integers(1, 40),
    max_length=st.integers(64, 130),
    require_lowercase=st.booleans(),
    require_uppercase=st.booleans(),
    require_digit=st.booleans(),
    require_symbol=st.booleans(),
    context_words=st.lists(st.text(WORD_ALPHABET, min_size=1, max_size=8), max_size=3),
    reject_identifiers=st.booleans(),
    blocklist=blocklists,
    # The common-pattern rule (word lists, keyboard walks) has no short written-out
    # reading for oracle(); tests/test_passwords.py holds it to its examples.
    reject_common_patterns=st.just(False),
)
maybe_usernames = st.none() | usernames()
maybe_emails = st.none() | emails()


def codes(
    policy: PasswordPolicy, password: str, username: str | None, email: str | None
) -> set[str]:
    return {v.code for v in policy.check(password, username=username, email=email)}


#: The documented letter/digit swaps, written out again here, not imported.
SWAPS = str.maketrans("01!|l34@5$7+89", "oiiiieaassttbg")


def oracle(
    policy: PasswordPolicy, password: str, username: str | None, email: str | None
) -> set[str]:
    """The codes a straightforward reading of the documented rules gives, without check().

    passwords() filters its output through check() as a last safety net, so a
    test comparing with check() would restate that filter and could not fail.
    """
    normal = unicodedata.normalize("NFKC", password)
    if len(password) > 4 * policy.max_length or len(normal) > policy.max_length:
        return {"too_long"}
    categories = {unicodedata.category(char) for char in normal}
    present = {
        "missing_lowercase": "Ll" in categories,
        "missing_uppercase": bool(categories & {"Lu", "Lt"}),
        "missing_digit": "Nd" in categories,
        "missing_symbol": any(category[0] in "PSZ" for category in categories),
    }
    found = {"too_short"} if len(normal) < policy.min_length else set()
    if categories & {"Cc", "Cs"}:
        found.add("control_character")
    found |= {
        code
        for flag, code in COMPOSITION_CODES.items()
        if getattr(policy, flag) and not present[code]
    }

    def fold(text: str) -> str:
        return unicodedata.normalize("NFKC", text).casefold().translate(SWAPS)

    folded = fold(normal)
    if any(word and fold(word) in folded for word in policy.context_words):
        found.add("contains_context_word")
    identifiers = [fold(i) for i in (username, (email or "").rpartition("@")[0]) if i]
    if policy.reject_identifiers and any(len(i) >= 4 and i in folded for i in identifiers):
        found.add("contains_identifier")
    if isinstance(policy.blocklist, StaticBlocklist):
        if normal.casefold() in policy.blocklist.passwords:  # entries are stored folded
            found.add("blocklisted")
    elif policy.blocklist is not None and policy.blocklist.is_blocked(password):
        found.add("blocklisted")
    return found


def reportable(policy: PasswordPolicy, username: str | None, email: str | None) -> list[str]:
    """Codes this policy could report next to others (an independent reading of the rules)."""
    found = [code for flag, code in COMPOSITION_CODES.items() if getattr(policy, flag)]
    if policy.min_length > 1:
        found.append("too_short")
    if policy.context_words:
        found.append("contains_context_word")
    identifiers = [username, (email or "").rpartition("@")[0]]
    if policy.reject_identifiers and any(len(i or "") >= 4 for i in identifiers):
        found.append("contains_identifier")
    return [*found, "control_character"]


@st.composite
def targets(draw: st.DrawFn, policy: PasswordPolicy, username: str | None, email: str | None):
    """A set of codes to break together, or too_long (always alone)."""
    if draw(st.sampled_from(range(10))) == 9:  # not 0: Hypothesis favours it
        return frozenset({"too_long"})
    return frozenset(
        draw(st.sets(st.sampled_from(reportable(policy, username, email)), min_size=1))
    )


def build_or_skip(policy, target, username, email):
    try:
        return passwords(policy, valid=False, violating=target, username=username, email=email)
    except InvalidArgument:
        assume(False)
        raise  # pragma: no cover  # assume(False) does not return


# -- passwords -------------------------------------------------------------------------


@settings(max_examples=100)
@given(st.data(), policies, maybe_usernames, maybe_emails)
def test_valid_passwords_satisfy_any_generated_policy(data, policy, username, email) -> None:
    """passwords(policy) never yields a password the policy rejects."""
    password = data.draw(passwords(policy, username=username, email=email))
    assert oracle(policy, password, username, email) == set()


@settings(max_examples=100)
@given(st.data(), policies, maybe_usernames, maybe_emails)
def test_invalid_passwords_break_exactly_the_named_rules(data, policy, username, email) -> None:
    """valid=False, violating={...} yields passwords whose check() codes are exactly those."""
    target = data.draw(targets(policy, username, email))
    password = data.draw(build_or_skip(policy, target, username, email))
    assert oracle(policy, password, username, email) == target


@settings(max_examples=100)
@given(st.data(), policies, maybe_usernames, maybe_emails)
def test_construction_needs_no_filter(data, policy, username, email) -> None:
    """Passwords are built to the target; the final filter guards only opaque blocklists
    and the rare random text that happens to be a common word or keyboard walk."""
    target = data.draw(targets(policy, username, email) | st.just(frozenset()))
    try:
        strategy = solver._breaking(policy, target, username, email)
    except InvalidArgument:
        assume(False)
    password = data.draw(strategy)
    by_chance = {"blocklisted", "common_pattern"} - target
    assert codes(policy, password, username, email) - by_chance == target
    assert unicodedata.normalize("NFKC", password) == password


@settings(max_examples=60)
@given(st.data(), policies, maybe_usernames, maybe_emails)
def test_invalid_passwords_without_violating_break_one_rule(data, policy, username, email) -> None:
    """valid=False alone yields passwords that break exactly one rule: never accepted."""
    password = data.draw(passwords(policy, valid=False, username=username, email=email))
    assert len(oracle(policy, password, username, email)) == 1


@given(passwords(PasswordPolicy(context_words=tuple(string.ascii_lowercase))))
def test_valid_passwords_survive_a_context_word_for_every_letter(password: str) -> None:
    """With every ASCII letter forbidden, letters come from other scripts, swaps included."""
    policy = PasswordPolicy(context_words=tuple(string.ascii_lowercase))
    assert oracle(policy, password, None, None) == set()


@given(passwords(PasswordPolicy(), valid=False, violating={"contains_context_word"}))
def test_context_word_passwords_break_only_that_rule(password: str) -> None:
    """A seed password with a context word (maybe typed with swaps) breaks just that rule."""
    assert oracle(PasswordPolicy(), password, None, None) == {"contains_context_word"}


@given(passwords(PasswordPolicy(), valid=False, violating="contains_identifier", username="jdoe"))
def test_a_single_code_may_be_given_as_text(password: str) -> None:
    """violating="code" means {"code"}, not its letters."""
    assert oracle(PasswordPolicy(), password, "jdoe", None) == {"contains_identifier"}


@given(passwords(PasswordPolicy(), valid=False, violating={"contains_identifier"}, username="aßb"))
def test_identifiers_count_their_folded_length(password: str) -> None:
    """A 3-letter username that folds to 4 ("aßb" -> "assb") is searched for, as check() does."""
    assert oracle(PasswordPolicy(), password, "aßb", None) == {"contains_identifier"}


#: The seed with the built-in list as its blocklist; the common-pattern rule (which
#: also refuses most entries) is off, so entries can break "blocklisted" alone.
BLOCKLIST_ONLY = PasswordPolicy(blocklist=common_passwords(), reject_common_patterns=False)


@pytest.mark.parametrize(
    ("policy", "target"),
    [
        (NIST_POLICY, {"blocklisted"}),
        (BLOCKLIST_ONLY, {"blocklisted"}),
        (BLOCKLIST_ONLY, {"blocklisted", "missing_symbol"}),
        (BLOCKLIST_ONLY, {"blocklisted", "missing_uppercase"}),
    ],
)
def test_blocklisted_passwords_come_from_the_static_blocklist(policy, target) -> None:
    """blocklisted passwords are re-cased blocklist entries breaking exactly the target."""

    @given(passwords(policy, valid=False, violating=target))
    def check(password: str) -> None:
        assert oracle(policy, password, None, None) == target

    check()


SEED = PasswordPolicy()
OPAQUE = PasswordPolicy(blocklist=type("Opaque", (), {"is_blocked": lambda self, pw: False})())


@pytest.mark.parametrize(
    ("policy", "kwargs", "message"),
    [
        (SEED, {"violating": {"too_long", "too_short"}}, "too_long is always reported alone"),
        (NIST_POLICY, {"violating": {"missing_digit"}}, "require_digit"),
        (PasswordPolicy(min_length=1), {"violating": {"too_short"}}, "at most 0 are allowed"),
        (SEED, {"violating": {"contains_identifier"}}, "username= or email="),
        (
            PasswordPolicy(reject_identifiers=False),
            {"violating": {"contains_identifier"}, "username": "jdoe"},
            "username= or email=",
        ),
        (PasswordPolicy(context_words=()), {"violating": {"contains_context_word"}}, "context"),
        (
            SEED,
            {"violating": {"contains_context_word", "missing_lowercase", "missing_uppercase"}},
            "context word",
        ),
        (SEED, {"violating": {"blocklisted"}}, "StaticBlocklist"),
        (OPAQUE, {"violating": {"blocklisted"}}, "StaticBlocklist"),
        (NIST_POLICY, {"violating": {"blocklisted", "too_long"}}, "alone"),
        (SEED, {"violating": {"wrong_type"}}, "makes text"),
        (SEED, {"violating": {"too_weak"}}, "unknown codes"),
        (SEED, {"valid": True, "violating": {"too_short"}}, "needs valid=False"),
        (SEED, {"violating": set()}, "at least one"),
    ],
)
def test_impossible_requests_raise_invalid_argument(policy, kwargs, message) -> None:
    """Requests no password can satisfy fail at once with a clear reason."""
    kwargs = {"valid": False, **kwargs}
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        passwords(policy, **kwargs)


def test_violation_codes_are_every_code_check_reports() -> None:
    """VIOLATION_CODES is exactly what PasswordPolicy.check reports across these probes."""
    policy = PasswordPolicy(blocklist=common_passwords())
    probes = [None, "x" * 129, "", "\x00 Portal jdoe", "password123!"]
    seen = {v.code for probe in probes for v in policy.check(probe, username="jdoe")}
    assert seen == VIOLATION_CODES


def test_alphabets_hold_only_characters_of_their_class() -> None:
    """Every pool and fallback character is NFKC-stable and of the class it stands for."""
    pools = {
        **solver._OTHER_ALPHABETS,
        **{f"safe {cls}": chars for cls, chars in solver._SAFE_CHARACTERS.items()},
    }
    for name, chars in pools.items():
        cls = name.removeprefix("safe ")
        assert chars, name
        for char in chars:
            assert solver._class_of(char) == cls, (name, char)
            assert solver._usable(char), (name, char)


# -- identifiers and records -----------------------------------------------------------


@given(tax_ids(), tax_ids(formatted=True))
def test_tax_ids_normalise_to_nine_digits(plain: str, formatted: str) -> None:
    """Plain Tax IDs are 9 digits; formatted ones normalise to 9 digits."""
    assert re.fullmatch(r"[0-9]{9}", plain)
    assert len(normalize_tax_id(formatted)) == 9


@given(zip_codes(plus4=False), zip_codes(plus4=True), zip_codes())
def test_zip_codes_follow_plus4(five: str, nine: str, either: str) -> None:
    """plus4=False gives NNNNN, True NNNNN-NNNN, None either; all are accepted."""
    assert re.fullmatch(r"[0-9]{5}", five)
    assert re.fullmatch(r"[0-9]{5}-[0-9]{4}", nine)
    assert normalize_zip(either) == either[:5]


def luhn_ok(digits: str) -> bool:
    """The Luhn check, written out: double every second digit from the right."""
    doubled = [int(d) * 2 if i % 2 else int(d) for i, d in enumerate(reversed(digits))]
    return sum(n - 9 if n > 9 else n for n in doubled) % 10 == 0


@given(npis())
def test_npis_have_a_valid_check_digit(npi: str) -> None:
    """Every generated NPI is 10 digits from 1 or 2, Luhn-valid after the 80840 prefix."""
    assert re.fullmatch(r"[12][0-9]{9}", npi)
    assert luhn_ok("80840" + npi)
    assert normalize_npi(npi) == npi


@given(usernames(), emails())
def test_usernames_and_emails_are_accepted_and_distinct(username: str, email: str) -> None:
    """Usernames and emails pass canonicalisation and never share a key."""
    assert canonical_username(username) != canonical_email(email).key


@given(provider_records(kind=ProviderType.PRACTITIONER), provider_records(kind=ProviderType.GROUP))
def test_provider_records_suggest_their_kind(practitioner, group) -> None:
    """kind= decides what the welcome letter suggests."""
    assert suggest_provider_type(practitioner) is ProviderType.PRACTITIONER
    assert suggest_provider_type(group) is ProviderType.GROUP


# -- registration requests -------------------------------------------------------------


def matched(request: RegistrationRequest, record: ProviderRecord) -> ProviderRecord:
    details = ProviderDetails.parse(request)
    return RegistrationMatcher(directory=MemoryProviderDirectory([record])).match(details)


@settings(max_examples=100)
@given(st.data(), provider_records(), st.booleans())
def test_registration_requests_always_match_their_record(data, record, noise: bool) -> None:
    """Whatever the formatting, RegistrationMatcher finds the record the request was made for."""
    request = data.draw(registration_requests(matching=record, formatting_noise=noise))
    assert matched(request, record) == record


@given(st.data(), st.sampled_from(sample_records()))
def test_requests_without_noise_use_the_records_own_form(data, record) -> None:
    """formatting_noise=False types every detail as the record holds it."""
    request = data.draw(registration_requests(matching=record, formatting_noise=False))
    assert (request.name, request.tax_id) == (record.name, record.tax_id)
    assert request.zip_code in record.zip_codes


#: Each kind of harmless noise, as seen on a request for sample record P1000001.
NOISE = {
    "tax id hyphens or spaces": lambda request: "-" in request.tax_id or " " in request.tax_id,
    "zip+4": lambda request: len(request.zip_code.strip()) > 5,
    "padded zip": lambda request: request.zip_code != request.zip_code.strip(),
    "name spelling": lambda request: request.name != "Jane Q. Doe",
    "lower-case id": lambda request: request.provider_id.strip() == "p1000001",
    "npi instead of id": lambda request: request.npi != "" and request.provider_id == "",
    "type as text": lambda request: isinstance(request.provider_type, str),
}


def test_formatting_noise_really_varies_the_details() -> None:
    """Each kind of harmless noise occurs, and every noisy request still matches."""
    record = sample_records()[0]
    seen: set[str] = set()

    @settings(max_examples=200, derandomize=True, database=None)
    @given(registration_requests(matching=record, password=st.just("Blue-Heron-2031")))
    def collect(request: RegistrationRequest) -> None:
        assert matched(request, record) == record
        seen.update(name for name, noisy in NOISE.items() if noisy(request))

    collect()
    assert seen == set(NOISE)


@settings(max_examples=25)
@given(data=st.data(), record=provider_records())
def test_registration_requests_register(data, record, hasher: PasswordHasher) -> None:
    """A drawn request passes every check of IdentityService.register and stores an account."""
    request = data.draw(registration_requests(matching=record))
    clock = ManualClock()
    service = IdentityService(
        directory=MemoryProviderDirectory([record]),
        accounts=MemoryAccountRepository(),
        lockouts=MemoryLockoutStore(),
        mailer=RecordingMailer(),
        events=RecordingEventSink(),
        clock=clock,
        tokens=TokenIssuer(current=KEY, clock=clock),
        hasher=hasher,
    )
    result = service.register(request)
    assert (result.account.provider_id, result.activation_sent) == (record.provider_id, True)


def test_group_requests_for_an_ineligible_record_are_impossible() -> None:
    """provider_type=GROUP for a primary-care group cannot match, so it is refused."""
    family_medicine = next(r for r in sample_records() if r.provider_id == "G3000001")
    with pytest.raises(InvalidArgument, match="cannot register as a group"):
        registration_requests(matching=family_medicine, provider_type=ProviderType.GROUP)


# -- Hypothesis stays optional ----------------------------------------------------------


HYPOTHESIS_MODULES = (
    "provider_identity.testing.strategies",
    "provider_identity.testing.state_machines",
)


@pytest.mark.parametrize("module", HYPOTHESIS_MODULES)
def test_missing_hypothesis_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """Without Hypothesis, importing the strategies or state machines names the extra to install."""
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    for name in (*HYPOTHESIS_MODULES, "provider_identity.testing._password_solver"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError, match=re.escape("pip install 'provider-identity[test]'")):
        importlib.import_module(module)
