"""Jinja filters that Copier loads for the template (`_jinja_extensions` in copier.yml).

`yaml_str` renders any value as a double-quoted YAML string with a real emitter, so values
such as `yes`, `0755`, `1e3`, `~` or multi-line text stay strings for Kubernetes' YAML 1.1
reader. `rule` runs a `generator.rules` check for a question validator. The app template
also uses `dockerfile_env` / `dockerfile_exec` (see `generator.dockerfile`) and
`ssh_host_of` / `ssh_port_of`, the SSH endpoint of a git URL (defaults of `infra_ssh_host`
and `infra_ssh_port`). The workflows install gitops-onboard with `pip_requirement` of the
template source and version; `ci_installable`, in the `kind` question's validator, refuses a
source no runner can install from before anything is written. `copier_scratch_render` is
true for a destination inside Copier's scratch renders of an update, where the template's
task has nothing to do (its `when:`).

Frozen public API: Copier imports this extension from the gitops-onboard installed next to
it, whichever template tag it renders, so an old release meets today's filters. The import
paths (`generator.jinja_ext.GitopsExtension`, `gitops_onboard.GitopsExtension`), the filter
names and the rule names are listed in `generator.template_api`; add names, never remove one.
"""

from __future__ import annotations

from jinja2 import Environment
from jinja2.ext import Extension

from generator import giturl
from generator.copier_run.caches import caches_on
from generator.copier_run.compile_cache import compile_once
from generator.copier_run.scratch import in_copier_scratch_render
from generator.dockerfile import env_value, exec_form
from generator.errors import InputError
from generator.rules import check
from generator.yamltext import yaml_str

__all__ = [
    "GitopsExtension",
    "ci_installable",
    "pip_requirement",
    "ssh_host_of",
    "ssh_port_of",
    "yaml_str",
]


def ssh_host_of(url: object) -> str:
    """The host an SSH git URL points at ("" for a file:// URL or an invalid one)."""
    try:
        return giturl.parse(url).host
    except ValueError:
        return ""


def ssh_port_of(url: object) -> int:
    """The port an SSH git URL points at (22 unless the URL names one)."""
    try:
        return giturl.parse(url).port or 22
    except ValueError:
        return 22


def pip_requirement(source: object, ref: object, *extras: str) -> str:
    """The pip requirement of gitops-onboard at template `source` and version `ref`.

    A source no runner can install from raises `InputError` naming the template.
    """
    try:
        return giturl.pip_requirement(source, ref, extras)
    except ValueError as error:
        raise InputError("template", str(error), source) from error


def ci_installable(source: object) -> str:
    """Empty when CI can install gitops-onboard from template `source`, else why not.

    For a question's validator: Copier reports the text as that question's error, before
    anything is written.
    """
    try:
        giturl.pip_url(source)
    except ValueError as error:
        return f"the template source {source!r} (_src_path) {error}"
    return ""


class GitopsExtension(Extension):
    """Registers the template's filters; compiles its strings, parses and clones it once."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        compile_once(environment)
        caches_on()
        environment.filters["yaml_str"] = yaml_str
        environment.filters["rule"] = check
        environment.filters["dockerfile_env"] = env_value
        environment.filters["dockerfile_exec"] = exec_form
        environment.filters["ssh_host_of"] = ssh_host_of
        environment.filters["ssh_port_of"] = ssh_port_of
        environment.filters["pip_requirement"] = pip_requirement
        environment.filters["ci_installable"] = ci_installable
        environment.filters["copier_scratch_render"] = in_copier_scratch_render
