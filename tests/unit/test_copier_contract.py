"""The contract between released templates and the library Copier finds installed.

Copier imports the template's Jinja extension and runs its task from the gitops-onboard that
sits next to Copier, never from the template version it renders. So the oldest release must
still render, copy and update with today's library, every filter and rule a release names
must still exist (`generator.template_api` lists them), and a Copier that has only itself
must say which package to install. Renovate's Copier manager runs exactly
`copier update --skip-answered --defaults --trust --answers-file .copier-answers.yml
--vcs-ref <tag>` in the folder of each answers file; the stories below run that command.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import Environment, nodes
from jinja2.sandbox import SandboxedEnvironment

from generator import rules, template_api
from generator.cli import main as cli_main
from generator.jinja_ext import GitopsExtension
from tests import plain_copier as plain_copier_venvs
from tests.conftest import make_hermetic
from tests.helpers import (
    PROJECT,
    AgeKey,
    commit_all,
    copier_cli,
    git,
    load_yaml,
    snapshot_template,
    tree_bytes,
)

# The oldest supported release: the first template with all three kinds (infra, service,
# app) and encrypted secrets. Tagged v1.0.0 in the test's template repo; the working tree
# is v2.0.0.
OLDEST_RELEASE = "43be32688d0b99acc168cef1432f1460e31ed53f"

# This interpreter's venv: its `copier` and `gitops-onboard` run in process (the same command
# lines and library, without an interpreter start); other venvs' run as programs.
HERE = Path(sys.executable).parent


# What Renovate's Copier manager runs in the folder of each answers file.
RENOVATE_UPDATE = (
    "update",
    "--skip-answered",
    "--defaults",
    "--trust",
    "--answers-file",
    ".copier-answers.yml",
    "--vcs-ref",
    "v2.0.0",
)


def _infra_data(age_key: AgeKey) -> list[str]:
    return ["--data", "kind=infra", "--data", "clusters=[koala]", "--data",
            f"age_recipients=[{age_key.public}]"]  # fmt: skip


SERVICE = ["--data", "kind=service", "--data", "service=web", "--data", "clusters=[koala]",
           "--data", "registry=gitea.example.com", "--data", "owner=team",
           "--data", "secret_keys=[API_TOKEN]"]  # fmt: skip
APP = ["--data", "kind=app", "--data", "service=web", "--data", "registry=gitea.example.com",
       "--data", "owner=team", "--data", "language=go",
       "--data", "infra_repo=git@gitea.example.com:team/infra.git"]  # fmt: skip


# ── the names a template uses ───────────────────────────────────────────────


def _copier_filters() -> set[str]:
    """Filters Copier itself provides: Jinja's and the Ansible core filters."""
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    return set(env.filters)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _rule_names(node: nodes.Node) -> set[str]:
    """The rule names a `rule(...)` argument can evaluate to (literals and `a if c else b`)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return _rule_names(node.expr1) | _rule_names(node.expr2)
    raise AssertionError(f"rule name is not a literal: {node!r}")


@dataclass(frozen=True)
class Names:
    """What one template version asks of the library."""

    filters: set[str]
    rules: set[str]
    extensions: set[str]
    modules: set[str]


def _modules(entries: list[Any]) -> set[str]:
    """`python -m MODULE` modules of `_tasks` / `_migrations` entries."""
    found: set[str] = set()
    for entry in entries:
        command = entry.get("command", entry) if isinstance(entry, dict) else entry
        words = command.split() if isinstance(command, str) else [str(w) for w in command]
        found |= {words[i + 1] for i, word in enumerate(words[:-1]) if word == "-m"}
    return found


def template_names(root: Path) -> Names:
    """Every filter, rule, extension and module the template at `root` names."""
    config = yaml.safe_load((root / "copier.yml").read_text(encoding="utf-8"))
    sources = list(_strings(config))
    for path in sorted((root / "template").rglob("*")):
        sources.append(path.relative_to(root).as_posix())
        if path.is_file() and path.suffix == ".jinja":
            sources.append(path.read_text(encoding="utf-8"))
    parser = Environment()
    filters: set[str] = set()
    rule_names: set[str] = set()
    for source in sources:
        for node in parser.parse(source).find_all(nodes.Filter):
            filters.add(node.name)
            if node.name == "rule":
                rule_names |= _rule_names(node.args[0])
    return Names(
        filters=filters - _copier_filters(),
        rules=rule_names,
        extensions=set(config.get("_jinja_extensions", [])),
        modules=_modules([*config.get("_tasks", []), *config.get("_migrations", [])]),
    )


def _assert_only_frozen(names: Names) -> None:
    assert names.filters <= set(template_api.FILTERS), names.filters - set(template_api.FILTERS)
    assert names.rules <= set(template_api.RULES), names.rules - set(template_api.RULES)
    assert names.extensions <= set(template_api.EXTENSIONS), names.extensions
    assert names.modules <= set(template_api.MODULES), names.modules


def extension_filters(path: str) -> set[str]:
    """The filters an extension adds when Copier loads it by its import path."""
    bare = set(SandboxedEnvironment().filters)
    return set(SandboxedEnvironment(extensions=[path]).filters) - bare


def missing_frozen_names() -> list[str]:
    """Frozen names the installed library no longer provides."""
    missing = [f"rule {name}" for name in template_api.RULES if name not in rules.RULES]
    for path in template_api.EXTENSIONS:
        have = extension_filters(path)
        missing += [f"filter {name} ({path})" for name in template_api.FILTERS if name not in have]
    missing += [
        f"module {name}" for name in template_api.MODULES if importlib.util.find_spec(name) is None
    ]
    return missing


def extract_release(commit: str, destination: Path) -> Path:
    """`copier.yml` and `template/` of this repository at `commit`, written to `destination`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "copier.yml", "template"],
        cwd=PROJECT,
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        pytest.fail(
            f"release {commit} is not in this clone's history (a full clone is needed): "
            + archive.stderr.decode(errors="replace").strip()
        )
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination


