"""The top-level ``__all__`` is exactly the package's public names, in order."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

import provider_identity
from provider_identity import ports


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


MOVED_TO_PORTS = [
    ("provider_identity.lockout", "LockoutState"),
    ("provider_identity.mail", "MessageKind"),
    ("provider_identity.mail", "Renderer"),
    ("provider_identity.roster", "RosterDestination"),
    ("provider_identity._demo", "WritableDirectory"),
]


@pytest.mark.parametrize(("module", "name"), MOVED_TO_PORTS)
def test_port_types_live_in_ports_and_keep_their_old_paths(module: str, name: str) -> None:
    """A port's protocol or record type is defined in ports.py and still importable where it was."""
    old = getattr(importlib.import_module(module), name)
    assert old is getattr(ports, name)
    assert old.__module__ == "provider_identity.ports"
    assert name in ports.__all__


def test_violation_codes_belong_to_the_password_policy() -> None:
    """VIOLATION_CODES is defined in passwords.py and strategies re-exports the same set."""
    from provider_identity import passwords
    from provider_identity.testing import strategies

    assert "VIOLATION_CODES" in passwords.__all__
    assert strategies.VIOLATION_CODES is passwords.VIOLATION_CODES


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports, at any level (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or ({node.module} & modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & modules
    return found


def test_the_package_has_no_import_cycle() -> None:
    """No module of the package imports, directly or through others, a module that imports it."""
    root = Path(provider_identity.__file__).parent.parent
    files = {
        ".".join(f.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): f
        for f in (root / "provider_identity").rglob("*.py")
    }
    graph = {name: _imports(f, set(files)) - {name} for name, f in files.items()}
    for start, direct in graph.items():
        seen: set[str] = set()
        todo = list(direct)
        while todo:
            current = todo.pop()
            assert current != start, f"{start} imports itself through {sorted(seen)}"
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])
