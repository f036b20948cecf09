"""The second-factor building blocks at their edges: limits, words, formats at rest, notices."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from provider_identity import TokenIssuer
from provider_identity.errors import ChallengeExpired, ChallengeInvalid, ConfigurationError
from provider_identity.mail import Branding
from provider_identity.mfa.challenge import LoginChallenges
from provider_identity.mfa.notices import FactorNotice, factor_notice
from provider_identity.mfa.passkeys import authentication_options, credential_id_of
from provider_identity.mfa.records import FactorRecord, Passkey, RecoveryCodes, TotpFactor
from provider_identity.mfa.recovery import RECOVERY_ALPHABET, new_recovery_codes, normalize_code
from provider_identity.mfa.secretbox import SecretBox
from provider_identity.mfa.settings import RelyingParty, SecondFactors
from provider_identity.mfa.totp import TotpEnrolment, TotpSettings
from provider_identity.testing import ManualClock, MemoryFactorStore, message_text

KEY = b"m" * 32
OTHER_KEY = b"n" * 32
NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def refusal(build: object, **settings: object) -> str:
    """The words with which ``build(**settings)`` is refused."""
    with pytest.raises(ConfigurationError) as caught:
        build(**settings)  # type: ignore[operator]  # a class
    return caught.value.message


# -- TotpSettings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "lowest", "highest"), [("digits", 6, 8), ("period", 15, 120), ("window", 0, 2)]
)
def test_totp_settings_accept_both_ends_and_refuse_just_outside(
    field: str, lowest: int, highest: int
) -> None:
    """Digits 6 to 8, period 15 to 120 s, window 0 to 2 steps: each end passes, one beyond fails."""
    assert getattr(TotpSettings(**{field: lowest}), field) == lowest  # type: ignore[arg-type]  # ints
    assert getattr(TotpSettings(**{field: highest}), field) == highest  # type: ignore[arg-type]  # ints
    words = f"TotpSettings.{field} must be an integer from {lowest} to {highest}."
    assert refusal(TotpSettings, **{field: lowest - 1}) == words
    assert refusal(TotpSettings, **{field: highest + 1}) == words


def test_totp_settings_defaults_and_blank_issuer() -> None:
    """Six digits every 30 s, one step either side, issued as "Provider Portal"; no blank issuer."""
    settings = TotpSettings()
    assert (settings.issuer, settings.digits, settings.period, settings.window) == (
        "Provider Portal",
        6,
        30,
        1,
    )
    assert refusal(TotpSettings, issuer=" ") == "TotpSettings.issuer must be non-blank text."


# RFC 6238 appendix B: the SHA-1 seed "12345678901234567890", 8 digits, 30 s steps.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode("ascii")
RFC_CODES = {59: "94287082", 1111111109: "07081804", 1111111111: "14050471", 2000000000: "69279037"}


@pytest.mark.parametrize(("seconds", "code"), sorted(RFC_CODES.items()))
def test_totp_codes_are_rfc_6238s(seconds: int, code: str) -> None:
    """The codes of the RFC's test vectors, at their times, with 8 digits."""
    settings = TotpSettings(digits=8)
    moment = datetime.fromtimestamp(seconds, UTC)
    assert settings.step(moment) == seconds // 30
    assert settings.code(RFC_SECRET, settings.step(moment)) == code
    assert settings.matching_step(RFC_SECRET, code, moment) == seconds // 30


def test_totp_step_follows_the_period() -> None:
    """A step is the seconds since 1970 divided by the period, rounded down."""
    assert TotpSettings(period=60).step(datetime.fromtimestamp(119, UTC)) == 1
    assert TotpSettings(period=60).step(datetime.fromtimestamp(120, UTC)) == 2
    assert TotpSettings(period=15).step(datetime.fromtimestamp(44, UTC)) == 2


