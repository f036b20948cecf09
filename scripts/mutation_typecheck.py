"""Mark the mutants that ``mypy --strict`` refuses as caught, before mutmut runs tests.

CI runs ``mypy --strict src``, so a mutant that mypy refuses could never ship:
it is caught without running a test. mutmut 3.8 has this built in
(``type_check_command``), but it walks each mutated file with libcst once per
run, which took more than ten minutes here; this script does the same in
seconds. It runs mypy over ``mutants/src`` and writes mutmut's own verdict
for it (exit code 37, "caught by type check") into the result file of every
mutant that has no result yet and has an error inside its copy of the
function. mutmut then skips those mutants, as it skips any with a result.

mypy also reports what mutmut's rewriting causes by itself (its trampolines,
attributes set again in each copy of ``__init__``); no mutation made those,
so they are left out:

- errors outside every mutated copy ``…__mutmut_<n>``;
- errors that the unmutated copy ``…__mutmut_orig`` of the same function has too;
- unused ``type: ignore`` comments (the mutation changed nothing a user could see).

Run from the project's root after mutmut has made its mutants (scripts/mutation
does); prints how many mutants it marked.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

MUTANTS = Path(__file__).resolve().parent.parent / "mutants"
CAUGHT_BY_TYPE_CHECK = 37  # mutmut.stats.status_by_exit_code
_TAIL = "__mutmut_"


def _copies(path: Path) -> list[tuple[int, int, str]]:
    """``(first line, last line, name)`` of every copy mutmut made in ``path``."""
    tree = ast.parse(path.read_text("utf-8"))
    return [
        (node.lineno, node.end_lineno or node.lineno, node.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _TAIL in node.name
    ]


def refused() -> dict[Path, set[str]]:
    """Per mutated file (relative to mutants/), the copies that hold an error of their own."""
    found = subprocess.run(
        [sys.executable, "-m", "mypy", "--output", "json", "src/provider_identity"],
        cwd=MUTANTS,
        capture_output=True,
        encoding="utf-8",
        check=False,
    )
    copies: dict[Path, list[tuple[int, int, str]]] = {}
    placed: list[tuple[Path, str, tuple[object, object]]] = []
    original: defaultdict[tuple[Path, str], set[tuple[object, object]]] = defaultdict(set)
    for line in found.stdout.splitlines():
        if not line.strip():
            continue
        error = json.loads(line)
        if error["code"] == "unused-ignore":
            continue
        file = Path(error["file"])
        if file not in copies:
            copies[file] = _copies(MUTANTS / file)
        at = int(error["line"])
        inside = [copy for copy in copies[file] if copy[0] <= at <= copy[1]]
        if not inside:
            continue
        name = min(inside, key=lambda copy: copy[1] - copy[0])[2]
        function, _, number = name.rpartition(_TAIL)
        what = (error["code"], error["message"])
        if number == "orig":
            original[file, function].add(what)
        else:
            placed.append((file, name, what))
    caught: defaultdict[Path, set[str]] = defaultdict(set)
    for file, name, what in placed:
        if what not in original[file, name.rpartition(_TAIL)[0]]:
            caught[file].add(name)
    return caught


def main() -> int:
    """Write the verdicts; 1 if mutmut has made no mutants yet."""
    metas = {meta.with_suffix("").with_suffix(".py"): meta for meta in MUTANTS.rglob("*.py.meta")}
    if not metas:
        print("no mutants yet: run mutmut first")
        return 1
    marked = 0
    for file, names in refused().items():
        meta = metas.get(MUTANTS / file)
        if meta is None:
            continue
        data = json.loads(meta.read_text("utf-8"))
        codes = data["exit_code_by_key"]
        for key, code in codes.items():
            if code is None and key.rpartition(".")[2] in names:
                codes[key] = CAUGHT_BY_TYPE_CHECK
                marked += 1
        meta.write_text(json.dumps(data, indent=4), "utf-8")
    print(f"{marked} mutants caught by mypy --strict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
