"""FHIR Plan-Net provider directories: a Bundle, or an NDJSON bulk export, as plain JSON.

The Da Vinci PDex Plan-Net profiles carry a plan's directory as Practitioner,
Organization, PractitionerRole, Location (and network Organizations). This
reader makes one record per practitioner that has a PractitionerRole, and
one per provider Organization (not a network, not a payer):

- NPI: the identifier with system ``http://hl7.org/fhir/sid/us-npi``;
- Tax ID: the identifier with system ``urn:oid:2.16.840.1.113883.4.4``,
  on the practitioner, else on the Organization its role is with;
- Provider ID: the identifier of the mapping's ``provider_id_system`` (the
  plan's own IDs), else the NPI;
- ZIP codes: the postal codes of the Locations its roles point to (an
  Organization: those it manages), and of its own addresses;
- lines of business: the networks its roles name (the ``network-reference``
  extension), through the mapping's ``networks`` (by reference or by the
  network's name); the plan's default line if none is mapped;
- category: the NUCC codes (``http://nucc.org/provider-taxonomy``) of its
  roles' specialties (an Organization: of the HealthcareServices it provides),
  through the plan's taxonomy map.

A resource missing what a record needs is reported as a rejected "row"
whose number is the resource's position in the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from provider_identity.errors import FieldError, InvalidInput
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderRecord,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.roster import RejectedRow, SkippedRow
from provider_identity.sources.mapping import RosterMapping

__all__ = ["NETWORK_REFERENCE", "NPI_SYSTEM", "NUCC_SYSTEM", "TAX_ID_SYSTEM", "iter_plan_net"]

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TAX_ID_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
NETWORK_REFERENCE = (
    "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/network-reference"
)
_NETWORK_TYPES = frozenset({"ntwk", "pay"})  # networks and payers register no one

Resource = Mapping[str, Any]


def _resources(data: bytes) -> list[tuple[int, Resource]]:
    """The resources of a Bundle, of one resource, or of NDJSON lines, numbered from 1."""
    try:
        document = json.loads(data)
    except json.JSONDecodeError:
        document = None
    except UnicodeDecodeError:
        raise InvalidInput.single("bundle", "invalid_encoding", "The file is not UTF-8.") from None
    if isinstance(document, Mapping):
        if document.get("resourceType") == "Bundle":
            entries = document.get("entry") or []
            found = [entry.get("resource") for entry in entries if isinstance(entry, Mapping)]
        else:
            found = [document]
    else:
        found = []
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                raise InvalidInput.single(
                    "bundle",
                    "malformed",
                    "The file is neither a FHIR Bundle nor NDJSON (one resource a line).",
                ) from None
    return [
        (number, resource)
        for number, resource in enumerate(found, start=1)
        if isinstance(resource, Mapping) and isinstance(resource.get("resourceType"), str)
    ]


def _key(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource.get('id', '')}"


def _ref(value: object) -> str | None:
    """``Type/id`` of a Reference (absolute URLs and versions trimmed)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("reference"), str):
        return None
    parts = value["reference"].split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _identifier(resource: Resource, system: str) -> str | None:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, Mapping) and identifier.get("system") == system:
            value = identifier.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _postal_codes(addresses: object) -> list[str]:
    listed: list[object] = (
        [addresses] if isinstance(addresses, Mapping) else list(addresses)
        if isinstance(addresses, list) else []
    )  # fmt: skip
    return [
        address["postalCode"]
        for address in listed
        if isinstance(address, Mapping) and isinstance(address.get("postalCode"), str)
    ]


def _codes(concepts: object, system: str) -> list[str]:
    found: list[str] = []
    for concept in concepts if isinstance(concepts, list) else []:
        for coding in concept.get("coding") or [] if isinstance(concept, Mapping) else []:
            if isinstance(coding, Mapping) and coding.get("system") == system:
                found.append(str(coding.get("code", "")))
    return found


def _human_name(practitioner: Resource) -> str:
    for name in practitioner.get("name") or []:
        if not isinstance(name, Mapping):
            continue
        if isinstance(name.get("text"), str) and name["text"].strip():
            return str(name["text"]).strip()
        given = [part for part in name.get("given") or [] if isinstance(part, str)]
        family = name.get("family")
        return " ".join([*given, family if isinstance(family, str) else ""]).strip()
    return ""


class _Directory:
    """The resources by ``Type/id``, and who points at what."""

    def __init__(self, resources: Sequence[tuple[int, Resource]]) -> None:
        self.by_key = {_key(resource): resource for _, resource in resources}
        self.roles: dict[str, list[Resource]] = {}
        self.managed: dict[str, list[Resource]] = {}
        self.services: dict[str, list[Resource]] = {}
        for _, resource in resources:
            kind = resource["resourceType"]
            if kind == "PractitionerRole" and resource.get("active", True) is not False:
                practitioner = _ref(resource.get("practitioner"))
                if practitioner:
                    self.roles.setdefault(practitioner, []).append(resource)
            elif kind == "Location":
                manager = _ref(resource.get("managingOrganization"))
                if manager:
                    self.managed.setdefault(manager, []).append(resource)
            elif kind == "HealthcareService":
                provider = _ref(resource.get("providedBy"))
                if provider:
                    self.services.setdefault(provider, []).append(resource)

    def get(self, key: str | None) -> Resource:
        return self.by_key.get(key or "", {})

    def location_zips(self, references: object) -> list[str]:
        keys = [_ref(ref) for ref in references] if isinstance(references, list) else []
        return [code for key in keys for code in _postal_codes(self.get(key).get("address"))]

    def networks(self, role: Resource) -> list[tuple[str, str]]:
        """``(reference, name)`` of each network the role names."""
        found = []
        for extension in role.get("extension") or []:
            if isinstance(extension, Mapping) and extension.get("url") == NETWORK_REFERENCE:
                key = _ref(extension.get("valueReference"))
                if key:
                    found.append((key, str(self.get(key).get("name", ""))))
        return found


