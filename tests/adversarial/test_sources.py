"""Untrusted template sources: an answers file is data, yet it names code that runs.

Copier runs a template's `_tasks` (and migrations) with `--trust`. Every stamped copy records
its template in `_src_path`, and a pull request can change that line like any other answer.
The attacker here publishes a second template that looks like ours: same files, same tag,
plus one task that writes a marker file `PWNED` (`onboard` renders with the tasks skipped and
writes the task's part itself, so for it the look-alike also renders one file of its own into
every service, which shows it was used). Then they point a service's (or the infra root's)
answers file at it. Before the allow-list, `update` (even `--dry-run`) ran the task,
`onboard` ran it through the root answers file, and `check` stayed green, online too.

Now only the sources on the infra root's allow-list (`allowed_sources` in
`.gitops-onboard.yaml`, the stamping source recorded there) ever run; every other source is
refused before Copier starts (exit 2) and reported by `check` (exit 1), unless the user says
otherwise with `--allow-source SRC` for one run or `gitops-onboard template allow SRC`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.check import check
from generator.cli import main
from generator.copier_run import copying as copier_api
from generator.giturl import pip_requirement
from generator.onboard import onboard_service
from generator.sources import allow_list, normalize
from tests.app_world import APPS
from tests.helpers import (
    WEB_ARGS,
    AgeKey,
    commit_all,
    git,
    load_yaml,
    snapshot_template,
    tree_bytes,
)

# No pull secret: its placeholder would be a finding of its own in every check below.
WEB = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala"],
    "image_pull_secret": "",
}
API_ARGS = ("--service", "api", "--clusters", "koala", "-d", "registry=r.example.com")
API_ARGS += ("-d", "owner=team")
# The attacker's extra task: harmless here, it only proves that code of their choosing ran.
EVIL_TASK = """_tasks:
  - command:
      - "{{{{ _copier_python }}}}"
      - "-c"
      - "import pathlib; pathlib.Path(r'{marker}').write_text('pwned')"
"""


# What every service the look-alike renders holds besides our files.
TELL_TALE = "from-the-look-alike.txt"


def evil_template(destination: Path, marker: Path, *tags: str, tell_tale: bool = False) -> Path:
    """Our template, byte for byte, plus one task of the attacker's (and with `tell_tale`, one
    file every service renders); tagged `tags`."""
    repo = snapshot_template(destination, None)
    config = repo / "copier.yml"
    text = config.read_text()
    assert text.count("_tasks:\n") == 1
    config.write_text(text.replace("_tasks:\n", EVIL_TASK.format(marker=marker), 1))
    if tell_tale:
        (repo / "template/service" / TELL_TALE).write_text("rendered by the look-alike\n")
    commit_all(repo, "same template, one more task")
    for tag in tags:
        commit_all(repo, f"release {tag}")
        git("tag", tag, cwd=repo)
    return repo


@pytest.fixture(scope="module")
def marker_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attacker") / "PWNED"


@pytest.fixture(scope="module")
def evil_same_tag(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, marker_path: Path
) -> Path:
    """The look-alike, released as v1.0.0 only: the very tag the fleet records."""
    destination = tmp_path_factory.mktemp("evil-same") / "templates"
    return evil_template(destination, marker_path, "v1.0.0")


@pytest.fixture(scope="module")
def evil_renders(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, marker_path: Path
) -> Path:
    """The look-alike as v1.0.0, rendering `TELL_TALE` into every service it stamps."""
    destination = tmp_path_factory.mktemp("evil-renders") / "templates"
    return evil_template(destination, marker_path, "v1.0.0", tell_tale=True)


@pytest.fixture(scope="module")
def evil_newer(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, marker_path: Path
) -> Path:
    """The look-alike with a newer release, so `update` has something to update to."""
    destination = tmp_path_factory.mktemp("evil-newer") / "templates"
    return evil_template(destination, marker_path, "v1.0.0", "v1.1.0")


@pytest.fixture
def marker(marker_path: Path) -> Iterator[Path]:
    """Where the attacker's task writes if it ever runs (absent when each test starts)."""
    marker_path.unlink(missing_ok=True)
    yield marker_path
    marker_path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def web_fleet(tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path) -> Path:
    root = tmp_path_factory.mktemp("web-fleet") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    onboard_service(root, WEB)
    commit_all(root, "onboard web")
    return root


