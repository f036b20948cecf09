"""A plan's own roster layout, declared in a mapping file, and the dirt real rosters carry.

A mapping file (TOML or JSON, the same keys) says which of the plan's
columns feed which record field; see ``docs/sources.md`` for the format.
Every cell goes through :func:`clean` first: the fixes for spreadsheet dirt
(Excel's ``=`` prefixes, ``<UNAVAIL>``, ZIP codes that lost their leading
zero) are each off by default, so a dirty cell is reported on its row with
the option that fixes it, and on once the plan has decided they are safe.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from provider_identity.errors import ConfigurationError, FieldError, InvalidInput
from provider_identity.plan import SEED_PLAN, Plan, PlanLine, PlanLines
from provider_identity.providers import LineOfBusiness, ProviderCategory

__all__ = ["FIELDS", "Fixes", "PayeeValues", "RosterMapping", "clean", "clean_zip", "load_mapping"]

#: Record fields a mapping may feed, and whether a roster must have them.
FIELDS: Mapping[str, bool] = {
    "provider_id": True,
    "tax_id": True,
    "name": True,
    "zip_codes": True,
    "npi": False,
    "category": False,
    "taxonomy": False,
    "payee": False,
    "lines_of_business": False,
}

_UNAVAILABLE = "<UNAVAIL>"
_EXCEL = re.compile(r'=\s*"?(.*?)"?\s*', re.DOTALL)
_SHORT_ZIP = re.compile(r"([0-9]{3,4})(?:-?([0-9]{4}))?", re.ASCII)
_SHORT_ZIP4 = re.compile(r"[0-9]{7,8}", re.ASCII)


@attrs.frozen(kw_only=True)
class Fixes:
    """Which kinds of spreadsheet dirt to repair rather than report (all off by default).

    Attributes:
        excel_prefix: ``="02101"`` or ``=02101`` (Excel's keep-as-text trick) reads as ``02101``.
        unavailable_as_missing: ``<UNAVAIL>`` (as NPPES prints a withheld value) is an empty cell.
        zip_leading_zeros: A ZIP of 3 or 4 digits (``2101``), or a ZIP+4 of 7 or 8
            (``21011234``), lost its leading zeros to a number format: pad it.
    """

    excel_prefix: bool = False
    unavailable_as_missing: bool = False
    zip_leading_zeros: bool = False


def _error(column: str, code: str, message: str) -> FieldError:
    return FieldError(field=column, code=code, message=message)


def clean(text: str, column: str, fixes: Fixes) -> str | FieldError:
    """The cell's text, stripped and repaired as ``fixes`` allow, or the dirt it holds."""
    text = text.strip()
    if text.startswith("="):
        if not fixes.excel_prefix:
            return _error(
                column,
                "excel_formula",
                f"{column} holds an Excel formula (=...); "
                "set fixes.excel_prefix to read its value.",
            )
        match = _EXCEL.fullmatch(text)
        text = (match.group(1) if match else text[1:]).strip()
    if text.upper() == _UNAVAILABLE:
        if not fixes.unavailable_as_missing:
            return _error(
                column,
                "unavailable",
                f"{column} says <UNAVAIL>; set fixes.unavailable_as_missing to treat it as empty.",
            )
        return ""
    return text


def clean_zip(text: str, column: str, fixes: Fixes) -> str | FieldError:
    """A ZIP cell (already :func:`clean`), its lost leading zeros restored if ``fixes`` allow.

    ZIP+4 without a hyphen (``021011234``) needs no fix: the normaliser takes it.
    """
    short = _SHORT_ZIP.fullmatch(text) or _SHORT_ZIP4.fullmatch(text)
    if short is None:
        return text
    if not fixes.zip_leading_zeros:
        return _error(
            column,
            "zip_lost_leading_zero",
            f"{column} {text} looks like a ZIP code that lost its leading zero; "
            "set fixes.zip_leading_zeros to restore it.",
        )
    if short.re is _SHORT_ZIP4:
        return text.zfill(9)
    five, plus4 = short.group(1).zfill(5), short.group(2)
    return five if plus4 is None else f"{five}-{plus4}"


@attrs.frozen(kw_only=True)
class PayeeValues:
    """Which cell values of the payee column mean a Group Payee ID and which an individual.

    Compared ignoring case and surrounding space; an empty cell is ``default``.
    """

    group: frozenset[str] = frozenset({"group"})
    individual: frozenset[str] = frozenset({"individual"})
    default: str = "individual"


def _columns(value: object) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError("columns maps record fields to the plan's column names.")
    columns: dict[str, tuple[str, ...]] = {}
    for field, names in value.items():
        if field not in FIELDS:
            raise ConfigurationError(f"columns.{field} is not a field ({', '.join(FIELDS)}).")
        listed = (names,) if isinstance(names, str) else tuple(names)
        if not listed or not all(isinstance(name, str) and name.strip() for name in listed):
            raise ConfigurationError(f"columns.{field} names one column or a list of them.")
        columns[field] = tuple(name.strip() for name in listed)
    return columns


@attrs.frozen(kw_only=True)
class RosterMapping:
    """How a plan's own roster (or Plan-Net export) becomes provider records.

    Attributes:
        columns: Record field -> the plan's columns feeding it, in order. Several
            ``zip_codes``, ``lines_of_business`` or ``taxonomy`` columns combine
            (every value counts); several ``name`` columns are joined with a
            space (first, last); for the other fields the first non-empty wins.
        values: Field -> the plan's value -> ours, for ``category`` and
            ``lines_of_business`` (e.g. ``{"MA": "MedicareAdvantage"}``).
        payee: Which payee cells mean group and which individual.
        fixes: Which spreadsheet dirt to repair.
        plan: The plan's lines of business and categories.
        networks: Plan-Net: a network's reference (``Organization/acme-ppo``)
            or name -> the line of business it stands for.
        provider_id_system: Plan-Net: the identifier system of the plan's own
            provider IDs (the NPI is the Provider ID without it).
    """

    columns: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_columns)
    values: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    payee: PayeeValues = PayeeValues()
    fixes: Fixes = Fixes()
    plan: Plan = SEED_PLAN
    networks: Mapping[str, LineOfBusiness] = attrs.field(factory=dict)
    provider_id_system: str | None = None

    _folded: Mapping[str, Mapping[str, str]] = attrs.field(init=False, repr=False, eq=False)

    @_folded.default
    def _fold_values(self) -> Mapping[str, Mapping[str, str]]:
        return {
            field: {key.casefold(): ours for key, ours in table.items()}
            for field, table in self.values.items()
        }

    def translate(self, field: str, value: str) -> str:
        """``value`` as the plan's ``values`` table for ``field`` renames it (else unchanged)."""
        table = self._folded.get(field)
        return value if not table else table.get(value.casefold(), value)


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} must be a table.")
    return value