def _lines(
    networks: Iterable[tuple[str, str]], mapping: RosterMapping
) -> frozenset[LineOfBusiness]:
    by_name = {name.casefold(): line for name, line in mapping.networks.items()}
    lines = {
        line
        for key, name in networks
        if (line := mapping.networks.get(key) or by_name.get(name.casefold())) is not None
    }
    return frozenset(lines) if lines else frozenset({mapping.plan.default_line})


def _record(
    resource: Resource,
    *,
    tax_holder: Resource,
    zips: list[str],
    networks: list[tuple[str, str]],
    taxonomy: list[str],
    name: str,
    payee: Payee,
    mapping: RosterMapping,
) -> ProviderRecord | tuple[FieldError, ...]:
    kind = resource["resourceType"]
    errors: list[FieldError] = []

    def check(field: str, value: str | None, normalize: Any, label: str) -> str | None:
        if value is None:
            errors.append(
                FieldError(field=field, code="required", message=f"{kind} has no {label}.")
            )
            return None
        try:
            return str(normalize(value, field=field))
        except InvalidInput as err:
            errors.extend(err.errors)
            return None

    npi_text = _identifier(resource, NPI_SYSTEM)
    npi = None if npi_text is None else check("npi", npi_text, normalize_npi, "NPI")
    own_id = (
        _identifier(resource, mapping.provider_id_system) if mapping.provider_id_system else None
    )
    provider_id = check(
        "provider_id", own_id or npi_text, normalize_provider_id, "Provider ID or NPI"
    )
    tax_text = _identifier(resource, TAX_ID_SYSTEM) or _identifier(tax_holder, TAX_ID_SYSTEM)
    tax_id = check("tax_id", tax_text, normalize_tax_id, "Tax ID")
    check("name", name or None, normalize_name, "name")
    valid_zips = [code for code in zips if check("zip_codes", code, normalize_zip, "ZIP code")]
    if not zips:
        errors.append(
            FieldError(field="zip_codes", code="required", message=f"{kind} has no ZIP code.")
        )
    if errors or provider_id is None or tax_id is None:
        return tuple(errors)
    return ProviderRecord(
        provider_id=provider_id,
        tax_id=tax_id,
        name=name,
        zip_codes=valid_zips,
        npi=npi,
        category=mapping.plan.taxonomy.category(taxonomy),
        payee=payee,
        lines_of_business=_lines(networks, mapping),
    )


def iter_plan_net(
    data: bytes, mapping: RosterMapping | None = None
) -> Iterator[ProviderRecord | RejectedRow | SkippedRow]:
    """Read a Plan-Net Bundle or NDJSON export, yielding records, rejections and skips.

    Raises:
        InvalidInput: ``data`` is not bytes, not UTF-8, or neither JSON nor NDJSON.
    """
    if not isinstance(data, bytes):
        raise InvalidInput.single("bundle", "wrong_type", 'Read the file as bytes ("rb").')
    mapping = mapping or RosterMapping()
    resources = _resources(data)
    directory = _Directory(resources)
    for number, resource in resources:
        kind = resource["resourceType"]
        if kind == "Practitioner":
            roles = directory.roles.get(_key(resource), [])
            if not roles:
                yield SkippedRow(line=number, reason="no_role")
                continue
            outcome = _record(
                resource,
                tax_holder=directory.get(_ref(roles[0].get("organization"))),
                zips=[
                    *(
                        code
                        for role in roles
                        for code in directory.location_zips(role.get("location"))
                    ),
                    *_postal_codes(resource.get("address")),
                ],
                networks=[network for role in roles for network in directory.networks(role)],
                taxonomy=[
                    code
                    for role in roles
                    for field in ("specialty", "code")
                    for code in _codes(role.get(field), NUCC_SYSTEM)
                ],
                name=_human_name(resource),
                payee=Payee.INDIVIDUAL,
                mapping=mapping,
            )
        elif kind == "Organization":
            types = set(_codes(resource.get("type"), _ORG_TYPE_SYSTEM))
            if types & _NETWORK_TYPES or (
                _identifier(resource, NPI_SYSTEM) is None
                and not (mapping.provider_id_system
                         and _identifier(resource, mapping.provider_id_system))
            ):  # fmt: skip
                yield SkippedRow(line=number, reason="not_a_provider")
                continue
            key = _key(resource)
            services = directory.services.get(key, [])
            outcome = _record(
                resource,
                tax_holder=resource,
                zips=[
                    *(
                        code
                        for location in directory.managed.get(key, [])
                        for code in _postal_codes(location.get("address"))
                    ),
                    *_postal_codes(resource.get("address")),
                ],
                networks=[],
                taxonomy=[
                    code
                    for service in services
                    for code in _codes(service.get("specialty"), NUCC_SYSTEM)
                ],
                name=str(resource.get("name", "")).strip(),
                payee=Payee.GROUP,
                mapping=mapping,
            )
        else:
            continue
        if isinstance(outcome, tuple):
            yield RejectedRow(line=number, errors=outcome)
        else:
            yield outcome


_ORG_TYPE_SYSTEM = "http://hl7.org/fhir/us/davinci-pdex-plan-net/CodeSystem/OrgTypeCS"
