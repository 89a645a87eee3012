"""The layers hold (docs/architecture.md): plain Python at the bottom, Prefect only in
tasks/, flows/, blocks/ and deployments/, the CLI on top, and no import cycles.

Read from the source with ``ast`` (imports inside functions count too), so the rule holds
for code that is not run by any test."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("ytmaker", "data", "blocks", "tasks", "flows", "deployments")
# Bottom to top: a module may import its own layer and the ones below it, never above.
LAYERS = (
    "ytmaker.core",  # settings, errors, stages, core types
    "data",  # the database
    "ytmaker.media",  # text, drawing, narration, subtitles, render
    "ytmaker.providers",  # one module per service behind one interface per kind
    "ytmaker.runtime",  # progress bus, liveness, quota, the run's job
    "blocks",  # Prefect blocks
    "tasks",  # Prefect tasks: thin wrappers over the layers below
    "flows",  # Prefect flows: the pipeline
    "deployments",
    "ytmaker.cli",  # the top: may import everything
)
PLAIN = LAYERS[: LAYERS.index("ytmaker.runtime") + 1]  # no Prefect below this line
PREFECT = ("prefect", "prefect_redis")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path, source: str | None = None) -> set[str]:
    """Every module ``module`` imports (``from a import b`` counts as ``a.b`` when that is a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return names


def _layer(module: str) -> str | None:
    return next((layer for layer in sorted(LAYERS, key=len, reverse=True)
                 if module == layer or module.startswith(layer + ".")), None)


def test_every_module_belongs_to_a_layer():
    assert [m for m in MODULES if _layer(m) is None and m != "ytmaker"] == []


def _upward_imports(module: str, path: Path, source: str | None = None) -> list[str]:
    own = _layer(module)
    if own is None:
        return []
    return [f"{module} ({own}) imports {name} ({_layer(name)})" for name in sorted(_imports(module, path, source))
            if _layer(name) is not None and LAYERS.index(_layer(name)) > LAYERS.index(own)]


def _prefect_imports(module: str, path: Path, source: str | None = None) -> list[str]:
    if _layer(module) not in PLAIN:
        return []
    return [f"{module} imports {name}" for name in sorted(_imports(module, path, source)) if name.split(".")[0] in PREFECT]


def test_no_module_imports_a_layer_above_its_own():
    assert [wrong for module, path in MODULES.items() for wrong in _upward_imports(module, path)] == []


def test_prefect_is_imported_only_in_tasks_flows_blocks_deployments_and_the_cli():
    assert [wrong for module, path in MODULES.items() for wrong in _prefect_imports(module, path)] == []


def test_the_rules_catch_an_upward_or_prefect_import_even_inside_a_function():
    path = REPO / "ytmaker" / "media" / "render.py"
    source = "def f():\n    from flows.video import video_flow\n    import prefect.context\n"
    assert _upward_imports("ytmaker.media.render", path, source) == [
        "ytmaker.media.render (ytmaker.media) imports flows.video (flows)"]
    assert _prefect_imports("ytmaker.media.render", path, source) == ["ytmaker.media.render imports prefect.context"]
    assert _upward_imports("ytmaker.cli", REPO / "ytmaker" / "cli.py", "import flows\nimport deployments\n") == []


def test_there_are_no_import_cycles_between_modules():
    graph = {m: {n for n in _imports(m, p) if n in MODULES and n != m} for m, p in MODULES.items()}
    # A package's __init__ re-exporting its own modules is not a cycle of the design.
    graph = {m: {n for n in deps if not (m == n.rpartition(".")[0] and MODULES[m].name == "__init__.py")}
             for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []
