"""Dependencies point one way (docs/ARCHITECTURE.md): no lower package imports a higher one.

Every module under server/ is parsed with `ast` (nothing is imported), so a package that appears
later is checked as soon as it exists. Imports inside functions count: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "server"
FLASK = {"flask", "flask_socketio"}

# package -> server packages it must never import (higher layers).
FORBIDDEN = {
    "data": {"graph", "model", "train", "insight", "runs", "web", "export", "store", "kinds",
             "importer"},
    "graph": {"model", "train", "insight", "runs", "web", "export", "store", "kinds", "importer"},
    "model": {"train", "insight", "runs", "web", "export", "kinds", "importer"},
    "train": {"insight", "runs", "web", "export", "kinds", "importer"},
    "insight": {"runs", "web", "export", "store", "kinds", "importer"},
    "export": {"insight", "runs", "web", "kinds", "importer"},
    "store": {"runs", "web", "kinds", "importer"},
    # A training kind (its loop, pictures and exports) sits above those and below the runs.
    "kinds": {"runs", "web", "store", "importer"},
    "runs": {"web", "importer"},
    # The environments' catalog is data beside the datasets'; the baseline uses the data and
    # the design's checks, below the runs and the web.
    "envs": {"model", "train", "insight", "runs", "web", "export", "store", "kinds", "importer"},
    "baseline": {"train", "insight", "runs", "web", "kinds", "importer"},
    # The importer turns ONNX into a document and weights with graph and model; the
    # runs' export pool and the web call it, never the other way.
    "importer": {"train", "insight", "runs", "web", "kinds", "store", "baseline"},
}
# graph is pure: besides itself it may use only the dataset and environment metadata.
GRAPH_MAY_IMPORT = ("server.graph", "server.data.catalog", "server.data.errors", "server.envs")
# Modules that must stay free of torch: graph, and the metadata that graph imports.
TORCH_FREE = ("server.graph", "server.data.catalog", "server.data.errors", "server.envs")
# Past one machine (docs/DEPLOY.md): Ray is driven only from the bridge process and runs the
# actors (a Ray driver in the web process would end it with a lost head); redis-py holds only
# the leases (the message queue's client is Flask-SocketIO's own).
ONLY_IMPORTED_BY = {"ray": ("server.runs.ray_bridge", "server.runs.ray_actor"),
                    "redis": ("server.runs.leases",)}
# Modules that take their facts as arguments (the GPUs, the device, the trainer), so that their
# tests run with fakes on a machine without a GPU: the server modules each may import.
SELF_CONTAINED = {
    "server.runs.placement": (),
    "server.train.precision": (),
    "server.train.graphs": ("server.train",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved; `from a import b` gives a, a.b."""
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")):
            found.add(node.args[0].value)
    return found


@cache
def modules() -> dict[str, set[str]]:
    """{module name: the modules it imports} for every .py file under server/."""
    return {module_name(p): imports_of(p) for p in sorted(SERVER.rglob("*.py"))}


def package_of(module: str) -> str | None:
    """'graph' for server.graph.validate; None for server itself and modules outside it."""
    parts = module.split(".")
    return parts[1] if parts[0] == "server" and len(parts) > 1 else None


def inside(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_every_module_is_found():
    found = modules()
    assert "server.graph.validate" in found
    assert "server.data.catalog" in found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_higher_one(package):
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items() if package_of(module) == package
        for target in targets if package_of(target) in FORBIDDEN[package]
    )
    assert not bad, (f"server/{package} must not import {', '.join(sorted(FORBIDDEN[package]))}"
                     f": {bad}")


def test_graph_imports_only_itself_and_dataset_metadata():
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items() if package_of(module) == "graph"
        for target in targets
        if target.split(".")[0] == "server" and not inside(target, GRAPH_MAY_IMPORT)
    )
    assert not bad, f"server/graph may import only {', '.join(GRAPH_MAY_IMPORT)}: {bad}"


@pytest.mark.parametrize("library", sorted(ONLY_IMPORTED_BY))
def test_ray_and_redis_are_imported_only_where_they_run(library):
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items() if module not in ONLY_IMPORTED_BY[library]
        for target in targets if target.split(".")[0] == library
    )
    assert not bad, f"only {', '.join(ONLY_IMPORTED_BY[library])} may import {library}: {bad}"


def test_flask_is_imported_only_by_the_web_package():
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items()
        if module != "server" and package_of(module) != "web"
        for target in targets if target.split(".")[0] in FLASK
    )
    assert not bad, f"only server/web (and server/__init__.py) may import Flask: {bad}"


@pytest.mark.parametrize("module", sorted(SELF_CONTAINED))
def test_self_contained_modules_import_only_what_they_are_given(module):
    allowed = SELF_CONTAINED[module]
    bad = sorted(t for t in modules()[module]
                 if t.split(".")[0] == "server" and not inside(t, allowed))
    assert not bad, f"{module} may import only {allowed or 'no server module'}: {bad}"


def test_graph_and_dataset_metadata_never_import_torch():
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items() if inside(module, TORCH_FREE)
        for target in targets if target.split(".")[0] == "torch"
    )
    assert not bad, f"graph and dataset metadata must stay free of torch: {bad}"


def test_importing_graph_loads_no_torch_and_no_higher_layer():
    # The AST checks see direct imports; this sees what actually loads, package __init__s included.
    code = ("import sys, server.graph; print(sorted(m for m in sys.modules if m == 'torch' or "
            "m.split('.')[:2] in (['server', p] for p in "
            "('model', 'train', 'runs', 'web', 'export', 'store'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout
