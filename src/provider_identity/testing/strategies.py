"""Hypothesis strategies for the library's inputs: passwords, identifiers, records, registrations.

Hypothesis is an optional dependency: ``pip install 'provider-identity[test]'``.
Every strategy takes keyword-only options (the password policy may also be
given positionally) and returns a :class:`~hypothesis.strategies.SearchStrategy`.
Impossible requests, such as a too-short password for a policy whose minimum
is one character but which requires a digit and a symbol, raise
:class:`~hypothesis.errors.InvalidArgument` when the strategy is built.

Example::

    from hypothesis import given
    from provider_identity import PasswordPolicy
    from provider_identity.testing.strategies import passwords

    @given(passwords(NIST_POLICY, valid=False, violating={"too_short"}))
    def test_short_passwords_are_refused(password):
        assert [v.code for v in NIST_POLICY.check(password)] == ["too_short"]
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence
from typing import Final

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as err:  # pragma: no cover  # tested with Hypothesis hidden
    raise ImportError(
        "provider_identity.testing.strategies and .state_machines need Hypothesis: "
        "pip install 'provider-identity[test]' (or pip install hypothesis)."
    ) from err

from provider_identity.errors import InvalidInput
from provider_identity.mfa.recovery import RECOVERY_ALPHABET
from provider_identity.passwords import VIOLATION_CODES, PasswordPolicy
from provider_identity.providers import (
    GROUP_ELIGIBLE_CATEGORIES,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    ProviderType,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_zip,
)
from provider_identity.registration import RegistrationRequest
from provider_identity.security_questions import DEFAULT_QUESTIONS
from provider_identity.testing._password_solver import passwords

__all__ = [
    "VIOLATION_CODES",
    "emails",
    "malformed_codes",
    "npis",
    "passwords",
    "provider_records",
    "recovery_codes",
    "registration_requests",
    "tax_ids",
    "totp_codes",
    "usernames",
    "zip_codes",
]

# -- identifiers -----------------------------------------------------------------------

_DIGITS: Final = string.digits


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text(_DIGITS, min_size=count, max_size=count)


def _formatted_tax_id(digits: str) -> st.SearchStrategy[str]:
    """The ways people write a Tax ID: plain, as an EIN, as an SSN, with spaces."""
    return st.sampled_from(
        (
            digits,
            f"{digits[:2]}-{digits[2:]}",
            f"{digits[:3]}-{digits[3:5]}-{digits[5:]}",
            f"{digits[:3]} {digits[3:5]} {digits[5:]}",
        )
    )


def tax_ids(*, formatted: bool = False) -> st.SearchStrategy[str]:
    """Tax IDs: 9 digits, or (``formatted=True``) as people write them (``31-1234567``).

    Example::

        @given(tax_ids(formatted=True))
        def test_tax_id_formatting_is_ignored(tax_id):
            assert len(normalize_tax_id(tax_id)) == 9
    """
    digits = _digits(9)
    return digits.flatmap(_formatted_tax_id) if formatted else digits


def zip_codes(*, plus4: bool | None = None) -> st.SearchStrategy[str]:
    """ZIP codes: ``NNNNN``, ``NNNNN-NNNN`` (``plus4=True``) or either (``None``).

    Example::

        @given(zip_codes(plus4=True))
        def test_zip_plus4_matches_on_five_digits(zip_code):
            assert normalize_zip(zip_code) == zip_code[:5]
    """
    five = _digits(5)
    plus = st.tuples(five, _digits(4)).map("-".join)
    if plus4 is None:
        return five | plus
    return plus if plus4 else five


def _with_check_digit(first_nine: str) -> str:
    """The one NPI that :func:`~provider_identity.providers.normalize_npi` accepts."""
    return next(
        first_nine + digit
        for digit in _DIGITS
        if _agrees(normalize_npi, first_nine + digit, first_nine + digit)
    )


def npis() -> st.SearchStrategy[str]:
    """Valid NPIs: 10 digits, starting with 1 or 2, with a correct Luhn check digit.

    Example::

        @given(npis())
        def test_npis_are_accepted(npi):
            assert normalize_npi(npi) == npi
    """
    return st.tuples(st.sampled_from("12"), _digits(8)).map(
        lambda parts: _with_check_digit("".join(parts))
    )


_USERNAME_FIRST: Final = string.ascii_letters + "éñøü"
_USERNAME_REST: Final = string.ascii_letters + string.digits + "._-" + "éñøü"


def usernames() -> st.SearchStrategy[str]:
    """Usernames :func:`~provider_identity.canonical_username` accepts: 3 to 32 characters.

    Mostly ASCII letters, digits and ``._-``, with a few accented letters.

    Example::

        @given(usernames())
        def test_usernames_are_case_insensitive(username):
            assert canonical_username(username.upper()) == canonical_username(username)
    """
    return st.tuples(
        st.sampled_from(_USERNAME_FIRST), st.text(_USERNAME_REST, min_size=2, max_size=31)
    ).map("".join)


_EMAIL_DOMAINS: Final = (
    "example.org",
    "example.com",
    "example.net",
    "mail.example.org",
    "clinic.example.com",
)


def emails() -> st.SearchStrategy[str]:
    """Email addresses email-validator accepts without DNS, on the reserved example domains.

    Example::

        @given(emails())
        def test_email_keys_ignore_case(email):
            assert canonical_email(email.upper()).key == canonical_email(email).key
    """
    segment = st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
    local = st.lists(segment, min_size=1, max_size=3).map(".".join)
    tag = st.just("") | segment.map("+{}".format)
    return st.tuples(local, tag, st.sampled_from(_EMAIL_DOMAINS)).map(
        lambda parts: f"{parts[0]}{parts[1]}@{parts[2]}"
    )


# -- provider records ------------------------------------------------------------------

_FIRST_NAMES: Final = (
    "Jane", "Ravi", "Ana", "Mohammed", "Wei", "Olga", "José", "Zoë", "Siobhán", "Kwame",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Doe", "Patel", "Lopez", "Okafor", "Chen", "Kowalski", "Núñez", "O'Brien",
    "Smith-Jones", "Müller", "Łukasiewicz",
)  # fmt: skip
_PLACES: Final = (
    "Miami Valley", "Dayton", "Columbus", "Cincinnati", "Lakeshore", "Tri-County", "St. Mary's",
)  # fmt: skip
_GROUP_LABELS: Final = {
    ProviderCategory.RADIOLOGY: "Radiology Group",
    ProviderCategory.ANESTHESIOLOGY: "Anesthesia Associates",
    ProviderCategory.PATHOLOGY: "Pathology Partners",
    ProviderCategory.HOSPITALIST: "Hospitalist Group",
    ProviderCategory.EMERGENCY_URGENT_CARE: "Urgent Care",
    ProviderCategory.LABORATORY: "Laboratory Services",
    ProviderCategory.HOSPITAL: "General Hospital",
    ProviderCategory.SKILLED_NURSING_FACILITY: "Skilled Nursing Center",
    ProviderCategory.OTHER_FACILITY: "Dialysis Center",
    ProviderCategory.PRIMARY_CARE: "Family Medicine Partners",
    ProviderCategory.SPECIALIST: "Cardiology Associates",
    ProviderCategory.BEHAVIORAL_HEALTH: "Behavioral Health Group",
    ProviderCategory.OTHER: "Health Partners",
}
_PRACTITIONER_CATEGORIES: Final = (
    ProviderCategory.PRIMARY_CARE,
    ProviderCategory.SPECIALIST,
    ProviderCategory.BEHAVIORAL_HEALTH,
    ProviderCategory.RADIOLOGY,
    ProviderCategory.ANESTHESIOLOGY,
    ProviderCategory.PATHOLOGY,
    ProviderCategory.HOSPITALIST,
    ProviderCategory.EMERGENCY_URGENT_CARE,
    ProviderCategory.OTHER,
)


def _practitioner_names() -> st.SearchStrategy[str]:
    initial = st.just("") | st.sampled_from(string.ascii_uppercase).map(" {}.".format)
    suffix = st.sampled_from(("", ", MD", ", DO", ", NP"))
    return st.tuples(
        st.sampled_from(_FIRST_NAMES), initial, st.sampled_from(_LAST_NAMES), suffix
    ).map(lambda parts: f"{parts[0]}{parts[1]} {parts[2]}{parts[3]}")


_KINDS: Final = {
    ProviderType.PRACTITIONER: ("P", Payee.INDIVIDUAL, _PRACTITIONER_CATEGORIES),
    ProviderType.GROUP: ("G", Payee.GROUP, tuple(ProviderCategory)),
}


def _names(kind: ProviderType, category: ProviderCategory) -> st.SearchStrategy[str]:
    if kind is ProviderType.PRACTITIONER:
        return _practitioner_names()
    return st.sampled_from(_PLACES).map(lambda place: f"{place} {_GROUP_LABELS[category]}")


def _records(kind: ProviderType) -> st.SearchStrategy[ProviderRecord]:
    prefix, payee, categories = _KINDS[kind]
    return st.sampled_from(categories).flatmap(
        lambda category: st.builds(
            ProviderRecord,
            provider_id=_digits(7).map(prefix.__add__),
            tax_id=tax_ids(),
            name=_names(kind, category),
            zip_codes=st.lists(zip_codes(), min_size=1, max_size=3),
            npi=st.none() | npis(),
            category=st.just(category),
            payee=st.just(payee),
            lines_of_business=st.frozensets(st.sampled_from(tuple(LineOfBusiness)), min_size=1),
        )
    )


def provider_records(*, kind: ProviderType | None = None) -> st.SearchStrategy[ProviderRecord]:
    """Realistic provider records: practitioners, groups and facilities, some with accented names.

    Args:
        kind: Records whose welcome letter suggests this type (practitioners
            are paid as individuals, groups under a Group Payee ID); both if ``None``.

    Provider IDs are ``P`` or ``G`` and 7 digits; use ``st.lists(...,
    unique_by=lambda r: r.provider_id)`` for a directory.

    Example::

        @given(provider_records(kind=ProviderType.GROUP))
        def test_group_records_suggest_group(record):
            assert suggest_provider_type(record) is ProviderType.GROUP
    """
    if kind is None:
        return _records(ProviderType.PRACTITIONER) | _records(ProviderType.GROUP)
    return _records(ProviderType(kind))


# -- registration requests -------------------------------------------------------------


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _padded(text: str) -> str:
    return f"  {text} "


_NAME_NOISE: Final[tuple[Callable[[str], str], ...]] = (
    str.upper,
    str.lower,
    str.title,
    _padded,
    lambda text: text.replace(" ", "  "),
    lambda text: text.replace(" ", "\u00a0"),
    _fullwidth,
)


def _agrees(normalize: Callable[[str], str], value: str, expected: str) -> bool:
    try:
        return normalize(value) == expected
    except InvalidInput:
        return False


def _noisy(
    canonical: str,
    variants: st.SearchStrategy[str],
    normalize: Callable[[str], str],
    expected: str,
) -> st.SearchStrategy[str]:
    """Variants that normalise to ``expected``; any that would not falls back to ``canonical``."""
    return variants.map(lambda value: value if _agrees(normalize, value, expected) else canonical)


def _name_variants(name: str, key: str) -> st.SearchStrategy[str]:
    variants = st.lists(st.sampled_from(_NAME_NOISE), max_size=3).map(
        lambda noise: functools.reduce(lambda text, change: change(text), noise, name)
    )
    return _noisy(name, variants, normalize_name, key)


def _zip_variants(zip_code: str) -> st.SearchStrategy[str]:
    plus4 = st.sampled_from(("", "-", " ")).flatmap(
        lambda separator: _digits(4).map(separator.__add__)
    )
    variants = st.tuples(st.just(zip_code), st.just("") | plus4, st.booleans()).map(
        lambda parts: _padded(parts[0] + parts[1]) if parts[2] else parts[0] + parts[1]
    )
    return _noisy(zip_code, variants, normalize_zip, zip_code)


def _id_variants(value: str, normalize: Callable[[str], str]) -> st.SearchStrategy[str]:
    variants = st.sampled_from((value, value.lower(), _padded(value), _padded(value.lower())))
    return _noisy(value, variants, normalize, value)


def _type_variants(kind: ProviderType) -> st.SearchStrategy[ProviderType | str]:
    return st.sampled_from((kind, kind.value, kind.value.title(), _padded(kind.value.upper())))


def _provider_fields(
    record: ProviderRecord, kind: ProviderType, noise: bool
) -> st.SearchStrategy[dict[str, object]]:
    """The provider part of a request for ``record``: type, name, Tax ID, ZIP and IDs."""
    zip_code = st.sampled_from(record.zip_codes)
    fields: dict[str, st.SearchStrategy[object]]
    if noise:
        fields = {
            "provider_type": _type_variants(kind),
            "name": _name_variants(record.name, record.name_key),
            "tax_id": _formatted_tax_id(record.tax_id),
            "zip_code": zip_code.flatmap(_zip_variants),
            "provider_id": _id_variants(record.provider_id, normalize_provider_id),
            "npi": _id_variants(record.npi, normalize_npi) if record.npi else st.just(""),
        }
    else:
        fields = {
            "provider_type": st.just(kind),
            "name": st.just(record.name),
            "tax_id": st.just(record.tax_id),
            "zip_code": zip_code,
            "provider_id": st.just(record.provider_id),
            "npi": st.just(record.npi or ""),
        }
    ways = ["provider_id"]
    if kind is ProviderType.PRACTITIONER and record.npi is not None:
        ways += ["npi", "both"]
    return st.tuples(st.fixed_dictionaries(fields), st.sampled_from(ways)).map(_identified)


def _identified(drawn: tuple[dict[str, object], str]) -> dict[str, object]:
    """Keep the identifiers the chosen way names: the Provider ID, the NPI, or both."""
    fields, way = drawn
    if way == "provider_id":
        fields["npi"] = ""
    elif way == "npi":
        fields["provider_id"] = ""
    return fields


def _types_for(record: ProviderRecord, kind: ProviderType | None) -> list[ProviderType]:
    eligible = [ProviderType.PRACTITIONER]
    if record.category in GROUP_ELIGIBLE_CATEGORIES:
        eligible.append(ProviderType.GROUP)
    if kind is None:
        return eligible
    if ProviderType(kind) not in eligible:
        raise InvalidArgument(
            f"registration_requests(): a {record.category.value} record cannot register as a group"
        )
    return [ProviderType(kind)]


_ANSWERS: Final = st.from_regex(r"[A-Za-z][A-Za-z' -]{0,30}[A-Za-z]", fullmatch=True)


def registration_requests(
    *,
    matching: ProviderRecord,
    formatting_noise: bool = True,
    provider_type: ProviderType | None = None,
    policy: PasswordPolicy | None = None,
    questions: Sequence[str] = DEFAULT_QUESTIONS,
    username: st.SearchStrategy[str] | None = None,
    email: st.SearchStrategy[str] | None = None,
    password: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[RegistrationRequest]:
    """Complete, valid registration requests for the provider ``matching`` names.

    Every request matches ``matching`` through
    :class:`~provider_identity.RegistrationMatcher` and passes every field
    check of :meth:`IdentityService.register`, so with the record in the
    directory and no account yet, registration succeeds.

    Args:
        matching: The provider record the request must match.
        formatting_noise: Type the details as people do: Tax ID with hyphens
            or spaces, ZIP+4, padded or lower-case IDs, the name upper-cased,
            re-spaced or in full-width letters. ``False``: the record's own form.
        provider_type: Register as this type; by default Practitioner, or
            Group when the record's category is eligible for it.
        policy: The password policy the password satisfies (the seed's by default).
        questions: The configured security questions.
        username: Where usernames come from (:func:`usernames` by default).
        email: Where emails come from (:func:`emails` by default).
        password: Where passwords come from; by default :func:`passwords`
            valid under ``policy`` for the username and email drawn.

    Example::

        @given(registration_requests(matching=record))
        def test_formatting_never_stops_a_match(request):
            assert matcher.match(parse(request)) == record
    """
    kinds = _types_for(matching, provider_type)
    providers = st.one_of([_provider_fields(matching, kind, formatting_noise) for kind in kinds])
    names = usernames() if username is None else username
    addresses = emails() if email is None else email
    chosen_questions = st.sampled_from(tuple(questions))

    @st.composite
    def requests(draw: st.DrawFn) -> RegistrationRequest:
        provider = draw(providers)
        name, address = draw(names), draw(addresses)
        secret = passwords(policy, username=name, email=address) if password is None else password
        return RegistrationRequest(
            **provider,  # type: ignore[arg-type]  # the field values drawn above
            username=name,
            email=address,
            password=draw(secret),
            security_question=draw(chosen_questions),
            security_answer=draw(_ANSWERS),
            agreement_confirmed=True,
        )

    return requests()


# -- second-factor codes ---------------------------------------------------------------


def totp_codes(*, digits: int = 6, typed: bool = False) -> st.SearchStrategy[str]:
    """Authenticator codes of ``digits`` ASCII digits; ``typed=True`` adds a space or two.

    Example::

        @given(totp_codes())
        def test_a_guess_is_refused(code):
            assume(code != app.code())
            with pytest.raises(InvalidCode):
                service.complete_login(challenge, code)
    """
    plain = _digits(digits)
    if not typed:
        return plain
    return plain.flatmap(
        lambda code: st.sampled_from(
            (code, f"{code[:3]} {code[3:]}", f" {code} ", f"{code[:3]}-{code[3:]}")
        )
    )


def recovery_codes(*, typed: bool = False) -> st.SearchStrategy[str]:
    """Recovery codes as the library makes them (``xxxxx-xxxxx``); ``typed=True``:
    as people type them (upper case, no hyphen, spaces).
    """
    text = st.text(RECOVERY_ALPHABET, min_size=10, max_size=10)
    canonical = text.map(lambda raw: f"{raw[:5]}-{raw[5:]}")
    if not typed:
        return canonical
    return canonical.flatmap(
        lambda code: st.sampled_from(
            (code, code.upper(), code.replace("-", ""), code.replace("-", " "), f" {code}")
        )
    )


_ARABIC_INDIC_DIGITS: Final = "".join(chr(0x0660 + value) for value in range(10))


def malformed_codes() -> st.SearchStrategy[object]:
    """Code inputs no factor accepts: blank, too long, non-ASCII digits, not text at all."""
    return st.one_of(
        st.just(""),
        st.just("   "),
        st.text(string.digits, min_size=65, max_size=80),
        st.text(
            "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", min_size=6, max_size=6
        ),
        st.text("\uff10\uff11\uff12\uff13\uff14\uff15", min_size=6, max_size=6),
        st.text(string.digits, min_size=1, max_size=5),
        st.none(),
        st.integers(min_value=0, max_value=999_999),
    )
