"""Everything that drives Copier, in one package.

- `copying`: copy and update through Copier's public API (`run_copy`, `run_update`), with
  the allow-list check before Copier starts;
- `render`: render a stamped copy at its recorded version in process, through Copier's
  private `Worker` (proven against the Copier range pinned in `pyproject.toml`);
- `task`, `migration`: the work of the template's task and migration steps, which Copier
  runs as `gitops-onboard _task` and `_migrate` inside each destination.

Not named `copier`, which would shadow the library.
"""