# ── the frozen names ────────────────────────────────────────────────────────


def test_the_library_provides_every_frozen_name() -> None:
    assert missing_frozen_names() == []


def test_a_removed_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule dropped from the library breaks every release whose validators name it."""
    monkeypatch.delitem(rules.RULES, "port")
    assert missing_frozen_names() == ["rule port"]


def test_a_removed_filter_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter the extension stops registering breaks every release that uses it."""
    register = GitopsExtension.__init__

    def without_ssh_port_of(self: GitopsExtension, environment: Environment) -> None:
        register(self, environment)
        del environment.filters["ssh_port_of"]

    monkeypatch.setattr(GitopsExtension, "__init__", without_ssh_port_of)
    assert missing_frozen_names() == [
        f"filter ssh_port_of ({path})" for path in template_api.EXTENSIONS
    ]


def test_the_template_on_disk_names_only_frozen_names() -> None:
    """A name the template starts using is frozen from its first release: list it first."""
    names = template_names(PROJECT)
    _assert_only_frozen(names)
    assert names.extensions == {"gitops_onboard.GitopsExtension"}
    assert names.rules and "rule" in names.filters


def test_the_architecture_page_names_every_frozen_filter() -> None:
    page = (PROJECT / "docs/explanation/architecture.md").read_text()
    contract = page.split("## The Copier contract", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in template_api.FILTERS if f"`{name}`" not in contract]
    assert missing == [], f"docs/explanation/architecture.md does not list {missing}"


def test_the_oldest_release_names_only_frozen_names(tmp_path: Path) -> None:
    names = template_names(extract_release(OLDEST_RELEASE, tmp_path / "v1"))
    _assert_only_frozen(names)
    assert names.extensions == {"generator.jinja_ext.GitopsExtension"}
    assert names.modules == {"generator.tasks"}
    assert {"yaml_str", "rule", "dockerfile_exec", "ssh_host_of"} <= names.filters
    assert {"dns1035_label", "age_recipients", "infra_repo"} <= names.rules


