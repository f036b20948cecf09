"""Keep mutmut's verdicts in the repository, so a whole run can span several sittings.

A run over every domain module takes hours on a 2-core machine, and mutmut keeps
its verdicts in ``mutants/`` (git-ignored). ``save`` copies them into
``scripts/mutation-results.json``: per mutated function, the hash mutmut gave
its source and the verdict of each of its mutants. ``restore`` (after mutmut
has made its mutants) gives back a verdict wherever the function's source
hash is still the same and mutmut has none yet; a changed function's mutants
run again.

A restored kill trusts that no test which killed it was weakened since: after
deleting or loosening tests, run with ``MUTATION_RESTORE=0`` (scripts/mutation).
Survivors are given back only where the equivalent list names them
(scripts/mutation-equivalent.txt); any other survivor runs again, since tests
written since may kill it.

Usage: ``python scripts/mutation_results.py save|restore``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mutation_report import SOURCE, load_equivalents, mutated_code

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants" / "src"
SAVED = ROOT / "scripts" / "mutation-results.json"
_TAIL = "__mutmut_"
_SURVIVED = 0  # mutmut's exit code for a mutant no test failed on


def _metas() -> list[Path]:
    return sorted(MUTANTS.rglob("*.py.meta"))


def _function(key: str) -> tuple[str, str]:
    """``provider_identity.mod.x_f__mutmut_3`` -> (``x_f``, ``3``)."""
    name, _, number = key.rpartition(".")[2].rpartition(_TAIL)
    return name, number


def save() -> int:
    """Write every verdict mutmut holds; a function without one is left out."""
    saved: dict[str, tuple[str, dict[str, int]]] = {}
    for meta in _metas():
        data = json.loads(meta.read_text("utf-8"))
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".py.meta")
        verdicts: dict[str, dict[str, int]] = {}
        for key, code in data["exit_code_by_key"].items():
            if code is not None:
                name, number = _function(key)
                verdicts.setdefault(name, {})[number] = code
        hashes = data["hash_by_function_name"]
        for name, codes in verdicts.items():
            if name in hashes:
                saved[f"{module}:{name}"] = (hashes[name], codes)
    lines = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in sorted(saved.items())]
    SAVED.write_text("{\n" + ",\n".join(lines) + "\n}\n", "utf-8")
    print(f"{sum(len(codes) for _, codes in saved.values())} verdicts saved")
    return 0


def restore() -> int:
    """Give back the saved verdicts of unchanged functions; 1 if mutmut made no mutants."""
    metas = _metas()
    if not metas:
        print("no mutants yet: run mutmut first")
        return 1
    saved = json.loads(SAVED.read_text("utf-8")) if SAVED.exists() else {}
    equivalents = load_equivalents()
    os.chdir(ROOT)  # mutmut reads its files relative to the working directory
    restored = 0
    for meta in metas:
        data = json.loads(meta.read_text("utf-8"))
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".py.meta")
        hashes = data["hash_by_function_name"]
        codes = data["exit_code_by_key"]
        changed = False
        for key, code in codes.items():
            name, number = _function(key)
            entry = saved.get(f"{module}:{name}")
            if code is not None or entry is None or entry[0] != hashes.get(name):
                continue
            verdict = entry[1].get(number)
            if verdict == _SURVIVED:
                change = mutated_code(
                    key, SOURCE / f"{module.removeprefix('provider_identity/')}.py"
                )
                if (key.partition(_TAIL)[0], change) not in equivalents:
                    continue
            if verdict is not None:
                codes[key] = verdict
                restored += 1
                changed = True
        if changed:
            meta.write_text(json.dumps(data, indent=4), "utf-8")
    print(f"{restored} verdicts restored")
    return 0


if __name__ == "__main__":
    actions = {"save": save, "restore": restore}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        sys.exit("usage: mutation_results.py save|restore")
    sys.exit(actions[sys.argv[1]]())
