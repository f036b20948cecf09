"""Lazy imports of the optional libraries second factors use, with the line that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType


def need(module: str, extra: str) -> ModuleType:
    """Import ``module``; without it raise an ImportError naming ``pip install ...[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is needed here: pip install 'provider-identity[{extra}]'."
        ) from err
