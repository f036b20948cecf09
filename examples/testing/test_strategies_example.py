"""Property tests for views built on provider-identity, with its Hypothesis strategies.

Fixtures are function-scoped, so a ``@given`` test that uses them runs every
example on the same fakes. That is fine when the view refuses (nothing is
stored), and the factory gives each example fresh stores when it is not.
"""

# ruff: noqa: S101  # pytest test files: assert is how they check

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portal_views import register_view

from provider_identity import (
    IdentityService,
    PasswordPolicy,
    ProviderRecord,
    ProviderType,
    RegistrationRequest,
)
from provider_identity.testing import (
    MemoryAccountRepository,
    MemoryLockoutStore,
    MemoryProviderDirectory,
    sample_records,
)
from provider_identity.testing.pytest_plugin import IdentityServiceFactory
from provider_identity.testing.strategies import (
    passwords,
    provider_records,
    registration_requests,
    tax_ids,
)

POLICY = PasswordPolicy()  # the seed's rules, as the identity_service fixture uses
SHARED_FIXTURES = settings(
    max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def form(request: RegistrationRequest) -> dict[str, str]:
    """What a browser would post for ``request``."""
    fields = attrs.asdict(request)
    kind = fields["provider_type"]
    fields["provider_type"] = kind.value if isinstance(kind, ProviderType) else kind
    fields["agreement_confirmed"] = "yes" if request.agreement_confirmed else ""
    return {name: value for name, value in fields.items() if isinstance(value, str)}


JANE = sample_records()[0]


@SHARED_FIXTURES
@given(data=st.data())
def test_a_password_without_digits_is_refused_beside_the_field(
    identity_service: IdentityService, data: st.DataObject
) -> None:
    """Whatever else it looks like, a password without a digit gets one field error."""
    request = data.draw(registration_requests(matching=JANE))
    password = data.draw(
        passwords(
            POLICY,
            valid=False,
            violating={"missing_digit"},
            username=request.username,
            email=request.email,
        )
    )
    response = register_view(identity_service, {**form(request), "password": password})
    assert response.status == 400
    assert response.body["errors"] == {"password": "missing_digit"}


@SHARED_FIXTURES
@given(data=st.data(), tax_id=tax_ids(formatted=True).filter(lambda t: t[:2] != "31"))
def test_a_wrong_tax_id_in_any_format_is_a_mismatch(
    identity_service_factory: IdentityServiceFactory, data: st.DataObject, tax_id: str
) -> None:
    """Another Tax ID, however it is typed, never matches Jane's record (31-1234567)."""
    service = identity_service_factory(lockouts=MemoryLockoutStore())  # mismatches are counted
    request = data.draw(registration_requests(matching=JANE))
    response = register_view(service, {**form(request), "tax_id": tax_id})
    assert response.body["code"] == "details_mismatch"


@SHARED_FIXTURES
@given(data=st.data(), record=provider_records())
def test_any_formatting_of_the_details_registers(
    identity_service_factory: IdentityServiceFactory, data: st.DataObject, record: ProviderRecord
) -> None:
    """Hyphens, ZIP+4, spacing and case never stop a registration that matches the record."""
    service = identity_service_factory(  # fresh stores for each example, limit counters too
        directory=MemoryProviderDirectory([record]),
        accounts=MemoryAccountRepository(),
        lockouts=MemoryLockoutStore(),
    )
    request = data.draw(registration_requests(matching=record))
    assert register_view(service, form(request)).status == 201
