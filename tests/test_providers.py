"""Provider records and the normalisers that decide what "match exactly" means."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provider_identity import (
    GROUP_ELIGIBLE_CATEGORIES,
    InvalidInput,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    suggest_provider_type,
)
from provider_identity._fields import fold_words
from provider_identity.providers import (
    mask_tax_id,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.testing import sample_records
from provider_identity.testing.strategies import npis, provider_records

Normaliser = Callable[..., str]

#: Digits that are not ASCII: full-width, Arabic-Indic, Devanagari, superscript, circled.
FOREIGN_DIGITS = ["３", "٣", "३", "³", "③"]


def refusal(normalize: Normaliser, value: object) -> tuple[str, str]:
    """The (field, code) of the single error ``normalize`` raises for ``value``."""
    with pytest.raises(InvalidInput) as caught:
        normalize(value)
    [error] = caught.value.errors
    return error.field, error.code


@st.composite
def separated(draw: st.DrawFn, digits: str) -> str:
    """``digits`` with hyphens and spaces anywhere, before, between and after them."""
    gaps = st.sampled_from(["", "", "", "-", " ", " - ", "--"])
    return "".join(draw(gaps) + digit for digit in digits) + draw(gaps)


# -- Tax ID ----------------------------------------------------------------------------


NINE_DIGITS = st.text(string.digits, min_size=9, max_size=9)


@given(NINE_DIGITS.flatmap(lambda digits: st.tuples(st.just(digits), separated(digits))))
def test_tax_id_ignores_hyphens_and_spaces_anywhere(drawn: tuple[str, str]) -> None:
    """Any placement of hyphens and spaces around the 9 digits normalises to the digits."""
    digits, typed = drawn
    assert normalize_tax_id(typed) == digits


@pytest.mark.parametrize(
    "typed",
    [
        "31-123456",  # 8 digits
        "31-12345678",  # 10 digits
        "31-123456A",
        "AB-1234567",
        "31_1234567",
        "31.1234567",
        "31\t1234567",
        "+311234567",
        "-",
        *(f"3{digit}-1234567" for digit in FOREIGN_DIGITS),
        "３１-１２３４５６７",
        "٣١١٢٣٤٥٦٧",
    ],
)
def test_tax_id_must_be_nine_ascii_digits(typed: str) -> None:
    """Wrong length, letters, other separators and non-ASCII digits are refused."""
    assert refusal(normalize_tax_id, typed) == ("tax_id", "invalid_format")


@pytest.mark.parametrize(
    ("normalize", "field", "label"),
    [
        (normalize_tax_id, "tax_id", "Tax ID"),
        (normalize_zip, "zip_code", "ZIP Code"),
        (normalize_provider_id, "provider_id", "Provider ID"),
        (normalize_npi, "npi", "NPI"),
        (normalize_name, "name", "Name"),
    ],
)
@pytest.mark.parametrize(
    ("value", "code"),
    [("", "required"), ("   ", "required"), (None, "wrong_type"), (311234567, "wrong_type"),
     ("9" * 10_000, "too_long")],
)  # fmt: skip
def test_every_normaliser_refuses_blank_non_text_and_huge_input(
    normalize: Normaliser, field: str, label: str, value: object, code: str
) -> None:
    """Blank, non-text (an int is never accepted as an ID) and oversized input are field errors."""
    assert refusal(normalize, value) == (field, code)


def test_refusals_name_the_field_they_were_given() -> None:
    """A normaliser reports the caller's field name, e.g. the record's ``zip_codes``."""
    assert refusal(lambda v: normalize_zip(v, field="zip_codes"), "1")[0] == "zip_codes"


def test_refusal_messages_never_echo_the_tax_id() -> None:
    """A Tax ID may be an SSN: the error says what is wrong without repeating it."""
    with pytest.raises(InvalidInput) as caught:
        normalize_tax_id("31-12345678")
    assert "1234567" not in f"{caught.value} {caught.value!r} {caught.value.errors!r}"


@given(NINE_DIGITS)
def test_mask_shows_only_the_last_four_digits(digits: str) -> None:
    """The masked Tax ID keeps its last 4 digits and hides the other 5."""
    masked = mask_tax_id(digits)
    assert masked.endswith(digits[-4:])
    assert digits[:5] not in masked
    assert sum(char.isdigit() for char in masked) == 4


# -- ZIP code --------------------------------------------------------------------------


@given(
    st.text(string.digits, min_size=5, max_size=5),
    st.sampled_from(["", "-", " "]),
    st.text(string.digits, min_size=4, max_size=4),
    st.booleans(),
    st.sampled_from(["", " ", "  ", "\t"]),
)
def test_zip_compares_on_its_first_five_digits(
    five: str, separator: str, four: str, plus4: bool, padding: str
) -> None:
    """ZIP and ZIP+4 (with '-', ' ' or nothing between) normalise to the 5-digit ZIP."""
    typed = five + (separator + four if plus4 else "")
    assert normalize_zip(f"{padding}{typed}{padding}") == five


@pytest.mark.parametrize(
    "typed",
    [
        "4540",
        "454021",
        "45402-123",
        "45402-12345",
        "45402--1234",
        "45402+1234",
        "4540A",
        "45402-ABCD",
        *(f"4540{digit}" for digit in FOREIGN_DIGITS),
        "45402-123" + FOREIGN_DIGITS[0],
        "４５４０２",
    ],
)
def test_zip_must_be_ascii_zip_or_zip_plus_4(typed: str) -> None:
    """Anything but NNNNN or NNNNN-NNNN in ASCII digits is refused."""
    assert refusal(normalize_zip, typed) == ("zip_code", "invalid_format")


# -- Provider ID and NPI ---------------------------------------------------------------


@given(
    st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=30),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.sampled_from(["", " ", "  ", "\t", " \u00a0"]),
)
def test_provider_id_is_trimmed_and_upper_cased(
    provider_id: str, lower: list[bool], padding: str
) -> None:
    """Any mix of case, with surrounding whitespace, normalises to the upper-case ID."""
    typed = "".join(c.lower() if low else c for c, low in zip(provider_id, lower, strict=False))
    assert normalize_provider_id(f"{padding}{typed}{padding}") == provider_id


@pytest.mark.parametrize(
    "typed", ["P 1000001", "P_1000001", "P1000001!", "-P1", "X" * 31, "Ｐ1000001", "P１"]
)
def test_provider_id_must_be_ascii_letters_digits_and_hyphens(typed: str) -> None:
    """Inner spaces, punctuation, over 30 characters and full-width letters are refused."""
    assert refusal(normalize_provider_id, typed) == ("provider_id", "invalid_format")


@pytest.mark.parametrize("typed", ["ſ1000001", "pı1", "ﬁ1", "stra\u00df1"])
def test_provider_id_refuses_non_ascii_letters_that_upper_case_to_ascii(typed: str) -> None:
    """IDs are ASCII only: a letter is not accepted because its upper case happens to be ASCII."""
    assert refusal(normalize_provider_id, typed) == ("provider_id", "invalid_format")


def test_npi_with_valid_luhn_check_digit_is_accepted() -> None:
    """1234567893 is the standard valid example (Luhn over the 80840 prefix)."""
    assert normalize_npi(" 1234567893 ") == "1234567893"


@given(npis(), st.integers(0, 9), st.integers(1, 9))
def test_npi_luhn_catches_every_single_digit_change(npi: str, position: int, shift: int) -> None:
    """Changing any one digit of a valid NPI makes its check digit wrong."""
    changed = npi[:position] + str((int(npi[position]) + shift) % 10) + npi[position + 1 :]
    assert refusal(normalize_npi, changed) == ("npi", "invalid_check_digit")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("1234567890", "invalid_check_digit"),
        ("1234567894", "invalid_check_digit"),
        ("123456789", "invalid_format"),
        ("12345678933", "invalid_format"),
        ("123-456-7893", "invalid_format"),
        ("12345６7893", "invalid_format"),
        ("١٢٣٤٥٦٧٨٩٣", "invalid_format"),
    ],
)
def test_npi_must_be_ten_ascii_digits_with_a_valid_check_digit(typed: str, code: str) -> None:
    """A wrong check digit, wrong length, separators or non-ASCII digits are refused."""
    assert refusal(normalize_npi, typed) == ("npi", code)


# -- names -----------------------------------------------------------------------------

_WHITESPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u3000", " \n "])


def _fullwidth(char: str) -> str:
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


@st.composite
def name_spellings(draw: st.DrawFn, name: str) -> str:
    """``name`` with each letter's case changed, full-width forms, and any run of whitespace."""
    changes: list[Callable[[str], str]] = [str, str.upper, str.lower, _fullwidth]
    out = []
    for char in name:
        if char == " ":
            out.append(draw(_WHITESPACE))
        else:
            change = draw(st.sampled_from(changes))
            out.append(change(char))
    padding = draw(st.sampled_from(["", " ", "\t "]))
    return f"{padding}{''.join(out)}{padding}"