def test_totp_window_reaches_exactly_its_steps_either_side() -> None:
    """Window 1 takes the previous and next step's codes, not those two steps away."""
    settings = TotpSettings()
    secret = settings.new_secret()
    now = datetime.fromtimestamp(30 * 1000 + 7, UTC)
    for offset in (-1, 0, 1):
        code = settings.code(secret, 1000 + offset)
        assert settings.matching_step(secret, code, now) == 1000 + offset
    for offset in (-2, 2):
        assert settings.matching_step(secret, settings.code(secret, 1000 + offset), now) is None
    tight = TotpSettings(window=0)
    assert tight.matching_step(secret, settings.code(secret, 1000), now) == 1000
    assert tight.matching_step(secret, settings.code(secret, 999), now) is None
    wide = TotpSettings(window=2)
    assert wide.matching_step(secret, settings.code(secret, 998), now) == 998
    assert wide.matching_step(secret, settings.code(secret, 1002), now) == 1002


def test_totp_secret_uri_and_qr() -> None:
    """160-bit base32 secrets; the URI names issuer, account, digits and period; an SVG QR code."""
    settings = TotpSettings(issuer="Acme Health", digits=8, period=60)
    secret = settings.new_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    assert secret != settings.new_secret()
    uri = settings.uri(secret, "jdoe")
    assert uri.startswith("otpauth://totp/Acme%20Health:jdoe?")
    for part in (f"secret={secret}", "issuer=Acme%20Health", "digits=8", "period=60"):
        assert part in uri
    enrolment = TotpEnrolment.of(secret, uri)
    assert (enrolment.secret, enrolment.uri) == (secret, uri)
    assert enrolment.qr_svg.startswith("<svg")
    assert "<title>Authenticator set-up</title>" in enrolment.qr_svg
    assert secret not in repr(enrolment)


# -- SecondFactors and RelyingParty ---------------------------------------------------------


def test_recovery_code_count_from_1_to_50() -> None:
    """Codes per set: 1 and 50 pass, 0 and 51 are refused with the range; 10 by default."""
    assert SecondFactors().recovery_codes == 10
    assert SecondFactors(recovery_codes=1).recovery_codes == 1
    assert SecondFactors(recovery_codes=50).recovery_codes == 50
    words = "SecondFactors.recovery_codes must be an integer from 1 to 50."
    assert refusal(SecondFactors, recovery_codes=0) == words
    assert refusal(SecondFactors, recovery_codes=51) == words


def test_second_factor_modes_and_what_they_need() -> None:
    """Off by default and disabled; on needs a store and a box, named in the refusal."""
    off = SecondFactors()
    assert off.mode == "off"
    assert not off.enabled
    assert off.challenge_lifetime == timedelta(minutes=5)
    assert refusal(SecondFactors, mode="on") == (
        'SecondFactors.mode must be "off", "optional" or "required".'
    )
    for mode in ("optional", "required"):
        words = f'SecondFactors(mode="{mode}") needs a store and a SecretBox (secrets=).'
        assert refusal(SecondFactors, mode=mode) == words
        assert refusal(SecondFactors, mode=mode, store=MemoryFactorStore()) == words
        assert refusal(SecondFactors, mode=mode, secrets=SecretBox(current=KEY)) == words
        on = SecondFactors(mode=mode, store=MemoryFactorStore(), secrets=SecretBox(current=KEY))
        assert on.enabled
    assert refusal(SecondFactors, challenge_lifetime=timedelta(0)) == (
        "SecondFactors.challenge_lifetime must be a timedelta longer than 0:00:00."
    )


def test_relying_party_needs_an_id_and_an_origin() -> None:
    """One origin at least; a lone string is one origin; id and name non-blank."""
    party = RelyingParty(id="portal.example", origins="https://portal.example")
    assert (party.name, party.origins) == ("Provider Portal", ("https://portal.example",))
    assert refusal(RelyingParty, id="portal.example", origins=[]) == (
        "RelyingParty.origins must list at least one origin."
    )
    assert refusal(RelyingParty, id="a", origins=["https://a.example", 5]) == (
        "RelyingParty.origins must be a list of text."
    )
    assert refusal(RelyingParty, id=" ", origins=["https://a.example"]) == (
        "RelyingParty.id must be non-blank text."
    )
    assert refusal(RelyingParty, id="a", name="", origins=["https://a.example"]) == (
        "RelyingParty.name must be non-blank text."
    )


