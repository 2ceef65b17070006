"""`python -m generator ARGS`: the `gitops-onboard` command line, for Copier's `_tasks`.

Copier runs a template's tasks with its own Python (`{{ _copier_python }}`), where the
`gitops-onboard` script may not be on PATH; this runs the same `generator.cli.main`.
"""

from __future__ import annotations

import sys

from generator.cli import main

if __name__ == "__main__":
    sys.exit(main())
