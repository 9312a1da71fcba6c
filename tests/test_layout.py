"""The package's imports point one way: entry points -> runner -> task families -> {data plumbing, fairseq
adapter, metrics} -> norms, with no cycle anywhere (imports inside functions included), no family
importing another, and the fairseq adapter importing no family. Read from the source, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "normlab"

# Lower number = lower layer. A module may import its own layer's package or any lower layer.
LAYERS = {
    "norms": 0,
    "data": 1, "fairseq_adapter": 1, "metrics": 1, "outcomes": 1,
    "families": 2,
    "runner": 3,
    # entry points and their configuration
    "train": 4, "sweep": 4, "demo": 4, "report": 4, "plugin": 4, "config": 4, "compose": 4, "paths": 4,
    "__init__": 4,
}
# Layer-1 parts are siblings, not a stack: each imports only itself and the norms.
SIBLINGS = {"data", "fairseq_adapter", "metrics", "outcomes"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """normlab modules that `name` imports, at module level or inside functions."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import normlab.x.y` names a module or its package
                target = target.rpartition(".")[0]
            if target.startswith("normlab") and target != name:
                found.add(target)
    return found


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def family_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "families" and parts[2] not in ("base",) else None


GRAPH = {name: imports_of(name, path, set(modules())) for name, path in modules().items()}


def test_every_top_level_module_has_a_layer():
    assert {top(name) for name in GRAPH} <= set(LAYERS), "add new top-level modules to LAYERS with their layer"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_no_upward_import(name):
    for target in GRAPH[name]:
        here, there = top(name), top(target)
        assert LAYERS[there] <= LAYERS[here], f"{name} imports {target}, which is above it"
        if here in SIBLINGS and there != here:
            assert LAYERS[there] < LAYERS[here], f"{name} imports its sibling {target}"
        if family_of(name) and family_of(target):
            assert family_of(name) == family_of(target), f"{name} imports another family: {target}"
        if here == "fairseq_adapter":
            assert there != "families", f"the fairseq adapter imports a task family: {name} -> {target}"


def test_no_import_cycle():
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_deferred_and_relative_imports(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from normlab.runner import job\n    from . import paths\n")
    known = {"normlab", "normlab.runner", "normlab.runner.job", "normlab.paths", "normlab.mod"}
    assert imports_of("normlab.mod", path, known) == {"normlab.runner.job", "normlab.paths"}
