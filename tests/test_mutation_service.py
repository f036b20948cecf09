"""IdentityService's own configuration: account ids, the shared clock, the refusals' words.

Written for mutation testing of service.py (the flows are in ``_flows``):
each refusal's sentence is written out, and the account id's size is the
128 random bits an opaque id needs.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import pytest

from provider_identity import ConfigurationError, IdentityService, LineOfBusiness, TokenIssuer
from provider_identity.plan import PlanLines
from provider_identity.testing import ManualClock
from tests.helpers import KEY, practitioner


def test_a_new_account_gets_128_random_bits_as_32_hex_digits(service: IdentityService) -> None:
    """Two registrations get two different ids, each 32 lower-case hex digits."""
    ids = {service.new_account_id() for _ in range(20)}
    assert len(ids) == 20
    for account_id in ids:
        assert len(account_id) == 32
        assert set(account_id) <= set(string.hexdigits.lower())
    assert len(service.register(practitioner()).account.id) == 32


def test_tokens_on_another_clock_are_refused_in_words(
    make_service: Callable[..., IdentityService],
) -> None:
    """The issuer must read the service's clock; the message names both."""
    other = TokenIssuer(current=KEY, clock=ManualClock())
    with pytest.raises(ConfigurationError) as caught:
        make_service(tokens=other)
    assert caught.value.message == "TokenIssuer and IdentityService must share one clock."


@pytest.mark.parametrize("questions", [None, "What is your favourite color?", ["x"]])
def test_security_questions_of_the_wrong_type_are_refused_naming_the_setting(
    make_service: Callable[..., IdentityService], questions: Any
) -> None:
    """None, a string or a list: refused, naming the setting and the type."""
    with pytest.raises(ConfigurationError) as caught:
        make_service(security_questions=questions)
    assert caught.value.message == (
        "IdentityService.security_questions must be of type SecurityQuestions."
    )


def test_a_plain_mapping_of_help_lines_becomes_plan_lines(
    make_service: Callable[..., IdentityService],
) -> None:
    """help_lines={line: number} is kept as PlanLines with the same numbers."""
    service = make_service(help_lines={LineOfBusiness.MEDICAID: "1-800-555-0100"})
    assert isinstance(service.help_lines, PlanLines)
    assert dict(service.help_lines) == {LineOfBusiness.MEDICAID: "1-800-555-0100"}