# -- recovery codes -------------------------------------------------------------------------


def test_recovery_codes_are_two_groups_of_five() -> None:
    """``count`` codes ``xxxxx-xxxxx`` from the alphabet; typing may differ in case and gaps."""
    picks = iter("abcdefghjk" * 3)
    codes = new_recovery_codes(3, choice=lambda alphabet: next(picks)).codes
    assert codes == ("abcde-fghjk",) * 3
    random = new_recovery_codes(12).codes
    assert len(random) == 12
    assert all(len(code) == 11 and code[5] == "-" for code in random)
    assert set("".join(random).replace("-", "")) <= set(RECOVERY_ALPHABET)
    assert normalize_code(" ABCDE -\tfghjk ") == "abcdefghjk"


def test_a_typed_recovery_code_keeps_every_letter_of_the_alphabet() -> None:
    """Only blanks and hyphens go: an upper-case X (a code letter) stays, as x."""
    assert normalize_code("XXXXX-xxxxx") == "xxxxxxxxxx"
    assert normalize_code("zy9x2-W3v4u") == "zy9x2w3v4u"


# -- SecretBox ------------------------------------------------------------------------------

# Sealed and digested under KEY by this release: stored data an upgrade must keep opening.
SEALED = "v1.b011a185.85p_4Thvgg8i3cfDpdSpwTYYJ-gNbAGfhFq7J557_g4I9GCV2m6d9CI4y18="
DIGEST = "b011a185.82a39704090b3582a4ee4cb056640ce5451a4f37fea425894ef54ad9e33e3e98"
OTHER_DIGEST = "481d3045.ba03b16cc89f6fb39dc77ca08d6866594381661f1c74cd233eac8f6c38ab6ca9"


def test_secret_box_key_of_32_bytes_and_not_31() -> None:
    """32 bytes (or characters) pass, 31 are refused naming the field and the fix."""
    assert SecretBox(current=KEY).current == KEY
    assert SecretBox(current="m" * 32).current == KEY
    for short in (b"m" * 31, "m" * 31, 32):
        assert refusal(SecretBox, current=short) == (
            "SecretBox.current: keys must be str or bytes of at least 32 bytes; "
            "use secrets.token_bytes(32)."
        )
    assert refusal(SecretBox, current=KEY, previous=[b"n" * 31]) == (
        "SecretBox.previous: keys must be str or bytes of at least 32 bytes; "
        "use secrets.token_bytes(32)."
    )
    assert (
        refusal(SecretBox, current=KEY, previous=5) == "SecretBox.previous must be a list of keys."
    )
    assert SecretBox(current=KEY, previous=OTHER_KEY).previous  # type: ignore[arg-type]  # one key == (OTHER_KEY,)
    assert SecretBox(current=KEY, previous=[OTHER_KEY, "o" * 32]).previous == (OTHER_KEY, b"o" * 32)


