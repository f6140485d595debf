"""The package's shape: data flows one way between its parts, the library never speaks CLI, and
test modules share helpers only through tests/helpers and conftest."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "selector"
IMPORT = re.compile(r"^\s*(?:from|import) (selector[\w.]*)", re.M)


def part(module: str) -> str:
    """The top-level part of ``selector`` a module belongs to (a sub-package or a module)."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "selector"


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Which parts each part imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        mine = part(module_name(path))
        for target in IMPORT.findall(path.read_text()):
            if part(target) not in (mine, "selector"):
                edges[mine].add(part(target))
    return edges


def test_no_two_parts_import_each_other() -> None:
    edges = imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(p for p in edges if reaches(p, p, {p}))
    assert not cycles, f"parts in an import cycle: {cycles}"


# The documented flow (README, Development: Layout): plain helpers any part may use, then the
# parts in the order data flows through them. A part imports only helpers and earlier parts.
HELPERS = {"_lazy", "urls", "errors", "versions", "choices", "records", "defaults", "files",
           "interrupts", "process"}
FLOW = ["data", "training", "serving", "search", "comparison", "reports",
        "tracking", "decision", "progress", "dashboard", "api",
        "cli", "__main__", "selector"]


def test_parts_import_only_helpers_and_earlier_parts() -> None:
    edges = imports()
    assert set(edges) <= HELPERS | set(FLOW), f"a part not placed: {set(edges) - HELPERS - set(FLOW)}"
    backwards = sorted(f"{source} -> {target}" for source, targets in edges.items()
                       for target in targets if target not in HELPERS and (
                           source in HELPERS or FLOW.index(target) >= FLOW.index(source)))
    assert not backwards, f"imports against the documented flow: {backwards}"


def test_only_the_cli_imports_typer_and_knows_exit_codes() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(import|from) typer", text, re.M), path
        exits = re.search(r"^\s*(sys\.exit|raise SystemExit)\(", text, re.M)
        assert not exits or path.name == "workers.py", path  # a worker process's own exit


def test_test_modules_do_not_import_each_other() -> None:
    for path in (ROOT / "tests").rglob("test_*.py"):
        imported = re.findall(r"^from (tests[\w.]*) import", path.read_text(), re.M)
        assert all(not m.split(".")[-1].startswith("test_") for m in imported), path