NAMES = provider_records().map(lambda record: record.name)


@given(NAMES.flatmap(lambda name: st.tuples(st.just(name), name_spellings(name))))
def test_name_spellings_share_one_key(drawn: tuple[str, str]) -> None:
    """Case, full-width letters and whitespace runs do not change a name's comparison key."""
    name, typed = drawn
    assert normalize_name(typed) == normalize_name(name)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("José  Núñez", "JOSE\u0301 NU\u0301N\u0303EZ"),  # composed vs decomposed accents
        ("Zoë O'Brien", "ZOË o'brien"),
        ("Müller-Łukasiewicz", "müller-łukasiewicz"),
        ("Ǆ Clinic", "ǆ clinic"),
    ],
)
def test_name_keys_agree_across_unicode_forms_and_case(one: str, other: str) -> None:
    """NFKC makes composed and decomposed accents agree; case folding covers non-ASCII letters."""
    assert normalize_name(one) == normalize_name(other)


@pytest.mark.parametrize(("one", "other"), [("Jane Doe", "Jane Dee"), ("Jane Doe", "JaneDoe")])
def test_different_names_have_different_keys(one: str, other: str) -> None:
    """Normalising is not fuzzy matching: a changed letter or a removed space still differs."""
    assert normalize_name(one) != normalize_name(other)


