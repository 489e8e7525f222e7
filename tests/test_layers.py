"""Imports only point down the layers of docs/ARCHITECTURE.md, and no module imports itself
back through others. Every import counts, including those inside functions (via ast), so a
lazy import cannot hide an upward edge."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "faultlab"

#: Bottom to top; a module may import its own room and the rooms of lower layers. Rooms that
#: share a layer (reporting and serving) may not import each other.
#:
#: ``training`` sits above ``models`` (as a Lightning ``Trainer`` above its modules): a model
#: defines its network and the hooks a loop needs (``TorchModel.check_shape``, ``labels``,
#: ``prepare``, ``loss``) and carries a ``TrainConfig`` (``contracts.training``, the bottom
#: floor); ``training.fit.fit_model`` owns the loop, the augmentations and the adaptation.
LAYERS: list[set[str]] = [
    {"version", "errors"},
    {"contracts", "limits", "utils"},
    {"data"},
    {"signals"},
    {"features"},
    {"models"},
    {"training"},
    {"evaluation"},
    {"reporting", "serving"},
    {"experiments"},
    {"api", "estimator"},
    {"cli"},
    {"__init__", "__main__"},
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("faultlab", *path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(mod: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Every faultlab module `mod` imports, at any depth of its syntax tree."""
    base = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                src = ".".join(parts + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            targets = [src] + [f"{src}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t.startswith("faultlab") and t != mod:
                found.add(t)
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _room(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_edges(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            ra, rb = _room(a), _room(b)
            if b == "faultlab":  # the package root re-exports lazily; only the top may use it
                rb = "__init__"
            if ra not in RANK or rb not in RANK:
                bad.append(f"{a} -> {b} (room not in LAYERS)")
            elif RANK[rb] > RANK[ra] or (RANK[rb] == RANK[ra] and ra != rb):
                bad.append(f"{a} [{ra}] -> {b} [{rb}]")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_imports_point_down() -> None:
    bad = upward_edges(_graph())
    if bad:
        pytest.fail(f"{len(bad)} upward import(s):\n  " + "\n  ".join(bad))


def test_no_import_cycles() -> None:
    found = cycles(_graph())
    if found:
        pytest.fail("import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found))


def test_checker_sees_function_level_imports() -> None:
    graph = {"faultlab.data.x": {"faultlab.models.y"}, "faultlab.models.y": {"faultlab.data.x"}}
    assert upward_edges(graph) == ["faultlab.data.x [data] -> faultlab.models.y [models]"]
    assert cycles(graph) == [["faultlab.data.x", "faultlab.models.y"]]
    # the loop trains the models, never the other way round
    down = {"faultlab.models.torch_base": {"faultlab.training.engine"}}
    assert upward_edges(down) == [
        "faultlab.models.torch_base [models] -> faultlab.training.engine [training]"
    ]
    src = "def f():\n    from faultlab.models import base\n"
    tree_imports = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)]
    assert tree_imports and tree_imports[0].module == "faultlab.models"


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in ``*_support.py`` modules, never in another test module."""
    bad = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            bad += [
                f"{path.name} imports {n}" for n in names if n.split(".")[-1].startswith("test_")
            ]
    assert not bad, "\n".join(bad)
