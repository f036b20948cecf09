"""The top-level ``__all__`` is exactly the package's public names, in order."""

from __future__ import annotations

import types

import provider_identity


def public_names() -> set[str]:
    """Names a user sees on ``provider_identity``: no submodules, no ``from __future__`` flags."""
    return {
        name
        for name, value in vars(provider_identity).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__module__ != "__future__"
    }


def isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions; alphabetical within each."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def test_every_public_name_is_in_all() -> None:
    """Each public name of the package is listed in __all__, and __all__ lists nothing else."""
    assert set(provider_identity.__all__) == public_names()


def test_all_has_no_duplicates_and_is_sorted() -> None:
    """__all__ names each member once, in the isort-style order ruff keeps."""
    names = list(provider_identity.__all__)
    assert len(names) == len(set(names))
    assert names == sorted(names, key=isort_style)


def test_every_name_in_all_is_importable() -> None:
    """`from provider_identity import NAME` works for each NAME in __all__."""
    for name in provider_identity.__all__:
        namespace: dict[str, object] = {}
        exec(f"from provider_identity import {name}", namespace)  # noqa: S102  # names from __all__
        assert namespace[name] is getattr(provider_identity, name), name
