"""mutmut's type-check pre-filter: ``mypy --strict`` errors that a mutation made.

mutmut (``type_check_command`` in ``[tool.mutmut]``) runs this in ``mutants/``
and counts a mutant as caught when an error lies inside its copy of the
function: CI's ``mypy --strict src`` would refuse that change before any test
ran. mypy also reports things mutmut's rewriting causes by itself (its
trampolines, attributes set again in each copy of ``__init__``), which no
mutation made and which mutmut cannot place; those are dropped:

- errors outside every mutated copy ``…__mutmut_<n>``;
- errors that the unmutated copy ``…__mutmut_orig`` of the same function has too;
- unused ``type: ignore`` comments (the mutation changed nothing a test could see).

Usage: ``python scripts/mutation_typecheck.py mypy``. It prints mypy's JSON
lines, as mutmut reads them; mutmut parses them as mypy's only when the word
``mypy`` is one of the command's arguments, which is all that argument is for.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

_TAIL = "__mutmut_"


def _copies(path: Path) -> list[tuple[int, int, str]]:
    """``(first line, last line, name)`` of every copy mutmut made in ``path``."""
    tree = ast.parse(path.read_text("utf-8"))
    return [
        (node.lineno, node.end_lineno or node.lineno, node.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _TAIL in node.name
    ]


def main() -> int:
    """Run mypy over the mutated package and print the errors that mutations made."""
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--output", "json", "src/provider_identity"],
        capture_output=True,
        encoding="utf-8",
        check=False,
    )
    errors = [json.loads(line) for line in found.stdout.splitlines() if line.strip()]
    copies: dict[str, list[tuple[int, int, str]]] = {}
    placed: list[tuple[str, str, dict[str, object]]] = []
    original: defaultdict[str, set[tuple[object, object]]] = defaultdict(set)
    for error in errors:
        file = str(error["file"])
        if file not in copies:
            copies[file] = _copies(Path(file))
        line = int(error["line"])
        inside = [c for c in copies[file] if c[0] <= line <= c[1]]
        if not inside:
            continue
        name = min(inside, key=lambda c: c[1] - c[0])[2]  # the innermost copy
        function, _, number = name.rpartition(_TAIL)
        if number == "orig":
            original[function].add((error["code"], error["message"]))
        else:
            placed.append((function, name, error))
    for function, _, error in placed:
        if error["code"] == "unused-ignore":
            continue
        if (error["code"], error["message"]) in original[function]:
            continue
        print(json.dumps(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