# ── the releases, and the Copier installs that render them ──────────────────


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repo: the oldest supported release as v1.0.0, the working tree as v2.0.0."""
    repo = tmp_path_factory.mktemp("releases") / "template"
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("releases-home"), mp)
        extract_release(OLDEST_RELEASE, repo)
        git("init", "-q", "-b", "main", cwd=repo)
        commit_all(repo, "oldest supported release")
        git("tag", "v1.0.0", cwd=repo)
        (repo / "copier.yml").unlink()
        shutil.rmtree(repo / "template")
        snapshot_template(repo, "v2.0.0")
    return repo


@dataclass(frozen=True)
class PlainCopier:
    """Plain Copier set up as docs/getting-started.md says, step by step."""

    bin: Path  # Copier with gitops-onboard (this working tree) injected
    before_install: subprocess.CompletedProcess[str]  # `copier copy` with only Copier
    before_install_dest: Path
    old_update: subprocess.CompletedProcess[str]  # Renovate's update of a v1.0.0 app copy
    old_copy: Path


@pytest.fixture(scope="module")
def plain_copier(
    tmp_path_factory: pytest.TempPathFactory, releases: Path, age_key: AgeKey
) -> PlainCopier:
    """`pipx install copier`, a `copier copy` that fails, then `pipx inject copier gitops-onboard`.

    pipx does both in one venv; this keeps the two states as two venvs (tests/plain_copier.py,
    built once and reused while pyproject.toml's requirements stay the same), with the Copier
    range of pyproject.toml and gitops-onboard built from the working tree.
    """
    only_copier = plain_copier_venvs.only_copier()
    dest = tmp_path_factory.mktemp("plain-copy") / "infra"
    dest.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("plain-home"), mp)
        git("init", "-q", "-b", "main", cwd=dest)
        before = _copier(
            only_copier,
            "copy",
            *_infra_data(age_key),
            "--vcs-ref",
            "v2.0.0",
            str(releases),
            ".",
            cwd=dest,
        )
        # A copy stamped at v1.0.0 elsewhere, then updated by a bare Copier (Renovate's own).
        old_copy = tmp_path_factory.mktemp("plain-update") / "web"
        old_copy.mkdir()
        git("init", "-q", "-b", "main", cwd=old_copy)
        stamp = [*APP, "--vcs-ref", "v1.0.0", str(releases), "."]
        _ok(_copier(HERE, "copy", *stamp, cwd=old_copy))
        commit_all(old_copy, "stamp at v1.0.0")
        old_update = _copier(only_copier, *RENOVATE_UPDATE, cwd=old_copy)
    injected = plain_copier_venvs.injected()
    plain_copier_venvs.install_working_tree(injected, tmp_path_factory.mktemp("wheel"))
    return PlainCopier(injected, before, dest, old_update, old_copy)


def _copier(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [*args]
    if args[0] == "copy":
        argv[1:1] = ["--trust", "--defaults"]
    if bin_dir == HERE:
        code = copier_cli(*argv, cwd=cwd)
        return subprocess.CompletedProcess(["copier", *argv], code, "", "(stderr: captured above)")
    command = [str(bin_dir / "copier"), *argv]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_plain_copier_names_the_package_to_install(plain_copier: PlainCopier) -> None:
    """With only Copier installed, the copy stops before writing, naming gitops-onboard.

    Copier imports the extension by name in its own Python before it renders anything, and
    never from the template checkout; so the one thing it can say is the missing module,
    which is named after the distribution.
    """
    failed = plain_copier.before_install
    assert failed.returncode != 0
    assert "No module named 'gitops_onboard'" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr
    assert [p.name for p in plain_copier.before_install_dest.iterdir()] == [".git"]
    # The message the getting-started page quotes is the one Copier prints.
    for line in _plain_copier_section("text").splitlines():
        assert line in failed.stderr.splitlines(), line


def test_plain_copier_updating_a_copy_of_an_early_release_names_generator(
    plain_copier: PlainCopier,
) -> None:
    """A copy stamped before the extension was named after the package says 'generator'.

    `copier update` renders the recorded release first, with that release's
    `_jinja_extensions`; the first releases name `generator.jinja_ext.GitopsExtension`.
    """
    failed = plain_copier.old_update
    assert failed.returncode != 0
    assert "No module named 'generator'" in failed.stderr, failed.stderr
    assert git("status", "--porcelain", cwd=plain_copier.old_copy) == ""
    assert load_yaml(plain_copier.old_copy / ".copier-answers.yml")["_commit"] == "v1.0.0"


def _plain_copier_section(lang: str) -> str:
    """The first `lang` fence of the getting-started page's plain-Copier section."""
    page = (PROJECT / "docs/getting-started.md").read_text(encoding="utf-8")
    section = page.split("\n## With Copier alone\n", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{lang}\n", 1)[1].split("```", 1)[0]


def test_the_plain_copier_page_installs_what_the_fixture_installs() -> None:
    """pipx puts Copier (the range gitops-onboard needs) and gitops-onboard in one venv."""
    commands = _plain_copier_section("sh").splitlines()
    assert commands[0] == f"pipx install '{plain_copier_venvs.copier_requirement()}'"
    assert commands[1].startswith("pipx inject --include-apps copier 'gitops-onboard[infra] @ ")
    assert any(" ".join(RENOVATE_UPDATE[1:]) in c for c in _joined(commands))


def _joined(lines: list[str]) -> list[str]:
    """Shell lines with backslash continuations joined, runs of blanks squeezed."""
    text = "\n".join(lines).replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines()]


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr


def _check(bin_dir: Path, root: Path) -> dict[str, Any]:
    argv = ["check", "--offline", "--format", "json", "."]
    if bin_dir == HERE:
        out = io.StringIO()
        with contextlib.chdir(root), contextlib.redirect_stdout(out):
            cli_main(argv)
        report: dict[str, Any] = json.loads(out.getvalue())
        return report
    done = subprocess.run(
        [str(bin_dir / "gitops-onboard"), *argv],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    return report


def _stamp_infra_and_web(copier_bin: Path, infra: Path, template: Path, age_key: AgeKey) -> None:
    """An infra repo and its service web, both stamped at v1.0.0 and committed."""
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    release = ("--vcs-ref", "v1.0.0", str(template))
    _ok(_copier(copier_bin, "copy", *_infra_data(age_key), *release, ".", cwd=infra))
    commit_all(infra, "stamp the infra repo at v1.0.0")
    _ok(_copier(copier_bin, "copy", *SERVICE, *release, "apps/web", cwd=infra))
    commit_all(infra, "onboard web at v1.0.0")
    # The v1.0.0 task ran with this library: web registered, its Secret encrypted.
    assert "../../apps/web" in (infra / "clusters/koala/kustomization.yaml").read_text()
    assert "ENC[AES256_GCM," in (infra / "apps/web/secrets.enc.yaml").read_text()


def test_the_oldest_release_copies_and_renovate_updates_it_with_this_library(
    tmp_path: Path, releases: Path, age_key: AgeKey
) -> None:
    """All three kinds stamped at v1.0.0, then Renovate's command takes each to v2.0.0."""
    copier_bin = HERE
    infra, app = tmp_path / "infra", tmp_path / "web"
    _stamp_infra_and_web(copier_bin, infra, releases, age_key)
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    _ok(_copier(copier_bin, "copy", *APP, "--vcs-ref", "v1.0.0", str(releases), ".", cwd=app))
    commit_all(app, "stamp the app repo at v1.0.0")

    # One pull request per answers file, each from a clean checkout.
    for folder, repo in ((infra, infra), (infra / "apps/web", infra), (app, app)):
        _ok(_copier(copier_bin, *RENOVATE_UPDATE, cwd=folder))
        assert load_yaml(folder / ".copier-answers.yml")["_commit"] == "v2.0.0"
        commit_all(repo, f"update {folder.name} to v2.0.0")

    assert (infra / ".gitea/workflows/check.yml").is_file()  # new since v1.0.0
    for repo in (infra, app):
        conflicted = [p for p, data in tree_bytes(repo).items() if b"<<<<<<<" in data]
        assert conflicted == []
    # Each copy is now what v2.0.0 renders; left: the values onboarding leaves to the user.
    report = _check(copier_bin, infra)
    assert {c["path"]: c["version"] for c in report["copies"]} == {
        ".": "v2.0.0",
        "apps/web": "v2.0.0",
    }
    assert {(f["check"], f["path"]) for f in report["findings"]} == {
        ("secret", "apps/web/secrets.enc.yaml"),
        ("secret", "pull-secrets/registry-credentials/secret.enc.yaml"),
    }
    app_report = _check(copier_bin, app)
    assert app_report["ok"], app_report["findings"]


def test_plain_copier_with_gitops_onboard_injected_copies_and_renovate_updates(
    tmp_path: Path, releases: Path, age_key: AgeKey, plain_copier: PlainCopier
) -> None:
    """The documented plain-Copier set-up stamps a service and runs Renovate's update on it."""
    infra = tmp_path / "infra"
    _stamp_infra_and_web(plain_copier.bin, infra, releases, age_key)
    web = infra / "apps/web"
    before = (web / "secrets.enc.yaml").read_bytes()

    _ok(_copier(plain_copier.bin, *RENOVATE_UPDATE, cwd=web))

    assert load_yaml(web / ".copier-answers.yml")["_commit"] == "v2.0.0"
    assert (web / "secrets.enc.yaml").read_bytes() == before
    changed = git("status", "--porcelain", cwd=infra).splitlines()
    assert changed and all(line[3:].startswith("apps/web/") for line in changed), changed
