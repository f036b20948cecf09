"""A plan's own CSV roster, read through a :class:`~provider_identity.sources.RosterMapping`.

Columns the mapping does not name are ignored (exports carry many). Every
problem of a row is reported at once, each under the plan's own column name,
so the person fixing the export finds it. Records repeat rules of
:func:`~provider_identity.roster.iter_roster`: the first row of a Provider ID
wins, an identical repeat is silent, a different one is rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial

from provider_identity._fields import collect
from provider_identity.errors import FieldError, InvalidInput
from provider_identity.providers import (
    LineOfBusiness,
    Payee,
    ProviderCategory,
    ProviderRecord,
    normalize_name,
    normalize_npi,
    normalize_provider_id,
    normalize_tax_id,
    normalize_zip,
)
from provider_identity.roster import RejectedRow
from provider_identity.sources.mapping import FIELDS, RosterMapping, clean, clean_zip

__all__ = ["iter_mapped_roster", "record_from_cells"]


def _header_error(message: str) -> InvalidInput:
    return InvalidInput.single("header", "invalid_columns", message)


def _text_lines(lines: Iterable[bytes]) -> Iterator[str]:
    for raw in lines:
        if not isinstance(raw, bytes):
            raise InvalidInput.single(
                "roster", "wrong_type", 'A roster is read as bytes: pass a file opened "rb".'
            )
        yield raw.decode("utf-8", errors="replace")


def _cells(
    cells: Mapping[str, str], columns: tuple[str, ...], mapping: RosterMapping,
    errors: list[FieldError], *, zip_codes: bool = False,
) -> list[tuple[str, str]]:  # fmt: skip
    """The non-empty, cleaned ``(column, value)`` pairs of ``columns``; dirt goes to ``errors``."""
    found = []
    for column in columns:
        value = clean(cells.get(column, ""), column, mapping.fixes)
        if zip_codes and isinstance(value, str):
            value = clean_zip(value, column, mapping.fixes)
        if isinstance(value, FieldError):
            errors.append(value)
        elif value:
            found.append((column, value))
    return found


def _first(
    pairs: list[tuple[str, str]], normalize: Callable[..., str], errors: list[FieldError]
) -> str | None:
    if not pairs:
        return None
    column, value = pairs[0]
    return collect(errors, partial(normalize, value, field=column))


def record_from_cells(
    cells: Mapping[str, str], mapping: RosterMapping
) -> ProviderRecord | tuple[FieldError, ...]:
    """The record of one row (``column -> text``), or every problem it has, by plan column."""
    columns = mapping.columns
    errors: list[FieldError] = []
    pick = partial(_cells, cells, mapping=mapping, errors=errors)

    def required(field: str, label: str) -> list[tuple[str, str]]:
        before = len(errors)
        pairs = pick(columns[field], zip_codes=field == "zip_codes")
        if not pairs and len(errors) == before:
            errors.append(
                FieldError(
                    field=" / ".join(columns[field]),
                    code="required",
                    message=f"{label} is required ({' or '.join(columns[field])}).",
                )
            )
        return pairs

    provider_id = _first(required("provider_id", "Provider ID"), normalize_provider_id, errors)
    tax_id = _first(required("tax_id", "Tax ID"), normalize_tax_id, errors)
    name_parts = required("name", "Name")
    name = " ".join(value for _, value in name_parts)
    if name_parts:
        collect(errors, partial(normalize_name, name, field=name_parts[0][0]))
    zips = [
        zip_code
        for column, value in required("zip_codes", "A ZIP code")
        if (zip_code := collect(errors, partial(normalize_zip, value, field=column))) is not None
    ]
    npi = _first(pick(columns.get("npi", ())), normalize_npi, errors)
    category = _category(pick, mapping, errors)
    payee = _payee(pick(columns.get("payee", ())), mapping, errors)
    lines = _lines(pick(columns.get("lines_of_business", ())), mapping, errors)
    if errors or provider_id is None or tax_id is None:
        return tuple(errors)
    return ProviderRecord(
        provider_id=provider_id,
        tax_id=tax_id,
        name=name,
        zip_codes=zips,
        npi=npi,
        category=category,
        payee=payee,
        lines_of_business=lines,
    )


def _category(
    pick: Callable[[tuple[str, ...]], list[tuple[str, str]]],
    mapping: RosterMapping,
    errors: list[FieldError],
) -> ProviderCategory:
    named = pick(mapping.columns.get("category", ()))
    if named:
        column, value = named[0]
        found = collect(
            errors,
            partial(mapping.plan.category, mapping.translate("category", value), field=column),
        )
        return found or ProviderCategory.OTHER
    codes = [value for _, value in pick(mapping.columns.get("taxonomy", ()))]
    return mapping.plan.taxonomy.category(codes)


def _payee(pairs: list[tuple[str, str]], mapping: RosterMapping, errors: list[FieldError]) -> Payee:
    column, value = pairs[0] if pairs else ("payee", mapping.payee.default)
    folded = value.casefold()
    if folded in mapping.payee.group:
        return Payee.GROUP
    if folded in mapping.payee.individual:
        return Payee.INDIVIDUAL
    choices = ", ".join(sorted(mapping.payee.group | mapping.payee.individual))
    errors.append(
        FieldError(
            field=column, code="invalid_choice", message=f"{column} must be one of {choices}."
        )
    )
    return Payee.INDIVIDUAL


def _lines(
    pairs: list[tuple[str, str]], mapping: RosterMapping, errors: list[FieldError]
) -> frozenset[LineOfBusiness]:
    lines: set[LineOfBusiness] = set()
    for column, cell in pairs:
        for value in cell.replace(";", " ").replace(",", " ").split():
            parse = partial(
                mapping.plan.lines.parse,
                mapping.translate("lines_of_business", value),
                field=column,
            )
            line = collect(errors, parse)
            if line is not None:
                lines.add(line)
    return frozenset(lines) if lines else frozenset({mapping.plan.default_line})


def iter_mapped_roster(
    lines: Iterable[bytes], mapping: RosterMapping
) -> Iterator[ProviderRecord | RejectedRow]:
    """Read a plan's CSV roster through ``mapping``, yielding records and rejected rows.

    Raises:
        InvalidInput: the header lacks a column the mapping names, or the
            mapping leaves a required field unmapped (before any row is yielded).
    """
    missing_fields = [f for f, needed in FIELDS.items() if needed and f not in mapping.columns]
    if missing_fields:
        raise InvalidInput.single(
            "mapping", "required", f"The mapping names no column for {', '.join(missing_fields)}."
        )
    reader = csv.reader(_text_lines(lines))
    try:
        header = [cell.strip().lstrip("\ufeff") for cell in next(reader)]
    except StopIteration:
        raise InvalidInput.single(
            "header", "required", "The roster is empty: a header line is required."
        ) from None
    except csv.Error:
        raise _header_error("The header line is not valid CSV.") from None
    wanted = {column for columns in mapping.columns.values() for column in columns}
    absent = sorted(wanted - set(header))
    if absent:
        raise _header_error(f"The roster has no column {', '.join(absent)} (named by the mapping).")
    seen: dict[str, tuple[int, int]] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield RejectedRow(line=reader.line_num, errors=(
                FieldError(field="row", code="malformed", message="The line is not valid CSV."),
            ))  # fmt: skip
            continue
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            message = f"The line has {len(row)} columns; the header has {len(header)}."
            yield RejectedRow(
                line=number,
                errors=(FieldError(field="row", code="wrong_column_count", message=message),),
            )
            continue
        if any("\ufffd" in cell for cell in row):
            yield RejectedRow(line=number, errors=(
                FieldError(field="row", code="invalid_encoding",
                           message="The line is not valid UTF-8."),
            ))  # fmt: skip
            continue
        outcome = record_from_cells(dict(zip(header, row, strict=True)), mapping)
        if isinstance(outcome, tuple):
            yield RejectedRow(line=number, errors=outcome)
            continue
        fingerprint = hash(outcome)
        first = seen.setdefault(outcome.provider_id, (number, fingerprint))
        if first[0] == number:
            yield outcome
        elif first[1] != fingerprint:
            message = f"Provider ID {outcome.provider_id} is on line {first[0]} with other data."
            yield RejectedRow(
                line=number,
                errors=(
                    FieldError(field=mapping.columns["provider_id"][0],
                               code="conflicting_duplicate", message=message),
                ),
            )  # fmt: skip
