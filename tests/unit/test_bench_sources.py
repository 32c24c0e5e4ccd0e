"""The benchmark runs on the local stack's emulator (local/), never on the test harness."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_bench_imports_nothing_from_tests() -> None:
    offenders = {
        path.name: sorted(m for m in _imported_modules(path.read_text()) if m.split(".")[0] == "tests")
        for path in sorted(BENCH.glob("*.py"))
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_bench_builds_its_service_from_local() -> None:
    imported = set().union(*(_imported_modules(p.read_text()) for p in BENCH.glob("*.py")))
    assert {"local.invoke", "local.apigw", "local.pumps", "local.template"} <= imported
