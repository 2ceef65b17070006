"""The names every released template calls in the installed library: a frozen public API.

Copier does not take code from the template version it renders. It imports the Jinja
extensions named in `_jinja_extensions` and runs the `_tasks` commands with the Python that
runs Copier, so they come from whatever gitops-onboard is installed next to Copier. An old
tag (`copier copy --vcs-ref v1.0.0`), and both versions that `copier update` renders, meet
today's filters, today's rules and today's task. So a release may add a name here, and must
never remove or rename one; a rule keeps accepting the answers released templates recorded
(unless they were unsafe); a command keeps its arguments. `tests/unit/test_copier_contract.py`
renders the oldest supported release with the current library and fails when a listed name
is missing.
"""

from __future__ import annotations

__all__ = ["EXTENSIONS", "FILTERS", "MODULES", "RULES"]

# Import paths of the Jinja extension in `_jinja_extensions`: the first releases name
# `generator.jinja_ext.GitopsExtension`; later ones `gitops_onboard.GitopsExtension`, named
# after the distribution so that a Copier without it says "No module named 'gitops_onboard'".
EXTENSIONS: tuple[str, ...] = (
    "generator.jinja_ext.GitopsExtension",
    "gitops_onboard.GitopsExtension",
)

# Modules the template runs as `{{ _copier_python }} -m MODULE ARGS...`:
#   generator _task KIND ANSWERS_FILE          (_tasks, after every copy and update)
#   generator _migrate rename OLD NEW          (_migrations of a release that renames a file)
#   generator _migrate overlays ANSWERS_FILE   (_migrations: a service moves to overlays)
#   generator.tasks KIND ANSWERS_FILE          (_tasks of the first releases)
#   generator.migrate rename OLD NEW           (_migrations of the first releases)
# `python -m generator` is the whole command line; `_task` and `_migrate` are its hidden
# subcommands. The two older modules are thin shims over them.
MODULES: tuple[str, ...] = ("generator", "generator.tasks", "generator.migrate")

# Filters the extension registers.
FILTERS: tuple[str, ...] = (
    "ci_installable",
    "copier_scratch_render",
    "dockerfile_env",
    "dockerfile_exec",
    "pip_requirement",
    "rule",
    "ssh_host_of",
    "ssh_port_of",
    "yaml_str",
)

# Rule names that `copier.yml` validators pass to the `rule` filter.
RULES: tuple[str, ...] = (
    "absolute_path",
    "age_recipients",
    "app_env",
    "branch",
    "buildkit_host",
    "cluster_list",
    "cluster_overrides",
    "command",
    "display_name",
    "dns1035_label",
    "dns1123_label",
    "email",
    "env",
    "env_names",
    "exec_form",
    "expose",
    "go_package",
    "hosts",
    "http_path",
    "ignore_patterns",
    "image_ref",
    "image_repository",
    "image_tag",
    "infra_repo",
    "label_value",
    "language",
    "min_replicas",
    "namespace_name",
    "object_name",
    "optional_absolute_path",
    "optional_cluster",
    "owner",
    "percent",
    "port",
    "ports_map",
    "quantity",
    "registry",
    "relative_paths",
    "replica_range",
    "replicas",
    "runner_label",
    "runtime_setup",
    "secret_name",
    "ssh_host",
    "storage_class",
    "tls",
    "user_id",
    "user_owned",
    "version",
)