def test_names_with_control_characters_are_refused() -> None:
    """A control character other than whitespace is refused, not silently dropped."""
    assert refusal(normalize_name, "Jane\x00Doe") == ("name", "invalid_characters")


@pytest.mark.parametrize("name", ["Straß\u0301e Clinic", "Hoß\u0301 Radiology"])
def test_name_key_is_stable_under_upper_case_and_renormalising(name: str) -> None:
    """Case folding can un-compose a letter (ß + accent): the key must be NFKC-normal again."""
    key = normalize_name(name)
    assert normalize_name(name.upper()) == key
    assert normalize_name(key) == key


# -- records ---------------------------------------------------------------------------


def test_record_normalises_its_identifiers_on_construction() -> None:
    """A record as exported (formatted Tax ID, ZIP+4, lower-case ID) is stored normalised."""
    record = ProviderRecord(
        provider_id=" p1000001 ",
        tax_id="31-1234567",
        name="Jane Q. Doe",
        zip_codes=["45402-0001", "45409", "45402"],
        npi="",
    )
    assert (record.provider_id, record.tax_id, record.zip_codes, record.npi) == (
        "P1000001",
        "311234567",
        ("45402", "45409"),
        None,
    )
    assert record.name_key == "jane q. doe"


def test_record_accepts_one_zip_as_a_string() -> None:
    """A lone ZIP string is one ZIP, not five one-character ZIPs."""
    record = ProviderRecord(provider_id="P1", tax_id="311234567", name="A", zip_codes="45402")
    assert record.zip_codes == ("45402",)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"zip_codes": []}, "zip_codes"),
        ({"zip_codes": ["4540"]}, "zip_codes"),
        ({"tax_id": "31-123456"}, "tax_id"),
        ({"npi": "1234567890"}, "npi"),
        ({"provider_id": "P 1"}, "provider_id"),
    ],
)
def test_record_refuses_malformed_identifiers(changes: dict[str, object], field: str) -> None:
    """A record with a malformed identifier is refused when built."""
    fields: dict[str, object] = {
        "provider_id": "P1",
        "tax_id": "311234567",
        "name": "A",
        "zip_codes": ["45402"],
        **changes,
    }
    with pytest.raises(InvalidInput) as caught:
        ProviderRecord(**fields)  # type: ignore[arg-type]  # mixed field values
    assert caught.value.fields == {field}


