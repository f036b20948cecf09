"""Runs every ```python block of the guides in docs/ with Sybil.

Each page is one story: its blocks run top to bottom in one namespace, so a
later block uses the names an earlier one defined. A page runs in a fresh
temporary folder (its working directory and the first entry of ``sys.path``)
with the environment variables the guides read set to test values. A block
whose first line names a module (``# myportal/identity_setup.py``) is run as
that module, so the blocks after it can import it; its names also go into
the page's namespace. Hidden ``<!-- invisible-code-block: python -->`` blocks
in the pages supply what a reader would already have (a template, a roster
file) and drive the framework examples with their test clients.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sybil import Example, Sybil
from sybil.evaluators.python import PythonEvaluator, pad
from sybil.parsers.markdown import CodeBlockParser, SkipParser

_MODULE_HEADER = re.compile(r"# (?P<path>[a-z_]+(?:/[a-z_]+)*)\.py\b")
_STATE = "_docs_state"
_python = PythonEvaluator()


def _environment() -> dict[str, str]:
    """What the guides read from the environment, as a deployment would set it."""
    return {
        "IDENTITY_TOKEN_KEY": secrets.token_hex(32),
        "IDENTITY_TOKEN_PREVIOUS_KEYS": secrets.token_hex(32),
        "PORTAL_DATABASE": "sqlite:///portal.db",
        "PORTAL_BASE_URL": "https://portal.example.org",
        "PORTAL_MAIL_FROM": "webmaster@portal.example.org",
        "FLASK_SECRET_KEY": secrets.token_hex(32),
        "SESSION_SECRET_KEY": secrets.token_hex(32),
    }


def _setup(namespace: dict[str, Any]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="provider-identity-docs-"))
    environment = _environment()
    namespace[_STATE] = {
        "folder": folder,
        "cwd": Path.cwd(),
        "environ": {name: os.environ.get(name) for name in environment},
        "modules": set(sys.modules),
        "audit_handlers": list(logging.getLogger("provider_identity.audit").handlers),
    }
    os.environ.update(environment)
    os.chdir(folder)
    sys.path.insert(0, str(folder))


def _teardown(namespace: dict[str, Any]) -> None:
    state = namespace[_STATE]
    os.chdir(state["cwd"])
    sys.path.remove(str(state["folder"]))
    for name, value in state["environ"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for name in set(sys.modules) - state["modules"]:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(state["folder"])):
            del sys.modules[name]
    audit = logging.getLogger("provider_identity.audit")
    for handler in set(audit.handlers) - set(state["audit_handlers"]):
        audit.removeHandler(handler)
    for value in list(namespace.values()):
        if isinstance(value, Engine):
            value.dispose()
    shutil.rmtree(state["folder"], ignore_errors=True)


def _package(name: str, folder: Path) -> None:
    """Register ``name`` (and its parents) as packages living in ``folder``."""
    if name in sys.modules:
        return
    parent, _, _ = name.rpartition(".")
    if parent:
        _package(parent, folder.parent)
    folder.mkdir(parents=True, exist_ok=True)
    package = types.ModuleType(name)
    package.__path__ = [str(folder)]
    package.__file__ = str(folder / "__init__.py")
    sys.modules[name] = package


def _evaluate(example: Example) -> None:
    """Run a block; one that starts ``# package/module.py`` becomes that module."""
    __tracebackhide__ = True
    source = str(example.parsed)
    header = _MODULE_HEADER.match(source)
    if header is None:
        _python(example)
        return
    path = Path.cwd() / f"{header['path']}.py"
    name = header["path"].replace("/", ".")
    parent, _, _ = name.rpartition(".")
    if parent:
        _package(parent, path.parent)
    path.write_text(source, encoding="utf-8")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    code = compile(pad(source, example.line + example.parsed.line_offset), example.path, "exec")
    exec(code, module.__dict__)  # noqa: S102  # our own guides
    example.namespace.update(
        (key, value) for key, value in vars(module).items() if not key.startswith("__")
    )


pytest_collect_file = Sybil(
    parsers=[CodeBlockParser("python", _evaluate), SkipParser()],
    path="docs",
    patterns=["*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()
