#!/usr/bin/env python3
"""Count the reference portal's glue: its lines of code, with and without imports.

A line counts when it holds code: blank lines, comments and docstrings do not
count (a statement split over three lines counts three). Imports are counted
apart, since they say what is used rather than do anything. Templates are not
Python and are left out, and so is ``__main__.py``, the command line that
starts the portal for development and the browser test (its options are not
pages). Usage::

    python scripts/count_glue.py [FILE ...]   # default: the portal's glue
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterable
from pathlib import Path

import attrs

PORTAL = Path(__file__).resolve().parent.parent / "examples" / "portal"

#: Tokens that are layout, not code.
_LAYOUT = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)


@attrs.frozen(kw_only=True)
class Count:
    """Lines of code of some files: ``code`` in all, of which ``imports``."""

    code: int
    imports: int

    @property
    def without_imports(self) -> int:
        """The lines that are not imports."""
        return self.code - self.imports

    def __add__(self, other: Count) -> Count:
        return Count(code=self.code + other.code, imports=self.imports + other.imports)


def _spanned(nodes: Iterable[ast.stmt]) -> set[int]:
    return {
        line for node in nodes for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }


def _docstrings(tree: ast.Module) -> list[ast.stmt]:
    bodies = [tree] + [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    return [
        body.body[0]
        for body in bodies
        if body.body
        and isinstance(first := body.body[0], ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ]


def count_source(source: str) -> Count:
    """The lines of ``source`` holding code (not docstrings), and of those the imports."""
    tree = ast.parse(source)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    code: set[int] = set()
    for token in tokens:
        if token.type not in _LAYOUT:
            code.update(range(token.start[0], token.end[0] + 1))
    code -= _spanned(_docstrings(tree))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    return Count(code=len(code), imports=len(code & _spanned(imports)))


def glue_files(folder: Path = PORTAL) -> list[Path]:
    """The portal's page glue: its modules but ``__main__.py``, the command-line launcher."""
    return [file for file in sorted(folder.glob("*.py")) if file.name != "__main__.py"]


def count_files(files: Iterable[Path]) -> Count:
    """The sum over ``files``."""
    total = Count(code=0, imports=0)
    for file in files:
        total += count_source(file.read_text(encoding="utf-8"))
    return total


def main(argv: list[str]) -> None:
    """Print each file's count and the total (default files: :func:`glue_files`)."""
    files = [Path(arg) for arg in argv] or glue_files()
    for file in files:
        count = count_files([file])
        print(f"{file.name}: {count.without_imports} ({count.code} with imports)")
    total = count_files(files)
    print(f"glue: {total.without_imports} lines without imports, {total.code} with imports")


if __name__ == "__main__":
    main(sys.argv[1:])
