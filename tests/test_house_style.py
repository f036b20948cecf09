"""House style the suite holds itself to: every test says, in its docstring, what must hold."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
SUITES = (ROOT / "tests", ROOT / "examples" / "testing")


def undocumented_tests(source: str) -> list[tuple[int, str]]:
    """The line and name of each ``test_*`` function in ``source`` without a docstring."""
    return [
        (node.lineno, node.name)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
        and not ast.get_docstring(node)
    ]


def test_the_check_finds_tests_without_a_docstring() -> None:
    """The walker flags plain, async and method tests without a docstring, and nothing else."""
    source = '''
def test_bare(): pass
def test_told():
    """It holds."""
async def test_async(): pass
class TestThing:
    def test_method(self): pass
def helper(): pass
'''
    assert undocumented_tests(source) == [(2, "test_bare"), (5, "test_async"), (7, "test_method")]


def test_every_test_function_has_a_docstring() -> None:
    """Every test function under tests/ and examples/testing/ has a docstring."""
    files = [path for suite in SUITES for path in sorted(suite.rglob("*.py"))]
    assert len(files) > 10  # the walk really found the suite
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in undocumented_tests(path.read_text(encoding="utf-8"))
    ]
    assert missing == [], "test functions without a docstring:\n" + "\n".join(missing)
