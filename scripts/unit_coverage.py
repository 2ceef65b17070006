"""List the library modules under generator/ that no test file under tests/unit imports.

Usage: python scripts/unit_coverage.py [--all]

A module counts as imported when a test module names it in `import generator.x` or
`from generator.x import ...`, or imports it from its package (`from generator import x`).
The command-line glue (generator/commands/, `__main__`) is left out unless `--all` is given:
the story tests drive it through the CLI. Each line shows the module's length in lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def library_modules(include_commands: bool) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "generator").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if name.endswith("__main__") or (not include_commands and ".commands" in name):
            continue
        found[name] = path
    return found


def imported_by(folder: Path) -> set[str]:
    names: set[str] = set()
    for test in folder.rglob("test_*.py"):
        for node in ast.walk(ast.parse(test.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return names


def main() -> int:
    modules = library_modules(include_commands="--all" in sys.argv[1:])
    imported = imported_by(ROOT / "tests/unit")
    missing = [name for name in modules if name not in imported]
    for name in missing:
        lines = len(modules[name].read_text(encoding="utf-8").splitlines())
        print(f"{lines:5d} {name}")
    print(f"{len(missing)} of {len(modules)} library modules have no unit test module")
    return 0


if __name__ == "__main__":
    sys.exit(main())
