"""Per-module mutation figures from mutmut's result files (run by scripts/mutation).

Reads ``mutants/**/*.py.meta`` (mutmut 3.8) and ``scripts/mutation-equivalent.txt``,
prints killed / timed out / refused by mypy / survived / equivalent / not run per
module and the score ``(killed + timed out + mypy) / (those + survived)``, lists the
surviving mutants that are not known to be equivalent, and exits 1 if a module
scores below ``--min`` or was not run whole (unless ``--allow-not-run``).

A line of the equivalent list is ``function | mutated code | why``: the
function as mutmut names it without the ``__mutmut_N`` tail, and the code
that the mutant's diff adds (its ``+`` lines, stripped, joined by `` / ``).
Mutant numbers change whenever a function changes; the code does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "scripts" / "mutation-equivalent.txt"
SOURCE = Path("src") / "provider_identity"

# mutmut's exit codes (mutmut.stats.status_by_exit_code) folded into verdicts: a
# failing or crashing test run killed the mutant; one that ran out of time is
# counted as killed too, but shown apart (a hang is weaker proof than a failed
# assertion); a mutant no test runs survived.
KILLED = {1, 3, -9, -11}
TIMEOUT = {24, -24, 36, 152, 255}
TYPED = {37}  # refused by mypy --strict (scripts/mutation_typecheck.py): CI would refuse it
SURVIVED = {0, 5, 33, 35}


def load_equivalents(path: Path = EQUIVALENT) -> dict[tuple[str, str], str]:
    """``(function, mutated code) -> why`` from the equivalent list."""
    known: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # The code itself may hold " | " (a union type): the first and last parts are
        # the function and the reason.
        parts = [part.strip() for part in line.split(" | ")]
        if len(parts) < 3 or not all(parts):
            sys.exit(f"{path.name}:{number}: expected 'function | mutated code | why'")
        known[parts[0], " | ".join(parts[1:-1])] = parts[-1]
    return known


def mutated_code(name: str, path: Path) -> str:
    """The lines mutant ``name`` adds, as the equivalent list spells them."""
    diff = get_diff_for_mutant(name, path=path)
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(added)


def main() -> int:
    """Print the figures; 1 if a measured module is under the minimum score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names (default: every one measured)")
    parser.add_argument("--min", type=float, default=90.0, help="lowest score accepted, percent")
    parser.add_argument(
        "--allow-not-run",
        action="store_true",
        help="list mutants not run without failing (a run cut short by its time budget)",
    )
    args = parser.parse_args()
    os.chdir(ROOT)  # mutmut reads its files relative to the working directory

    known = load_equivalents()
    used: set[tuple[str, str]] = set()
    results = ROOT / "mutants" / SOURCE
    metas = sorted(results.rglob("*.py.meta"))
    if not metas:
        print("no mutation results: run scripts/mutation first")
        return 1
    rows, survivors, failing = [], [], []
    for meta in metas:
        relative = meta.relative_to(results).as_posix().removesuffix(".py.meta")
        module = relative.removesuffix("/__init__").replace("/", ".")
        if args.modules and module not in args.modules:
            continue
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
                continue
            if code in TIMEOUT:
                counts["timeout"] += 1
                continue
            if code in TYPED:
                counts["mypy"] += 1
                continue
            if code not in SURVIVED:
                counts["not run"] += 1
                continue
            function = name.partition("__mutmut_")[0]
            change = mutated_code(name, SOURCE / f"{relative}.py")
            if (function, change) in known:
                used.add((function, change))
                counts["equivalent"] += 1
            else:
                counts["survived"] += 1
                survivors.append(f"  {name}: {change or '(line removed)'}")
        if not codes:
            continue
        detected = counts["killed"] + counts["timeout"] + counts["mypy"]
        judged = detected + counts["survived"]
        score = 100.0 * detected / judged if judged else float("nan")
        if (judged and score < args.min) or (counts["not run"] and not args.allow_not_run):
            failing.append(module)
        rows.append((module, len(codes), counts, score))

    print(
        f"{'module':<28}{'mutants':>8}{'killed':>8}{'timeout':>8}{'mypy':>6}{'survived':>9}"
        f"{'equiv.':>8}{'not run':>9}{'score':>8}"
    )
    for module, total, counts, score in rows:
        print(
            f"{module:<28}{total:>8}{counts['killed']:>8}{counts['timeout']:>8}"
            f"{counts['mypy']:>6}{counts['survived']:>9}{counts['equivalent']:>8}"
            f"{counts['not run']:>9}{score:>7.1f}%"
        )
    if survivors:
        print("\nsurvivors not listed as equivalent:")
        print("\n".join(survivors))
    measured = {f"provider_identity.{module}.x" for module, *_ in rows}
    stale = [
        f"  {function} | {change}"
        for function, change in known
        if (function, change) not in used
        and any(function.startswith(prefix) for prefix in measured)
    ]
    if stale:
        print("\nequivalent-list lines that match no survivor (killed now, or the code moved):")
        print("\n".join(stale))
    if failing:
        print(f"\nbelow {args.min:g}% (or not fully run): {', '.join(failing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