def _strings(value: object, key: str) -> list[str]:
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, Sequence) or not all(isinstance(item, str) for item in listed):
        raise ConfigurationError(f"{key} must be text or a list of text.")
    return [item.strip().casefold() for item in listed]


def _plan(data: Mapping[str, Any]) -> Plan:
    declared = data.get("lines_of_business")
    lines = SEED_PLAN.lines
    if declared is not None:
        if not isinstance(declared, Sequence) or not all(isinstance(d, Mapping) for d in declared):
            raise ConfigurationError(
                "lines_of_business is a list of {code, display_name, help_line} tables."
            )
        try:
            lines = PlanLines([PlanLine(**line) for line in declared])
        except TypeError as err:
            raise ConfigurationError(
                "Each line of business has code, display_name and help_line."
            ) from err
    categories = frozenset(ProviderCategory)
    categories |= {ProviderCategory(c) for c in _strings(data.get("categories", []), "categories")}
    group = SEED_PLAN.group_categories | {
        ProviderCategory(c) for c in _strings(data.get("group_categories", []), "group_categories")
    }
    taxonomy = SEED_PLAN.taxonomy.extended(
        {
            code: ProviderCategory(str(category))
            for code, category in _table(data, "taxonomy").items()
        }
    )
    return Plan(
        lines=lines,
        categories=categories | group | set(taxonomy.prefixes.values()),
        group_categories=group,
        taxonomy=taxonomy,
    )


def mapping_from_dict(data: Mapping[str, Any]) -> RosterMapping:
    """A mapping from the parsed content of a mapping file.

    Raises:
        ConfigurationError: an unknown key or field, or a value of the wrong shape.
    """
    try:
        return _mapping_from_dict(data)
    except InvalidInput as err:
        raise ConfigurationError("; ".join(e.message for e in err.errors)) from None


def _mapping_from_dict(data: Mapping[str, Any]) -> RosterMapping:
    known = {
        "columns", "values", "payee", "fixes", "lines_of_business", "categories",
        "group_categories", "taxonomy", "networks", "provider_id_system",
    }  # fmt: skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(f"Unknown keys in the mapping: {', '.join(unknown)}.")
    plan = _plan(data)
    payee = _table(data, "payee")
    fixes = _table(data, "fixes")
    try:
        fix = Fixes(**{key: bool(value) for key, value in fixes.items()})
    except TypeError as err:
        raise ConfigurationError(
            "fixes may set excel_prefix, unavailable_as_missing and zip_leading_zeros."
        ) from err
    values = {
        field: {
            str(key): str(value) for key, value in _table(_table(data, "values"), field).items()
        }
        for field in _table(data, "values")
    }
    system = data.get("provider_id_system")
    if system is not None and not isinstance(system, str):
        raise ConfigurationError("provider_id_system is an identifier system URI.")
    return RosterMapping(
        columns=_table(data, "columns"),
        values=values,
        payee=PayeeValues(
            group=frozenset(_strings(payee.get("group", ["group"]), "payee.group")),
            individual=frozenset(
                _strings(payee.get("individual", ["individual"]), "payee.individual")
            ),
            default=str(payee.get("default", "individual")).strip().casefold(),
        ),
        fixes=fix,
        plan=plan,
        networks={
            str(key): plan.lines.parse(str(value), field=f"networks.{key}")
            for key, value in _table(data, "networks").items()
        },
        provider_id_system=system,
    )


def load_mapping(path: Path | str) -> RosterMapping:
    """Read a mapping file: TOML (``.toml``) or JSON (any other name).

    Raises:
        ConfigurationError: the file is not valid TOML / JSON or not a valid mapping.
        OSError: the file cannot be read.
    """
    path = Path(path)
    text = path.read_bytes()
    try:
        data = (
            tomllib.loads(text.decode("utf-8"))
            if path.suffix.lower() == ".toml"
            else json.loads(text)
        )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"The mapping file {path.name} is not valid: {err}") from None
    if not isinstance(data, Mapping):
        raise ConfigurationError("A mapping file holds one table (a JSON object).")
    return mapping_from_dict(data)