def test_secret_box_opens_what_an_earlier_release_sealed() -> None:
    """A stored sealed secret opens for its account only, and under its key as a previous one."""
    assert SecretBox(current=KEY).open(SEALED, context="acct-1") == "JBSWY3DPEHPK3PXP"
    assert SecretBox(current=OTHER_KEY, previous=[KEY]).open(SEALED, context="acct-1") == (
        "JBSWY3DPEHPK3PXP"
    )
    for box, context in (
        (SecretBox(current=KEY), "acct-2"),
        (SecretBox(current=OTHER_KEY), "acct-1"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            box.open(SEALED, context=context)
        assert caught.value.message == (
            "A stored second-factor secret does not open with these keys."
        )
    with pytest.raises(ConfigurationError):
        SecretBox(current=KEY).open("v2" + SEALED[2:], context="acct-1")


def test_secret_box_seals_under_current_with_its_key_id() -> None:
    """A new seal names the current key, differs each time (fresh nonce) and opens."""
    box = SecretBox(current=KEY, previous=[OTHER_KEY])
    first, second = (box.seal("JBSWY3DPEHPK3PXP", context="acct-1") for _ in range(2))
    assert first.startswith("v1.b011a185.")
    assert first != second
    raw = base64.urlsafe_b64decode(first.split(".", 2)[2])
    assert len(raw) == 12 + len("JBSWY3DPEHPK3PXP") + 16  # nonce, text, GCM tag
    assert SecretBox(current=OTHER_KEY, previous=[KEY]).open(first, context="acct-1") == (
        "JBSWY3DPEHPK3PXP"
    )


def test_secret_box_digests_match_an_earlier_release() -> None:
    """A code's digest is as stored before; every key's digest is a candidate."""
    assert SecretBox(current=KEY).digest("abcde23456") == DIGEST
    assert SecretBox(current=KEY, previous=[OTHER_KEY]).digests("abcde23456") == {
        DIGEST,
        OTHER_DIGEST,
    }
    assert SecretBox(current=KEY).digest("abcde23457") != DIGEST


# -- challenges -----------------------------------------------------------------------------


def challenges(clock: ManualClock, lifetime: int = 300) -> LoginChallenges:
    issuer = TokenIssuer(current=b"k" * 32, clock=clock)
    return LoginChallenges(tokens=issuer, lifetime=timedelta(seconds=lifetime))


def test_challenge_lives_exactly_its_lifetime() -> None:
    """At 300 s old a 5-minute challenge still verifies; one second later it has expired."""
    clock = ManualClock(NOW)
    signer = challenges(clock)
    assert signer.expires_at() == NOW + timedelta(minutes=5)
    challenge = signer.issue(account_id="a1", credential_version=3, revision=7, webauthn=b"\x01")
    clock.advance(300)
    claims = signer.verify(challenge)
    assert (claims.account_id, claims.credential_version, claims.revision) == ("a1", 3, 7)
    assert (claims.webauthn, claims.issued_at) == (b"\x01", NOW)
    clock.advance(1)
    with pytest.raises(ChallengeExpired):
        signer.verify(challenge)


def test_challenge_from_the_future_within_a_minute() -> None:
    """A challenge signed 60 s ahead of this clock verifies; 61 s ahead it is refused."""
    clock = ManualClock(NOW)
    signer = challenges(clock)
    ahead = signer.issue(account_id="a1", credential_version=1, revision=0)
    clock.advance(-60)
    assert signer.verify(ahead).webauthn is None
    clock.advance(-1)
    with pytest.raises(ChallengeInvalid):
        signer.verify(ahead)


def hex_count(length: int) -> str:
    """An account id of ``length`` characters that compresses little: 0123456789abcdef101112..."""
    return "".join(f"{number:x}" for number in range(length))[:length]


def test_challenge_of_512_characters_verifies_and_longer_do_not() -> None:
    """The token length limit (512) applies to challenges, at its edge."""
    signer = challenges(ManualClock(NOW))
    longest = signer.issue(account_id=hex_count(535), credential_version=1, revision=100)
    assert len(longest) == 512
    assert signer.verify(longest).revision == 100
    over = signer.issue(account_id=hex_count(537), credential_version=1, revision=0)
    assert len(over) == 514
    with pytest.raises(ChallengeInvalid):
        signer.verify(over)


@pytest.mark.parametrize("bad", ["", "é", 5, None, "abc.def.ghi"])
def test_challenge_garbage_is_invalid(bad: object) -> None:
    """Empty, non-ASCII, non-text and garbled challenges are refused the same way."""
    with pytest.raises(ChallengeInvalid):
        challenges(ManualClock(NOW)).verify(bad)


@pytest.mark.parametrize(
    "payload",
    [
        ["a1", 1, 0, None],
        {"a": 5, "v": 1, "r": 0, "w": None},
        {"a": "a1", "v": True, "r": 0, "w": None},
        {"a": "a1", "v": 1, "r": False, "w": None},
        {"a": "a1", "v": "1", "r": 0, "w": None},
        {"a": "a1", "v": 1, "r": 0, "w": 5},
    ],
)
def test_challenge_signed_with_a_wrong_payload_is_invalid(payload: object) -> None:
    """Genuinely signed but not an account id, two whole numbers and an optional text."""
    signer = challenges(ManualClock(NOW))
    with pytest.raises(ChallengeInvalid):
        signer.verify(signer._serializer.dumps(payload))


def test_challenges_of_one_purpose_do_not_pass_for_another() -> None:
    """A login challenge is no passkey-registration state, and a rotated-out key still verifies."""
    clock = ManualClock(NOW)
    login = challenges(clock)
    issued = login.issue(account_id="a1", credential_version=1, revision=0)
    registration = LoginChallenges(
        tokens=login.tokens, lifetime=timedelta(minutes=5), purpose="passkey-registration"
    )
    with pytest.raises(ChallengeInvalid):
        registration.verify(issued)
    rotated = LoginChallenges(
        tokens=TokenIssuer(current=b"r" * 32, previous=[b"k" * 32], clock=clock),
        lifetime=timedelta(minutes=5),
    )
    assert rotated.verify(issued).account_id == "a1"


# -- notices --------------------------------------------------------------------------------


@pytest.mark.parametrize("notice", list(FactorNotice))
def test_factor_notice_headers_and_words(notice: FactorNotice) -> None:
    """From the branding's sender, to the stored address, a security-notice subject, both bodies."""
    branding = Branding(organisation="Acme", portal_name="Portal X", sender_name="desk")
    message = factor_notice(branding, notice, to="jane@example.org", username="jdoe", now=NOW)
    assert message["From"] == "desk <webmaster@provider-portal.example>"
    assert message["To"] == "jane@example.org"
    assert message["Subject"] == "Portal X Security Notice"
    assert message["Date"] == "Tue, 06 May 2031 07:08:09 +0000"
    assert message["Message-ID"].endswith("@provider-portal.example>")
    text = message_text(message)
    assert text == (
        f"Hello jdoe,\n\n{notice.value}\n\n"
        "If this was not you, use the Forgot password? link on the login page at once "
        "and call the help line.\n\n"
        "Login: https://provider-portal.example/login\n\n"
        "-- desk, Acme Portal X\n"
    )
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    markup = html_part.get_content()
    assert markup == (
        f"<!DOCTYPE html>\n<html><body><p>Hello jdoe,</p><p>{notice.value}</p>"
        "<p>If this was not you, use the Forgot password? link on the login page at once "
        "and call the help line.</p>"
        "<p>Login: https://provider-portal.example/login</p>"
        "<p>-- desk, Acme Portal X</p></body></html>\n"
    )


def test_factor_notice_counts_the_codes_left() -> None:
    """After a recovery code: how many are left, between the news and the warning."""
    message = factor_notice(
        Branding(),
        FactorNotice.RECOVERY_CODE_USED,
        to="jane@example.org",
        username="jdoe",
        now=NOW,
        remaining=0,
    )
    text = message_text(message)
    assert "your account.\n\nRecovery codes left: 0.\n\nIf this was not you" in text
    assert "<p>Recovery codes left: 0.</p>" in str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]  # has one


def test_factor_notice_message_id_takes_the_domain_after_the_last_at() -> None:
    """A quoted local part may hold an "@" (RFC 5322): the Message-ID's domain is the host's."""
    branding = Branding(sender_address='"help@desk"@portal.example')
    message = factor_notice(
        branding, FactorNotice.PASSKEY_ADDED, to="j@example.org", username="jdoe", now=NOW
    )
    assert message["Message-ID"].split("@", 1)[1] == "portal.example>"


def test_factor_notice_escapes_html() -> None:
    """A user name with markup is text in the HTML part."""
    message = factor_notice(
        Branding(), FactorNotice.FACTORS_RESET, to="j@example.org", username="<b>", now=NOW
    )
    assert "<p>Hello &lt;b&gt;,</p>" in str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]  # has one


