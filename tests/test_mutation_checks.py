"""The configuration checks: what each accepts at its edge, and the words of each refusal."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from provider_identity import ConfigurationError
from provider_identity._checks import (
    callable_,
    duration,
    implements,
    instance_of,
    integer,
    number,
    optional,
    text,
    text_tuple,
)


def refusal(check: object, value: object) -> str:
    """The message with which ``check`` refuses ``value`` for the setting ``Demo.field``."""
    with pytest.raises(ConfigurationError) as caught:
        check.check("Demo.field", value)  # type: ignore[attr-defined]  # a Check
    return caught.value.message


def test_integer_accepts_both_ends_and_refuses_just_outside() -> None:
    """From 1 to 100: 1 and 100 pass, 0 and 101 are refused with the range in words."""
    check = integer(minimum=1, maximum=100)
    check.check("Demo.field", 1)
    check.check("Demo.field", 100)
    assert refusal(check, 0) == "Demo.field must be an integer from 1 to 100."
    assert refusal(check, 101) == "Demo.field must be an integer from 1 to 100."
    assert refusal(check, True) == "Demo.field must be an integer from 1 to 100."
    assert refusal(check, 1.0) == "Demo.field must be an integer from 1 to 100."


def test_integer_without_a_maximum_has_no_ceiling() -> None:
    """At least 3: 3 and a huge number pass, 2 is refused."""
    check = integer(minimum=3)
    check.check("Demo.field", 3)
    check.check("Demo.field", 10**30)
    assert refusal(check, 2) == "Demo.field must be an integer of at least 3."


def test_number_is_strictly_greater_than_its_bound() -> None:
    """Greater than 0.5: 0.5 itself is refused, a little more passes; ints count, bools do not."""
    check = number(above=0.5)
    check.check("Demo.field", 0.500001)
    check.check("Demo.field", 1)
    assert refusal(check, 0.5) == "Demo.field must be a number greater than 0.5."
    assert refusal(check, True) == "Demo.field must be a number greater than 0.5."
    assert refusal(check, "2") == "Demo.field must be a number greater than 0.5."


def test_duration_exclusive_and_inclusive_edges() -> None:
    """Longer than 1 s refuses exactly 1 s; at least 1 s accepts it and refuses less."""
    second = timedelta(seconds=1)
    longer = duration(minimum=second)
    longer.check("Demo.field", second + timedelta(microseconds=1))
    assert refusal(longer, second) == "Demo.field must be a timedelta longer than 0:00:01."
    inclusive = duration(minimum=second, inclusive=True)
    inclusive.check("Demo.field", second)
    assert refusal(inclusive, second - timedelta(microseconds=1)) == (
        "Demo.field must be a timedelta at least 0:00:01."
    )
    assert refusal(duration(), 5) == "Demo.field must be a timedelta longer than 0:00:00."
    assert (
        refusal(duration(), timedelta(0)) == "Demo.field must be a timedelta longer than 0:00:00."
    )


def test_text_blank_or_not() -> None:
    """Non-blank text refuses spaces; blank-allowed text takes them; neither takes bytes."""
    text().check("Demo.field", "x")
    assert refusal(text(), "  ") == "Demo.field must be non-blank text."
    text(blank=True).check("Demo.field", "  ")
    assert refusal(text(blank=True), b"x") == "Demo.field must be text."


def test_instance_of_names_the_types_and_refuses_bool_for_int() -> None:
    """The types are named with 'or'; a bool is not an int unless bool is asked for."""
    check = instance_of(int, str)
    check.check("Demo.field", 3)
    assert refusal(check, True) == "Demo.field must be of type int or str."
    instance_of(bool).check("Demo.field", True)
    assert refusal(instance_of(int, expected="a port"), None) == "Demo.field must be a port."


def test_optional_takes_none_and_says_so() -> None:
    """None passes an optional check; anything else wrong is refused as 'None or ...'."""
    check = optional(integer(minimum=1))
    check.check("Demo.field", None)
    check.check("Demo.field", 1)
    assert refusal(check, 0) == "Demo.field must be None or an integer of at least 1."
    assert refusal(integer(minimum=1), None) == "Demo.field must be an integer of at least 1."


def test_callable_and_implements() -> None:
    """A function is callable; a port needs every method named, each callable."""

    class Port:
        def send(self) -> None: ...

        receive = "not a method"

    callable_().check("Demo.field", len)
    assert refusal(callable_(), 3) == "Demo.field must be callable."
    implements("send").check("Demo.field", Port())
    assert refusal(implements("send", "receive"), Port()) == (
        "Demo.field must be an object with the method(s) send, receive."
    )


def test_a_check_used_as_validator_names_the_class_and_field() -> None:
    """As an attrs validator the refusal reads 'Class.field must be ...'."""

    @attrs.frozen
    class Settings:
        limit: int = attrs.field(validator=integer(minimum=1))

    with pytest.raises(ConfigurationError) as caught:
        Settings(limit=0)
    assert caught.value.message == "Settings.limit must be an integer of at least 1."


@pytest.mark.parametrize("values", [b"", b"ab", {}, {"a": 1}, 3, ["a", 1]])
def test_text_tuple_refuses_what_is_not_a_list_of_text(values: object) -> None:
    """Bytes, mappings, numbers and mixed lists are refused in words."""
    with pytest.raises(ConfigurationError) as caught:
        text_tuple("Demo.words", values)  # type: ignore[arg-type]  # wrong on purpose
    assert caught.value.message == "Demo.words must be a list of text."
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_text_tuple_keeps_a_lone_string_whole() -> None:
    """A string is one item, not its characters; a generator is read once into a tuple."""
    assert text_tuple("Demo.words", "care") == ("care",)
    assert text_tuple("Demo.words", (word for word in ["a", "b"])) == ("a", "b")
    assert text_tuple("Demo.words", []) == ()
