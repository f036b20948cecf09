"""Your own adapter: a ProviderDirectory read from a CSV roster.

Adapters do not inherit from the ports; they only need the same methods.
mypy checks the fit where the adapter is assigned to the Protocol type.

Run: python examples/csv_directory.py
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from provider_identity import ProviderCategory, ProviderDirectory, ProviderRecord

ROSTER = """provider_id,npi,tax_id,name,zip_codes,category
P1000001,1234567893,31-1234567,Jane Q. Doe,45402 45409,primary_care
G2000001,,31-7654321,Miami Valley Radiology Group,45440,radiology
P2000002,,31-7654321,Ravi Patel,45440,radiology
"""


class CsvDirectory:
    """Provider records loaded once from CSV text, indexed for the three lookups."""

    def __init__(self, text: str) -> None:
        self._records = [
            ProviderRecord(
                provider_id=row["provider_id"],
                npi=row["npi"] or None,
                tax_id=row["tax_id"],
                name=row["name"],
                zip_codes=row["zip_codes"].split(),
                category=ProviderCategory(row["category"]),
            )
            for row in csv.DictReader(io.StringIO(text))
        ]
        self._by_id = {record.provider_id: record for record in self._records}
        self._by_npi = {record.npi: record for record in self._records if record.npi}

    def by_provider_id(self, provider_id: str) -> ProviderRecord | None:
        return self._by_id.get(provider_id)

    def by_npi(self, npi: str) -> ProviderRecord | None:
        return self._by_npi.get(npi)

    def by_tax_id(self, tax_id: str) -> Sequence[ProviderRecord]:
        return [record for record in self._records if record.tax_id == tax_id]


def main() -> None:
    """Load the roster and look a group up by Tax ID."""
    directory: ProviderDirectory = CsvDirectory(ROSTER)  # mypy checks the Protocol here
    for record in directory.by_tax_id("317654321"):
        print(record.provider_id, record.name, record)


if __name__ == "__main__":
    main()
