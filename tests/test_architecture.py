"""The import graph of lsr keeps the layers of docs/architecture.md: no circles, no import from a lower layer
into a higher one, no import of another module's private names (lazy imports inside functions included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lsr"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def modules() -> dict[str, Path]:
    """Every module of lsr by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports() -> list[tuple[str, str, str | None]]:
    """(importer, imported module, name taken from it or None) for every import of an lsr module."""
    known = modules()
    edges = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges += [(name, alias.name, None) for alias in node.names if alias.name.split(".")[0] == "lsr"]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                if base.split(".")[0] != "lsr":
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    edges.append((name, full, None) if full in known else (name, base, alias.name))
    return [(a, _module_of(b, known), n) for a, b, n in edges if _module_of(b, known) != a]


def _module_of(name: str, known: dict[str, Path]) -> str:
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def layers() -> list[list[str]]:
    """The layers written in docs/architecture.md, top first: the rows of its `layers` block."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers -->\n```text\n(.*?)```", text, re.S)
    assert block, f"{ARCHITECTURE} has no layers block"
    return [[f"lsr.{room}" if room != "lsr" else "lsr" for room in line.split()]
            for line in block.group(1).splitlines() if line.strip()]


def room(module: str) -> str:
    """A module's room: its subpackage (`lsr.search`), or itself for a top-level module (`lsr.sparse`)."""
    return ".".join(module.split(".")[:2])


def test_every_room_has_a_layer():
    placed = {r for layer in layers() for r in layer}
    assert {room(m) for m in modules()} <= placed, "rooms missing from docs/architecture.md's layers"


def test_no_import_reaches_up_or_sideways():
    level = {r: i for i, layer in enumerate(layers()) for r in layer}  # 0 is the top
    wrong = [(a, b) for a, b, _ in imports()
             if room(a) != room(b) and level[room(b)] <= level[room(a)]]
    assert not wrong, "imports into a layer above or beside: " + ", ".join(f"{a} -> {b}" for a, b in wrong)


def test_no_private_names_taken_from_another_module():
    taken = [(a, b, n) for a, b, n in imports() if n and n.startswith("_") and not n.startswith("__")]
    assert not taken, taken


def test_no_circles_between_modules():
    graph: dict[str, set[str]] = {}
    for a, b, _ in imports():
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(nxt):] + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_every_package_says_what_it_holds():
    for name, path in modules().items():
        if path.name == "__init__.py":
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert docstring, f"{name} has no docstring"
