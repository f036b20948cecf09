"""FHIR Plan-Net: records from Practitioner, PractitionerRole, Organization and Location."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from provider_identity import (
    IdentityService,
    InvalidInput,
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
)
from provider_identity.adapters.memory import MemoryProviderDirectory
from provider_identity.roster import RejectedRow, SkippedRow, import_records
from provider_identity.sources import RosterMapping, iter_plan_net
from provider_identity.testing import RecordingMailer
from tests.helpers import group, practitioner

BUNDLE = Path(__file__).resolve().parent.parent / "examples" / "plan-net-bundle.json"
MAPPING = RosterMapping(networks={"Organization/AcmeofCTPPONet": LineOfBusiness.MARKETPLACE})
JOE_NPI = "1765432103"
HOSPITAL_NPI = "1654321094"


def bundle() -> dict[str, Any]:
    """The example bundle, parsed (a fresh copy each time)."""
    return copy.deepcopy(json.loads(BUNDLE.read_bytes()))


def records(data: bytes, mapping: RosterMapping = MAPPING) -> dict[str, ProviderRecord]:
    """The records of ``data``, by Provider ID."""
    return {
        item.provider_id: item
        for item in iter_plan_net(data, mapping)
        if isinstance(item, ProviderRecord)
    }


def test_a_practitioner_record_joins_its_roles_locations_and_networks() -> None:
    """Joe Smith: NPI, the Tax ID of his first role's organization, both locations' ZIPs."""
    joe = records(BUNDLE.read_bytes())[JOE_NPI]
    assert joe == ProviderRecord(
        provider_id=JOE_NPI,
        tax_id="061234567",
        name="Joe Smith",
        zip_codes=["06102", "06103"],
        npi=JOE_NPI,
        category=ProviderCategory.PRIMARY_CARE,
        payee=Payee.INDIVIDUAL,
        lines_of_business={LineOfBusiness.MARKETPLACE},
    )


def test_an_organization_record_takes_its_own_and_its_locations_zips() -> None:
    """Hartford General Hospital: a Group, category from its HealthcareService's NUCC code."""
    hospital = records(BUNDLE.read_bytes())[HOSPITAL_NPI]
    assert (hospital.payee, hospital.category, hospital.tax_id) == (
        Payee.GROUP,
        ProviderCategory.HOSPITAL,
        "061234567",
    )
    assert hospital.zip_codes == ("06102",)


def test_networks_and_payers_are_not_providers() -> None:
    """The network Organization is skipped, not rejected; the other organizations load."""
    items = list(iter_plan_net(BUNDLE.read_bytes(), MAPPING))
    assert SkippedRow(line=1, reason="not_a_provider") in items
    assert not [item for item in items if isinstance(item, RejectedRow)]
    assert len(records(BUNDLE.read_bytes())) == 3


def test_ndjson_reads_the_same_as_the_bundle() -> None:
    """A bulk export (one resource a line) gives the bundle's records."""
    ndjson = "\n".join(json.dumps(entry["resource"]) for entry in bundle()["entry"]).encode()
    assert records(ndjson) == records(BUNDLE.read_bytes())


def test_an_unmapped_network_means_the_plans_default_line() -> None:
    """Without a mapping, the seed plan's first line (Medicaid)."""
    joe = records(BUNDLE.read_bytes(), RosterMapping())[JOE_NPI]
    assert joe.lines_of_business == {LineOfBusiness.MEDICAID}


def test_a_network_maps_by_name_too() -> None:
    """The mapping may name a network by its name instead of its reference."""
    mapping = RosterMapping(
        networks={"ACME CT Preferred Provider Network": LineOfBusiness("Medicaid")}
    )
    assert records(BUNDLE.read_bytes(), mapping)[JOE_NPI].lines_of_business == {
        LineOfBusiness.MEDICAID
    }


def test_the_plans_own_identifier_is_the_provider_id() -> None:
    """With provider_id_system, the plan's identifier on the Practitioner is the Provider ID."""
    data = bundle()
    joe = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "JoeSmith")
    joe["identifier"].append({"system": "https://plan.example/provider-id", "value": "p7000001"})
    mapping = RosterMapping(provider_id_system="https://plan.example/provider-id")
    assert records(json.dumps(data).encode(), mapping)["P7000001"].npi == JOE_NPI


def test_a_practitioner_without_a_tax_id_anywhere_is_rejected() -> None:
    """No TIN on the practitioner nor on the role's organization: tax_id required."""
    data = bundle()
    for entry in data["entry"]:
        resource = entry["resource"]
        if resource["id"] == "HartfordGeneralHospital":
            resource["identifier"] = [i for i in resource["identifier"] if "oid" not in i["system"]]
    items = list(iter_plan_net(json.dumps(data).encode(), MAPPING))
    rejected = [item for item in items if isinstance(item, RejectedRow)]
    assert {(e.field, e.code) for row in rejected for e in row.errors} == {("tax_id", "required")}
    assert len(rejected) == 2  # Joe (first role there) and the hospital itself


def test_a_practitioner_with_no_role_is_skipped() -> None:
    """A Practitioner no role points to is not in the directory."""
    data = {"resourceType": "Practitioner", "id": "x", "identifier": []}
    assert list(iter_plan_net(json.dumps(data).encode())) == [SkippedRow(line=1, reason="no_role")]


@pytest.mark.parametrize("data", [b"{not json", b'{"resourceType": "Bundle"}\n{oops'])
def test_what_is_neither_json_nor_ndjson_is_refused(data: bytes) -> None:
    """Malformed input is an InvalidInput before any record."""
    with pytest.raises(InvalidInput):
        list(iter_plan_net(data))


def test_a_practitioner_and_a_group_from_plan_net_register_through_the_seed_flow(
    make_service: Callable[..., IdentityService], mailer: RecordingMailer
) -> None:
    """Joe registers by NPI with a location's ZIP; the hospital registers as a Group."""
    directory = MemoryProviderDirectory()
    import_records(iter_plan_net(BUNDLE.read_bytes(), MAPPING), directory)
    service = make_service(directory=directory)
    joe = service.register(
        practitioner(provider_id="", npi=JOE_NPI, name="Joe Smith", tax_id="06-1234567",
                     zip_code="06103", username="jsmith", email="joe@example.org")
    )  # fmt: skip
    assert joe.account.provider_id == JOE_NPI
    hospital = service.register(
        group(provider_id=HOSPITAL_NPI, name="Hartford General Hospital", tax_id="061234567",
              zip_code="06102", username="hgh-admin", email="office@hgh.example.org")
    )  # fmt: skip
    assert hospital.account.provider_id == HOSPITAL_NPI
    assert [m["Subject"] for m in mailer.messages] == ["Activate Your Provider Portal Account"] * 2