@pytest.fixture
def infra(tmp_path: Path, web_fleet: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(web_fleet, root, symlinks=True)
    return root


def point_at(answers: Path, source: Path | str) -> None:
    """The pull request: one changed line in an answers file, merged."""
    lines = answers.read_text().splitlines(keepends=True)
    changed = [f"_src_path: {source}\n" if ln.startswith("_src_path:") else ln for ln in lines]
    assert changed != lines
    answers.write_text("".join(changed))
    commit_all(answers.parent, "bump the template")


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI, expect exit 2 with one line on stderr; return that line."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def names_the_fix(err: str, answers: str, source: Path) -> None:
    assert answers in err and str(source) in err
    assert "not on the allow-list" in err
    assert f"gitops-onboard template allow {source}" in err and "--allow-source" in err


# ── update ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("dry_run", [False, True], ids=["update", "update --dry-run"])
def test_update_refuses_a_service_pointed_at_another_template(
    infra: Path,
    evil_newer: Path,
    marker: Path,
    dry_run: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(infra / "apps/web/.copier-answers.yml", evil_newer)
    head = git("rev-parse", "HEAD", cwd=infra)
    flags = ["--dry-run"] if dry_run else []

    err = refused(capsys, "update", *flags, str(infra))

    names_the_fix(err, "apps/web/.copier-answers.yml", evil_newer)
    assert not marker.exists()
    assert git("rev-parse", "HEAD", cwd=infra) == head
    assert git("status", "--porcelain", cwd=infra) == ""


def test_update_runs_it_only_when_the_user_allows_it(
    infra: Path, evil_newer: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    point_at(infra / "apps/web/.copier-answers.yml", evil_newer)

    # The decision is the user's, for this run only: the attacker's task does run.
    code = main(["update", "--allow-source", str(evil_newer), str(infra)])
    assert code == 0, capsys.readouterr()
    assert marker.read_text() == "pwned"
    assert load_yaml(infra / "apps/web/.copier-answers.yml")["_commit"] == "v1.1.0"
    # Nothing was recorded: the next run refuses again.
    git("checkout", "-q", "--", ".", cwd=infra)
    assert main(["update", str(infra)]) == 2


def test_template_allow_records_the_source_and_deny_takes_it_back(
    infra: Path, evil_newer: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    point_at(infra / "apps/web/.copier-answers.yml", evil_newer)

    assert main(["template", "allow", str(evil_newer) + "/", "--repo", str(infra)]) == 0
    assert "allowed" in capsys.readouterr().out
    assert main(["template", "list", "--repo", str(infra)]) == 0
    listed = capsys.readouterr().out
    assert str(evil_newer) in listed
    config = load_yaml(infra / ".gitops-onboard.yaml")
    assert str(evil_newer) in config["allowed_sources"]
    assert check(infra, offline=True).findings == ()

    assert main(["template", "deny", str(evil_newer), "--repo", str(infra)]) == 0
    out = capsys.readouterr().out
    assert "1 stamped copy still records it" in out
    assert [f.check for f in check(infra, offline=True).findings] == ["source"]
    assert main(["update", str(infra)]) == 2
    assert not marker.exists()

    assert main(["template", "allow", str(evil_newer), "--repo", str(infra)]) == 0
    commit_all(infra, "trust the other template")
    assert main(["update", str(infra)]) == 0
    assert marker.read_text() == "pwned"


def test_a_planted_allow_list_next_to_the_copy_counts_for_nothing(
    infra: Path, evil_newer: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull request also adds `apps/web/.gitops-onboard.yaml` allowing its template."""
    (infra / "apps/web/.gitops-onboard.yaml").write_text(f"allowed_sources:\n  - {evil_newer}\n")
    (infra / "apps/web/clusters").mkdir()
    point_at(infra / "apps/web/.copier-answers.yml", evil_newer)

    refused(capsys, "update", str(infra))
    assert not marker.exists()
    assert [f.check for f in check(infra, offline=True).findings] == ["source"]


# ── onboard ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("dry_run", [False, True], ids=["onboard", "onboard --dry-run"])
def test_onboard_refuses_a_root_answers_file_pointed_at_another_template(
    infra: Path,
    evil_same_tag: Path,
    marker: Path,
    dry_run: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(infra / ".copier-answers.yml", evil_same_tag)
    flags = ["--dry-run"] if dry_run else []

    err = refused(capsys, "onboard", *flags, "--infra", str(infra), *API_ARGS)

    assert str(evil_same_tag) in err and "not on the allow-list" in err
    assert "--allow-source" in err
    assert not marker.exists()
    assert not (infra / "apps/api").exists()
    assert git("status", "--porcelain", cwd=infra) == ""


def test_onboard_refuses_a_template_named_on_the_command_line_but_not_allowed(
    infra: Path, evil_renders: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["onboard", "--infra", str(infra), "--template", str(evil_renders), *API_ARGS]
    err = refused(capsys, *argv)
    assert str(evil_renders) in err
    assert not marker.exists() and not (infra / "apps/api").exists()

    assert main([*argv, "--allow-source", str(evil_renders)]) == 0
    assert (infra / "apps/api" / TELL_TALE).is_file()
    assert (infra / "apps/api/deployment.yaml").is_file()


def test_onboard_with_allow_source_runs_the_root_template(
    infra: Path, evil_renders: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    point_at(infra / ".copier-answers.yml", evil_renders)
    argv = ["onboard", "--infra", str(infra), *API_ARGS, "--allow-source", str(evil_renders)]
    assert main(argv) == 0
    assert (infra / "apps/api" / TELL_TALE).is_file()


def test_resume_refuses_an_interrupted_service_pointed_at_another_template(
    infra: Path, evil_same_tag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`onboard --resume` renders what is missing from the recorded `_src_path`: a pull
    request that leaves a half-onboarded folder pointed at the look-alike gets it refused."""
    koala = infra / "clusters/koala/kustomization.yaml"
    koala.write_text(
        "".join(ln for ln in koala.read_text().splitlines(True) if "apps/web" not in ln)
    )
    (infra / "apps/web/deployment.yaml").unlink()
    point_at(infra / "apps/web/.copier-answers.yml", evil_same_tag)
    before = tree_bytes(infra)

    err = refused(capsys, "onboard", "--infra", str(infra), "--resume", "web")

    assert str(evil_same_tag) in err and "not on the allow-list" in err
    assert tree_bytes(infra) == before


def test_onboard_from_the_recorded_template_needs_no_flag(
    infra: Path, template_repo: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["onboard", "--infra", str(infra), *API_ARGS]) == 0
    # The same source written another way is the same source.
    www = ["--service", "www", *WEB_ARGS[2:]]
    assert main(["onboard", "--infra", str(infra), "--template", f"{template_repo}/", *www]) == 0
    assert not marker.exists()


# ── check ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_check_reports_every_copy_from_a_source_not_on_the_allow_list(
    infra: Path,
    evil_same_tag: Path,
    marker: Path,
    offline: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(infra / "apps/web/.copier-answers.yml", evil_same_tag)
    point_at(infra / ".copier-answers.yml", evil_same_tag)

    report = check(infra, offline=offline)

    found = {(f.check, f.path) for f in report.findings}
    assert found == {("source", ".copier-answers.yml"), ("source", "apps/web/.copier-answers.yml")}
    for finding in report.findings:
        assert str(evil_same_tag) in finding.message
        assert f"gitops-onboard template allow {evil_same_tag}" in finding.fix
    code = main(["check", *(["--offline"] if offline else []), str(infra)])
    out = capsys.readouterr().out
    assert code == 1 and "source:" in out and "apps/web/.copier-answers.yml" in out
    assert not marker.exists()


# ── where the allow-list comes from ──────────────────────────────────────────


def test_init_records_the_template_it_stamps_from(
    tmp_path: Path, template_repo: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "infra"
    argv = ["init", "--template", str(template_repo), "--clusters", "koala"]
    argv += ["--age-recipient", age_key.public, str(root)]
    assert main(argv) == 0
    assert load_yaml(root / ".gitops-onboard.yaml") == {"allowed_sources": [str(template_repo)]}
    listing = allow_list(root)
    assert listing.recorded and listing.allows(str(template_repo))


def test_init_cannot_swap_the_template_of_a_repo_that_records_one(
    infra: Path,
    evil_same_tag: Path,
    age_key: AgeKey,
    marker: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The root answers file is gone; re-stamping from another template is no way around."""
    (infra / ".copier-answers.yml").unlink()
    commit_all(infra, "lose the root answers")
    argv = ["init", "--template", str(evil_same_tag), "--clusters", "koala"]
    argv += ["--age-recipient", age_key.public, str(infra)]

    err = refused(capsys, *argv)
    assert str(evil_same_tag) in err and "not on the allow-list" in err
    assert "--allow-source" in err
    assert not marker.exists() and not (infra / ".copier-answers.yml").exists()
    assert git("status", "--porcelain", cwd=infra) == ""


def test_an_app_repo_records_its_template_and_refuses_another(
    tmp_path: Path,
    template_repo: Path,
    evil_newer: Path,
    marker: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = tmp_path / "portal"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    copier_api.copy(str(template_repo), app, {**APPS["portal"], "kind": "app"})
    assert load_yaml(app / ".gitops-onboard.yaml") == {"allowed_sources": [str(template_repo)]}
    commit_all(app, "stamp the app")
    point_at(app / ".copier-answers.yml", evil_newer)

    err = refused(capsys, "update", str(app))
    assert ".copier-answers.yml" in err and str(evil_newer) in err
    assert [f.check for f in check(app, offline=True).findings] == ["source"]
    assert not marker.exists()


def test_without_a_recorded_list_the_root_source_is_the_only_one_allowed(
    infra: Path, evil_newer: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repo stamped before allow-lists existed: its root's source is allowed by default."""
    (infra / ".gitops-onboard.yaml").unlink()
    commit_all(infra, "a repo stamped before allow-lists")
    point_at(infra / "apps/web/.copier-answers.yml", evil_newer)

    refused(capsys, "update", str(infra))
    assert [(f.check, f.path) for f in check(infra, offline=True).findings] == [
        ("source", "apps/web/.copier-answers.yml")
    ]
    assert main(["template", "list", "--repo", str(infra)]) == 0
    assert "not recorded" in capsys.readouterr().out
    assert not marker.exists()


def test_a_broken_allow_list_is_refused(infra: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (infra / ".gitops-onboard.yaml").write_text("allowed_sources: /just/one/string\n")
    err = refused(capsys, "update", str(infra))
    assert ".gitops-onboard.yaml: allowed_sources" in err


# ── comparing sources ────────────────────────────────────────────────────────


OURS = "gitea.example.com/platform/gitops-onboard"


@pytest.mark.parametrize(
    ("allowed", "recorded"),
    [
        (f"https://{OURS}.git", f"https://{OURS}"),
        (f"https://{OURS}/", f"https://{OURS}.git"),
        (f"git+https://{OURS}", f"https://{OURS}.git/"),
        ("gh:platform/gitops-onboard", "https://github.com/platform/gitops-onboard.git"),
        ("git@gitea.example.com:platform/x.git", "git@gitea.example.com:platform/x"),
    ],
)  # fmt: skip
def test_the_same_source_written_differently_is_allowed(allowed: str, recorded: str) -> None:
    assert normalize(allowed, base=Path("/")) == normalize(recorded, base=Path("/"))


@pytest.mark.parametrize(
    "recorded",
    [
        "https://gitea.example.com.evil.io/platform/gitops-onboard.git",
        "https://gitea.example.com@evil.io/platform/gitops-onboard.git",
        "https://evil.io/gitea.example.com/platform/gitops-onboard.git",
        "https://gitea.example.com/platform/gitops-onboard-fork.git",
        "https://gitea.example.com/platform/gitops-onboard/../evil.git",
        "http://gitea.example.com/platform/gitops-onboard.git",
        "git@evil.io:platform/gitops-onboard.git",
    ],
)
def test_a_look_alike_source_is_not_the_same(recorded: str) -> None:
    allowed = normalize("https://gitea.example.com/platform/gitops-onboard.git", base=Path("/"))
    assert normalize(recorded, base=Path("/")) != allowed


def test_local_paths_compare_resolved(tmp_path: Path) -> None:
    real = tmp_path / "templates" / "gitops-onboard"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(real)
    same = [str(real), f"{real}/", f"{tmp_path}/templates/../templates/gitops-onboard"]
    same += [str(link), f"file://{real}", "gitops-onboard"]
    assert {normalize(s, base=real.parent) for s in same} == {real.as_posix()}
    assert normalize(f"{real}-fork", base=tmp_path) != real.as_posix()


@pytest.mark.parametrize(
    ("source", "ref"),
    [
        ("git@gitea.example.com:platform/gitops-onboard.git extra", "v1.0.0"),
        ("git@gitea.example.com:platform/gitops-onboard.git\n", "v1.0.0"),
        ("git@gitea.example.com:platform/gitops-onboard.git#egg=evil", "v1.0.0"),
        (f"https://{OURS}.git\n", "v1.0.0"),
        ("/srv/templates/gitops-onboard\n", "v1.0.0"),
        (f"https://{OURS}.git", "v1.0.0\n"),
        (f"https://{OURS}.git", "v1.0.0 --index-url=https://evil.io/simple"),
    ],
)
def test_a_source_or_version_with_trailing_text_gives_no_install_line(
    source: str, ref: str
) -> None:
    """The workflows install the template's library with the line `pip_requirement` makes
    from the recorded `_src_path` and `_commit`. An scp-form source with trailing text was cut
    where the text began and installed from the part before it, silently; a trailing newline
    was refused with a three-line message. Each is refused with the rule in one line."""
    with pytest.raises(ValueError) as refused:
        pip_requirement(source, ref)
    assert "\n" not in str(refused.value), str(refused.value)
