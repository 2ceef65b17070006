"""`python -m generator.tasks KIND ANSWERS_FILE`: the Copier task of released templates.

Frozen public API: Copier runs this module with the Python of the gitops-onboard installed
next to it, for every template tag that names it in `_tasks` (see `generator.template_api`),
so it keeps its command line. It is a thin shim over the one command line:
`gitops-onboard _task KIND ANSWERS_FILE` (`generator.commands.copier_hooks`), with the same
error handling.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from generator import cli

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `gitops-onboard _task` with these arguments."""
    return cli.main(["_task", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
