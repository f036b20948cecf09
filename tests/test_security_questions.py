"""SecurityQuestions configuration, validation and answer normalisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from provider_identity import (
    DEFAULT_QUESTIONS,
    ConfigurationError,
    InvalidInput,
    LockoutPolicy,
    SecurityQuestions,
)
from provider_identity.security_questions import normalize_answer

PET = "What is the name of your first pet?"


def validate(question: object, answer: object, **config: object) -> tuple[str | None, list[str]]:
    """The normalised answer and the ``field:code`` of every error recorded."""
    try:
        result = SecurityQuestions(**config).validate(question, answer)  # type: ignore[arg-type]
    except InvalidInput as err:
        return None, [f"{error.field}:{error.code}" for error in err.errors]
    return result, []


def test_defaults() -> None:
    """Default questions include the seed's pet question; three wrong answers lock a day."""
    config = SecurityQuestions()
    assert config.questions == DEFAULT_QUESTIONS
    assert PET in config.questions
    assert config.attempts == LockoutPolicy(max_failures=3, lock_duration=timedelta(hours=24))


@pytest.mark.parametrize("questions", [[], (), ["  "], ["Ok?", ""], ["Ok?", 1]])
def test_questions_must_be_a_non_empty_list_of_text(questions: object) -> None:
    """No questions, blank questions or non-text questions are a configuration error."""
    with pytest.raises(ConfigurationError):
        SecurityQuestions(questions=questions)  # type: ignore[arg-type]


def test_questions_accept_any_iterable_and_a_lone_string() -> None:
    """A list becomes a tuple; one string is one question, not its characters."""
    assert SecurityQuestions(questions=["A?", "B?"]).questions == ("A?", "B?")
    assert SecurityQuestions(questions="A?").questions == ("A?",)


@pytest.mark.parametrize(
    ("question", "answer", "expected", "codes"),
    [
        (PET, "  Rex ", "rex", []),
        (PET, "Ｒｅｘ", "rex", []),
        ("What is your favourite colour?", "Blue", None, ["security_question:unknown_question"]),
        (None, "Rex", None, ["security_question:unknown_question"]),
        (PET, "   ", None, ["security_answer:required"]),
        (PET, 42, None, ["security_answer:wrong_type"]),
        (PET, "x" * 129, None, ["security_answer:too_long"]),
        (PET, "Re\x00x", None, ["security_answer:invalid_characters"]),
        ("Nope?", "", None, ["security_question:unknown_question", "security_answer:required"]),
    ],
)
def test_validate(question: object, answer: object, expected: str | None, codes: list[str]) -> None:
    """Unknown questions and unusable answers are reported together; good answers normalised."""
    assert validate(question, answer) == (expected, codes)


def test_answer_length_limit_is_configurable() -> None:
    """128 characters by default; ``max_answer_length`` moves the limit."""
    assert validate(PET, "x" * 128) == ("x" * 128, [])
    assert validate(PET, "x" * 11, max_answer_length=10)[1] == ["security_answer:too_long"]


def test_validate_checks_against_the_configured_list() -> None:
    """A default question is unknown once the configuration replaces the list."""
    assert validate(PET, "Rex", questions=["Favourite colour?"])[1] == [
        "security_question:unknown_question"
    ]
    assert validate("Favourite colour?", "Blue", questions=["Favourite colour?"]) == ("blue", [])


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("  Rex ", "rex"),
        ("REX", "rex"),
        ("New \t\n York", "new york"),
        ("New\u00a0\u2003York", "new york"),
        ("ＤＡＹＴＯＮ", "dayton"),
        ("Straße", "strasse"),
        ("ﬁdo", "fido"),
    ],
)
def test_normalize_answer(spelling: str, canonical: str) -> None:
    """NFKC, case-folded, whitespace collapsed and trimmed."""
    assert normalize_answer(spelling) == canonical


@given(st.text())
@example("\u00df\u0301")  # ß + acute: "ss\u0301", then "s\u015b"
@example("\u0124\u0331")  # Ĥ + macron below
@example("\u0130\u0316")  # İ + grave below
def test_normalize_answer_is_idempotent(answer: str) -> None:
    """Normalising twice changes nothing, so stored and re-entered answers compare."""
    once = normalize_answer(answer)
    assert normalize_answer(once) == once


@pytest.mark.parametrize(
    ("upper", "lower"),
    [("\u0124\u0331", "\u0125\u0331"), ("STRASS\u0301E", "stra\u00df\u0301e")],
)
def test_case_variants_with_combining_marks_agree(upper: str, lower: str) -> None:
    """An answer typed in capitals matches its lower-case spelling, accents and all."""
    assert normalize_answer(upper) == normalize_answer(lower)


@given(st.text(), st.text(st.sampled_from(" \t\n\u00a0\u3000"), max_size=4))
def test_surrounding_and_repeated_whitespace_never_matters(answer: str, spaces: str) -> None:
    """Padding or widening the spaces of an answer normalises to the same text."""
    normal = normalize_answer(answer)
    assert normalize_answer(spaces + answer.replace(" ", " " + spaces) + spaces) == normal
    assert normal == normal.strip()
    assert "  " not in normal
