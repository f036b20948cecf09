"""Readers for provider data in the shapes plans hold it, beside :mod:`provider_identity.roster`.

- :mod:`~provider_identity.sources.mapping`: a plan's own roster columns
  (a TOML or JSON mapping file) and the real-world dirt in them;
- :mod:`~provider_identity.sources.mapped`: a CSV roster read through a mapping;
- :mod:`~provider_identity.sources.nppes`: the NPPES NPI dissemination file;
- :mod:`~provider_identity.sources.plan_net`: a FHIR Plan-Net Bundle or NDJSON export.

Each reader yields :class:`~provider_identity.ProviderRecord`,
:class:`~provider_identity.roster.RejectedRow` and
:class:`~provider_identity.roster.SkippedRow` items, which
:func:`~provider_identity.roster.import_records` writes in batches.
"""

from __future__ import annotations

from provider_identity.sources.mapped import iter_mapped_roster
from provider_identity.sources.mapping import Fixes, PayeeValues, RosterMapping, load_mapping
from provider_identity.sources.nppes import NPPES_COLUMNS, enrich_by_npi, iter_nppes
from provider_identity.sources.plan_net import iter_plan_net

__all__ = [
    "NPPES_COLUMNS",
    "Fixes",
    "PayeeValues",
    "RosterMapping",
    "enrich_by_npi",
    "iter_mapped_roster",
    "iter_nppes",
    "iter_plan_net",
    "load_mapping",
]
