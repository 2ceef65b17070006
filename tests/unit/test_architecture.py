"""The import graph of the library: no cycles, and only the command line imports the CLI.

Every `import` and `from ... import` in `generator/` and `gitops_onboard/` counts, at module
level and inside functions alike: an import moved into a function to dodge a cycle is still
the same dependency. A name imported through `generator.extras.infra_module("...")` is a
string, not an edge. Importing `generator.check.x` is an edge to `generator.check.x` only
(not to the packages it runs first), so a package's `__init__` re-exporting its modules is
not a cycle.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import PROJECT

ROOT = PROJECT
PACKAGES = ("generator", "gitops_onboard")
# Only these may import the command line: the CLI itself, its commands, and the thin
# `python -m` entry points released templates run (see `generator.template_api`).
CLI = ("generator.cli", "generator.commands")
CLI_IMPORTERS = (*CLI, "generator.tasks", "generator.migrate", "generator.__main__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def modules() -> dict[str, Path]:
    """Every module of the library by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    package = base if (modules()[module].name == "__init__.py") else base[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in known else target


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Edges from each library module to the library modules it imports."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        graph[name] = {target for target in _imports(name, path, known) if target in known}
        graph[name].discard(name)
    return graph


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per tangle."""
    return [_cycle_in(graph, component) for component in tangles(graph)]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the smallest module name of `component`."""
    start = min(component)
    paths: dict[str, list[str]] = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return sorted(component)  # unreachable in a strongly connected component


def _within(name: str, owners: tuple[str, ...]) -> bool:
    return any(name == owner or name.startswith(f"{owner}.") for owner in owners)


def test_the_walker_sees_function_level_imports() -> None:
    """Imports inside functions count: moving one there to dodge a cycle hides nothing."""
    graph = import_graph()
    assert "generator.cli" in graph
    assert "generator.errors" in graph["generator.cli"]
    assert len(graph) > 60


def test_a_cycle_is_found_and_printed() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


def test_the_library_has_no_import_cycle() -> None:
    graph = import_graph()
    found = [
        f"{' -> '.join(_cycle_in(graph, tangle))}  (tangled: {', '.join(sorted(tangle))})"
        for tangle in tangles(graph)
    ]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_only_the_command_line_imports_the_cli() -> None:
    """The library raises; only the CLI and its entry points print and choose exit codes."""
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if not _within(module, CLI_IMPORTERS)
        for target in targets
        if _within(target, CLI_IMPORTERS)
    )
    assert not offenders, "library modules importing the CLI:\n" + "\n".join(offenders)


def test_the_module_table_of_the_architecture_page_is_current() -> None:
    """The table in docs/explanation/architecture.md is written from the modules' docstrings."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_architecture.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _calls(module: str) -> Iterator[tuple[str, int]]:
    """(callee as written, line) of every call in `module` whose callee is a name or attribute."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                yield node.func.attr, node.lineno
            elif isinstance(node.func, ast.Name):
                yield node.func.id, node.lineno


# Walks over what Copier rendered into a scratch folder, over a whole copy for a diff, or
# over a template clone to keep: not searches of a repo, so not bound to the walker's skipped
# folders.
_OUTPUT_WALKERS = {
    "generator.copier_run.clone_cache",
    "generator.copier_run.render",
    "generator.dryrun",
    "generator.onboard",
    "generator.recovery",
}


def test_repo_searches_go_through_the_one_walker() -> None:
    """Six walkers skipped four sets of folders; `generator.walk` is now the only one."""
    offenders = [
        f"{module}:{line} calls {callee}"
        for module in modules()
        if module not in {"generator.walk", *_OUTPUT_WALKERS}
        for callee, line in _calls(module)
        if callee in {"walk", "rglob"}
    ]
    assert not offenders, "\n".join(offenders)


def test_ruamel_yaml_instances_come_from_one_factory() -> None:
    """Ten `YAML(...)` constructions chose their settings each; `yamltext.new_yaml` does now."""
    offenders = [
        f"{module}:{line}"
        for module in modules()
        if module != "generator.yamltext"
        for callee, line in _calls(module)
        if callee == "YAML"
    ]
    assert not offenders, "\n".join(offenders)