# -- factor records at rest -----------------------------------------------------------------

LATER = NOW.replace(minute=9)
FULL_RECORD = FactorRecord(
    account_id="a1",
    revision=4,
    totp=TotpFactor(sealed_secret="v1.s1", created_at=NOW, confirmed_at=LATER, last_step=12),
    pending_totp=TotpFactor(sealed_secret="v1.s2", created_at=NOW),
    recovery=RecoveryCodes(digests=("d1", "d2"), issued=10, created_at=NOW),
    passkeys=(
        Passkey(
            credential_id="c1",
            public_key="pk1",
            sign_count=3,
            name="Phone",
            created_at=NOW,
            last_used_at=LATER,
        ),
        Passkey(credential_id="c2", public_key="pk2", sign_count=0, name="Key", created_at=NOW),
    ),
)
# What the SQL and Redis factor stores keep for FULL_RECORD: the format an upgrade must read.
FULL_JSON = (
    '{"passkeys": [{"created_at": "2031-05-06T07:08:09+00:00", "credential_id": "c1", '
    '"last_used_at": "2031-05-06T07:09:09+00:00", "name": "Phone", "public_key": "pk1", '
    '"sign_count": 3}, {"created_at": "2031-05-06T07:08:09+00:00", "credential_id": "c2", '
    '"last_used_at": null, "name": "Key", "public_key": "pk2", "sign_count": 0}], '
    '"pending_totp": {"confirmed_at": null, "created_at": "2031-05-06T07:08:09+00:00", '
    '"last_step": -1, "sealed_secret": "v1.s2"}, "recovery": {"created_at": '
    '"2031-05-06T07:08:09+00:00", "digests": ["d1", "d2"], "issued": 10}, "totp": '
    '{"confirmed_at": "2031-05-06T07:09:09+00:00", "created_at": "2031-05-06T07:08:09+00:00", '
    '"last_step": 12, "sealed_secret": "v1.s1"}}'
)


def test_a_factor_record_is_stored_as_this_json() -> None:
    """Every field under its name, keys sorted, times in ISO 8601; account and revision apart."""
    assert FULL_RECORD.dumps() == FULL_JSON
    assert FactorRecord(account_id="a1").dumps() == (
        '{"passkeys": [], "pending_totp": null, "recovery": null, "totp": null}'
    )


def test_a_stored_factor_record_reads_back_whole() -> None:
    """The stored JSON (text or bytes) is the record again, with the store's id and revision."""
    assert FactorRecord.loads("a1", 4, FULL_JSON) == FULL_RECORD
    assert FactorRecord.loads("a1", 4, FULL_JSON.encode()) == FULL_RECORD
    empty = FactorRecord.loads("a2", 0, '{"pending_totp": null, "recovery": null, "totp": null}')
    assert empty == FactorRecord(account_id="a2")


def test_what_a_record_asks_at_login() -> None:
    """TOTP and passkeys ask for a second step; recovery codes count only while some are left."""
    assert FULL_RECORD.methods == {"totp", "recovery_code", "passkey"}
    used_up = attrs.evolve(
        FULL_RECORD, recovery=RecoveryCodes(digests=(), issued=10, created_at=NOW)
    )
    assert used_up.methods == {"totp", "passkey"}
    codes_only = FactorRecord(account_id="a1", recovery=FULL_RECORD.recovery)
    assert not codes_only.has_second_factor
    assert codes_only.methods == frozenset()
    assert attrs.evolve(codes_only, passkeys=FULL_RECORD.passkeys).methods == {
        "recovery_code",
        "passkey",
    }
    following = FULL_RECORD.next(passkeys=())
    assert (following.revision, following.passkeys, following.totp) == (5, (), FULL_RECORD.totp)
    assert "v1.s1" not in repr(FULL_RECORD)
    assert "pk1" not in repr(FULL_RECORD)


# -- passkeys' plumbing ---------------------------------------------------------------------


def padded_answer(length: int, credential_id: str = "cred-1") -> str:
    """A browser answer naming ``credential_id``, padded to exactly ``length`` characters."""
    bare = json.dumps({"id": credential_id, "pad": ""})
    answer = json.dumps({"id": credential_id, "pad": "x" * (length - len(bare))})
    assert len(answer) == length
    return answer


def test_browser_answers_of_16384_characters_are_read_and_longer_are_not() -> None:
    """The size limit at its edge; an id that is not ASCII text names no credential."""
    assert credential_id_of(padded_answer(16_384)) == "cred-1"
    assert credential_id_of(padded_answer(16_385)) is None
    assert credential_id_of(padded_answer(100, "crédit")) is None
    assert credential_id_of(json.dumps({"id": 5})) is None
    assert credential_id_of("[1]") is None
    assert credential_id_of("{") is None
    assert credential_id_of(5) is None


def test_passkeys_without_the_extra_name_its_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the webauthn package: an ImportError naming ``provider-identity[webauthn]``."""
    monkeypatch.setitem(sys.modules, "webauthn", None)
    with pytest.raises(ImportError) as caught:
        credential_id_of_options()
    assert str(caught.value) == (
        "webauthn is needed here: pip install 'provider-identity[webauthn]'."
    )


def credential_id_of_options() -> str:
    """Request options for no passkey (the first thing a login with passkeys builds)."""
    party = RelyingParty(id="portal.example", origins=["https://portal.example"])
    return authentication_options(party, passkeys=(), challenge=b"c" * 32)


@pytest.mark.parametrize(
    "module", ["cryptography.hazmat.primitives.ciphers.aead", "cryptography.exceptions"]
)
def test_sealed_secrets_without_the_extra_name_its_install_line(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a secret without ``cryptography``: the ``mfa`` extra's install line."""
    importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")  # loaded before
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError) as caught:
        SecretBox(current=KEY).open(SEALED, context="acct-1")
    assert str(caught.value) == f"{module} is needed here: pip install 'provider-identity[mfa]'."


def test_sealing_without_the_extra_names_its_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing a new secret without ``cryptography``: the ``mfa`` extra's install line too."""
    importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")  # loaded before
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(ImportError) as caught:
        SecretBox(current=KEY).seal("JBSWY3DPEHPK3PXP", context="acct-1")
    assert str(caught.value) == (
        "cryptography.hazmat.primitives.ciphers.aead is needed here: "
        "pip install 'provider-identity[mfa]'."
    )


def test_the_qr_code_is_drawn_at_medium_error_correction_and_four_pixels_a_module() -> None:
    """This 102-character URI at level M is a version 6 symbol: (41 + 2 * 4) * 4 = 196 pixels."""
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = TotpSettings().uri(secret, "jdoe")
    assert len(uri) == 102
    svg = TotpEnrolment.of(secret, uri).qr_svg
    assert svg.startswith('<svg width="196" height="196" class="segno">')
    assert 'transform="scale(4)"' in svg


def test_codes_without_pyotp_name_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making or checking a code without pyotp: the ``mfa`` extra's install line."""
    monkeypatch.setitem(sys.modules, "pyotp", None)
    for call in (
        lambda: TotpSettings().code(RFC_SECRET, 1),
        lambda: TotpSettings().matching_step(RFC_SECRET, "123456", NOW),
        lambda: TotpSettings().uri(RFC_SECRET, "jdoe"),
    ):
        with pytest.raises(ImportError) as caught:
            call()
        assert str(caught.value) == "pyotp is needed here: pip install 'provider-identity[mfa]'."