@given(provider_records())
def test_record_repr_shows_only_the_tax_ids_last_four_digits(record: ProviderRecord) -> None:
    """repr (and so str, logs and tracebacks) shows only the Tax ID's last 4 digits."""
    assert f"tax_id='*****{record.tax_id[-4:]}'" in repr(record)


@pytest.mark.parametrize(
    ("payee", "expected"),
    [(Payee.GROUP, ProviderType.GROUP), (Payee.INDIVIDUAL, ProviderType.PRACTITIONER)],
)
def test_suggested_type_follows_the_welcome_letters_payee(
    payee: Payee, expected: ProviderType
) -> None:
    """The seed's tip: a Group Payee ID means Group; registered as an individual, Practitioner."""
    record = ProviderRecord(
        provider_id="X1", tax_id="311234567", name="A", zip_codes=["45402"], payee=payee
    )
    assert suggest_provider_type(record) is expected


@settings(max_examples=50)
@given(provider_records())
def test_suggested_type_ignores_everything_but_the_payee(record: ProviderRecord) -> None:
    """Category and lines of business do not change the suggestion; the payee does."""
    expected = ProviderType.GROUP if record.payee is Payee.GROUP else ProviderType.PRACTITIONER
    assert suggest_provider_type(record) is expected


def test_sample_records_suggest_their_own_type() -> None:
    """Jane Doe is a practitioner; the radiology group and the hospital are groups."""
    suggestions = {r.provider_id: suggest_provider_type(r) for r in sample_records()}
    assert suggestions["P1000001"] is ProviderType.PRACTITIONER
    assert suggestions["G2000001"] is suggestions["H4000001"] is ProviderType.GROUP


def test_group_eligible_categories_are_the_seeds_list() -> None:
    """Radiology, anesthesiology, pathology, hospitalists, ER/urgent care, labs and facilities."""
    assert {c.value for c in GROUP_ELIGIBLE_CATEGORIES} == {
        "radiology",
        "anesthesiology",
        "pathology",
        "hospitalist",
        "emergency_urgent_care",
        "laboratory",
        "hospital",
        "skilled_nursing_facility",
        "other_facility",
    }
    assert ProviderCategory.PRIMARY_CARE not in GROUP_ELIGIBLE_CATEGORIES


@given(st.text(st.characters(max_codepoint=127)))
def test_ascii_names_fold_as_nfkc_and_casefold_would(name: str) -> None:
    """ASCII text skips NFKC (a no-op there) and folds with lower(); the result is the same."""
    slow = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    assert fold_words(name) == " ".join(slow.split())


@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    shift=st.integers(min_value=-400, max_value=400),
)
def test_a_record_is_current_until_the_day_it_ends(day: date, shift: int) -> None:
    """An end date after the day keeps a record current; on or before the day it has ended."""
    fields = {"provider_id": "P1", "tax_id": "311234567", "name": "A", "zip_codes": "45402"}
    ends = day + timedelta(days=shift)
    assert ProviderRecord(**fields, end_date=ends).is_current_on(day) is (shift > 0)
    assert ProviderRecord(**fields).is_current_on(day) is True


def _textbook_luhn_ok(npi: str) -> bool:
    """CMS's recipe: the Luhn check over "80840" and the NPI, digit by digit from the right."""
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit // 10 + digit % 10
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_npi_check_digit_agrees_with_the_textbook_luhn(npi: str) -> None:
    """Every 10-digit string is accepted exactly when the Luhn check over 80840 passes."""
    if _textbook_luhn_ok(npi):
        assert normalize_npi(npi) == npi
    else:
        assert refusal(normalize_npi, npi) == ("npi", "invalid_check_digit")
