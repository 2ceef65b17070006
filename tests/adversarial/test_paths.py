"""Paths an attacker controls: service names that climb out of `apps/`, and symbolic links.

Every writing command deletes or writes only inside the infra root, through no symbolic link.
A hostile name or a link is refused with one line and exit 2, the real run and `--dry-run`
alike, and not one byte changes: not in the repo, not in the folder next to it, not behind
the link.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from generator.age import generate
from generator.cli import main
from generator.copier_run import copying as copier_api
from generator.errors import InputError, OnboardError
from generator.fsutil import confined, write_atomic, write_if_changed
from generator.rules import dns1035_label
from tests.conftest import make_hermetic
from tests.helpers import WEB_ARGS, AgeKey, commit_all, git
from tests.story.test_cd_harness import Deploy, deploy_for  # noqa: F401 (a fixture)
from tests.unit.test_flux import GOTK_SYNC

PREFIX = "gitops-onboard: error: "
WEB = [*WEB_ARGS, "-d", "secret_keys=[API_KEY]"]
# What ~/.kube/config holds: nothing of it may ever be copied into the repo.
KUBECONFIG = """\
apiVersion: v1
kind: Config
users:
- name: admin
  user:
    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tc2VjcmV0LWNsaWVudC1rZXk=
"""


# --- the world -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onboarded_pristine(
    tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path, template_repo: Path
) -> Path:
    """The stamped infra repo with `web` onboarded on koala (secret key API_KEY), committed."""
    root = tmp_path_factory.mktemp("paths-pristine") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("paths-home"), mp)
        code = main(["onboard", "--infra", str(root), "--template", str(template_repo), *WEB])
        assert code == 0
        commit_all(root, "onboard web")
    return root


@pytest.fixture
def world(tmp_path: Path, onboarded_pristine: Path) -> Path:
    """`tmp_path` holding `infra/` (web onboarded) and `victim/`, a folder next to it."""
    shutil.copytree(onboarded_pristine, tmp_path / "infra", symlinks=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work\n")
    (victim / "kustomization.yaml").write_text("resources:\n- ../../apps/web\n")
    return tmp_path


def snapshot(top: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under `top`: links as links (never followed), files with bytes and mode."""
    found: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            key = path.relative_to(top).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                found[key] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
    return found


def run_out(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    """Run the real CLI in process; return the exit code, stdout and stderr."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str]:
    """Run the real CLI in process; return the exit code and stderr."""
    code, _, err = run_out(capsys, *argv, stdin=stdin)
    return code, err


def refused(capsys: pytest.CaptureFixture[str], top: Path, *argv: str, stdin: str = "") -> str:
    """Run `argv` for real and with `--dry-run`: both exit 2 with the same one line and
    change nothing under `top`. Returns that line."""
    before = snapshot(top)
    code, err = run(capsys, *argv, stdin=stdin)
    lines = err.strip().splitlines()
    assert (code, len(lines)) == (2, 1), err
    assert lines[0].startswith(PREFIX), err
    assert snapshot(top) == before
    dry_code, dry_err = run(capsys, *argv, "--dry-run", stdin=stdin)
    assert (dry_code, dry_err.strip().splitlines()) == (2, lines), dry_err
    assert snapshot(top) == before
    return lines[0].removeprefix(PREFIX)


def link(path: Path, target: Path | str) -> None:
    """Replace `path` (file, folder or nothing) with a symbolic link to `target`."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def move_out(path: Path, to: Path) -> None:
    """Move `path` to `to` and leave a symbolic link in its place."""
    shutil.move(path, to)
    path.symlink_to(to)


LINK_RULE = "never edits, writes or deletes through a symbolic link"


# --- item 1: offboard deletes whatever it is given -----------------------------------------


HOSTILE_NAMES = [
    "../../victim",  # apps/../../victim: the folder next to the repo
    "{victim}",  # an absolute path wins over apps/ in a path join
    "../clusters",  # every cluster of the repo
    "..",  # the whole repo
    ".",  # every service
    "web/../../../victim",
    "../apps/web",
    "Web",
    "web/",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_offboard_refuses_a_name_that_is_not_a_service_name(
    world: Path, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    """`offboard --yes ../../victim` (or an absolute path, `..`, `../clusters`) ran `rm -rf`
    on its target with exit 0, while `--dry-run` said "does not exist" — or, given an
    absolute path, deleted the real target from inside the dry run's copy."""
    name = hostile.format(victim=world / "victim")
    line = refused(capsys, world, "offboard", "--infra", str(world / "infra"), "--yes", name)
    assert line == f"service: {dns1035_label(name)} (got {name!r})"
    assert (world / "victim/thesis.tex").read_text() == "years of work\n"


def test_offboard_from_inside_the_repo_as_the_issue_reproduced_it(world: Path) -> None:
    """The installed command, run from the infra repo: `offboard --yes ../../victim`."""
    command = Path(sys.executable).parent / "gitops-onboard"
    before = snapshot(world)
    outputs = []
    for extra in ([], ["--dry-run"]):
        done = subprocess.run(
            [str(command), "offboard", "--yes", "../../victim", *extra],
            cwd=world / "infra",
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        outputs.append(done.stderr)
        assert snapshot(world) == before
    rule = dns1035_label("../../victim")
    assert outputs == [f"{PREFIX}service: {rule} (got '../../victim')\n"] * 2


def test_offboard_does_not_delete_through_a_linked_service_folder(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apps/web` is a link to a folder outside the repo: offboarding web must not delete
    what it points to, nor unregister web and then crash on the link."""
    infra = world / "infra"
    link(infra / "apps/web", world / "victim")
    line = refused(capsys, world, "offboard", "--infra", str(infra), "--yes", "web")
    assert line.startswith(f"apps/web: is a symbolic link; gitops-onboard {LINK_RULE}")


def test_offboard_does_not_delete_through_a_linked_apps_folder(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apps/` is a link to another repo's services: offboarding web deleted the other
    repo's `web/`."""
    infra = world / "infra"
    move_out(infra / "apps", world / "shared-apps")
    line = refused(capsys, world, "offboard", "--infra", str(infra), "--yes", "web")
    assert line.startswith(
        f"apps/web: its folder apps is a symbolic link; gitops-onboard {LINK_RULE}"
    )


def test_offboard_does_not_edit_a_linked_cluster_file(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """koala's kustomization is a link to a file outside: offboarding web replaced the link
    with a regular file holding the target's content."""
    infra = world / "infra"
    outside = world / "victim/kustomization.yaml"
    shutil.copy(infra / "clusters/koala/kustomization.yaml", outside)
    link(infra / "clusters/koala/kustomization.yaml", outside)
    line = refused(capsys, world, "offboard", "--infra", str(infra), "--yes", "web")
    assert line.startswith("clusters/koala/kustomization.yaml: is a symbolic link; ")


def test_offboard_through_a_linked_infra_root_works(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The infra root itself may be reached through a link (a checkout under ~/src -> /data)."""
    (world / "via").symlink_to(world / "infra")
    code, err = run(capsys, "offboard", "--infra", str(world / "via"), "--yes", "web")
    assert code == 0, err
    assert not (world / "infra/apps/web").exists()
    assert (world / "via").is_symlink()


# --- item 8: symbolic links are followed ---------------------------------------------------


def onboard_argv(infra: Path, template: Path, service: str = "api", *more: str) -> list[str]:
    return [
        "onboard",
        "--infra",
        str(infra),
        "--template",
        str(template),
        "--service",
        service,
        "--clusters",
        "koala",
        "-d",
        "registry=gitea.example.com",
        "-d",
        "owner=team",
        *more,
    ]


def test_onboard_does_not_copy_a_linked_kubeconfig_into_the_repo(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clusters/koala/kustomization.yaml -> ~/.kube/config`: onboarding replaced the link
    with a regular file holding the client key plus the new resource, exit 0."""
    infra = world / "infra"
    kubeconfig = world / "home/.kube/config"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(KUBECONFIG)
    link(infra / "clusters/koala/kustomization.yaml", kubeconfig)
    line = refused(capsys, world, *onboard_argv(infra, template_repo))
    assert line.startswith("clusters/koala/kustomization.yaml: is a symbolic link; ")
    assert not (infra / "apps/api").exists()


def test_onboard_does_not_edit_a_cluster_file_linked_inside_the_repo(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """koala's kustomization links to iguana's: the edit would silently register the service
    on iguana too (or turn the link into a copy)."""
    infra = world / "infra"
    link(infra / "clusters/koala/kustomization.yaml", "../iguana/kustomization.yaml")
    line = refused(capsys, world, *onboard_argv(infra, template_repo))
    assert line.startswith("clusters/koala/kustomization.yaml: is a symbolic link; ")


def test_onboard_does_not_write_into_a_linked_cluster_folder(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clusters/koala/` is a link to a folder outside the repo."""
    infra = world / "infra"
    move_out(infra / "clusters/koala", world / "elsewhere-koala")
    line = refused(capsys, world, *onboard_argv(infra, template_repo))
    assert line.startswith(
        "clusters/koala/kustomization.yaml: its folder clusters/koala is a symbolic link; "
    )


def test_onboard_does_not_create_a_cluster_file_over_a_dangling_link(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--create-clusters` for a cluster whose kustomization is a dangling link would create
    the link's target, wherever it points."""
    infra = world / "infra"
    link(infra / "clusters/panda/kustomization.yaml", world / "victim/new.yaml")
    argv = onboard_argv(infra, template_repo)
    argv[argv.index("koala")] = "panda"
    line = refused(capsys, world, *argv, "--create-clusters")
    assert line.startswith("clusters/panda/kustomization.yaml: is a symbolic link; ")
    assert not (world / "victim/new.yaml").exists()


def test_onboard_does_not_stamp_into_a_linked_apps_folder(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apps/` is a link: Copier would render the new service wherever it points."""
    infra = world / "infra"
    move_out(infra / "apps", world / "shared-apps")
    line = refused(capsys, world, *onboard_argv(infra, template_repo))
    assert line.startswith(
        f"apps/api: its folder apps is a symbolic link; gitops-onboard {LINK_RULE}"
    )
    assert not (world / "shared-apps/api").exists()


def test_onboard_through_a_linked_infra_root_works(
    world: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (world / "via").symlink_to(world / "infra")
    code, err = run(capsys, *onboard_argv(world / "via", template_repo))
    assert code == 0, err
    assert (world / "infra/apps/api/kustomization.yaml").is_file()
    text = (world / "infra/clusters/koala/kustomization.yaml").read_text()
    assert "../../apps/api" in text


def test_recipients_add_does_not_replace_a_linked_sops_config(
    world: Path, capsys: pytest.CaptureFixture[str], age_private_key: AgeKey
) -> None:
    """`.sops.yaml` links to a shared config outside: adding a recipient turned the link into
    a regular copy (and the shared file never got the key)."""
    infra = world / "infra"
    move_out(infra / ".sops.yaml", world / "shared.sops.yaml")
    line = refused(capsys, world, "recipients", "add", generate().public, "--infra", str(infra))
    assert line.startswith(f".sops.yaml: is a symbolic link; gitops-onboard {LINK_RULE}")


def test_recipients_add_does_not_rewrite_a_linked_secret(
    world: Path, capsys: pytest.CaptureFixture[str], age_private_key: AgeKey
) -> None:
    """A `*.enc.yaml` that links to a file outside: `sops updatekeys` rewrote the target."""
    infra = world / "infra"
    move_out(infra / "apps/web/secrets.enc.yaml", world / "victim/secrets.enc.yaml")
    line = refused(capsys, world, "recipients", "add", generate().public, "--infra", str(infra))
    assert line.startswith("apps/web/secrets.enc.yaml: is a symbolic link; ")


@pytest.mark.parametrize("command", ["set", "unset"])
@pytest.mark.parametrize("target", ["victim/secrets.enc.yaml", "infra/shared/secrets.enc.yaml"])
def test_secrets_do_not_write_through_a_linked_secrets_file(
    world: Path,
    capsys: pytest.CaptureFixture[str],
    age_private_key: AgeKey,
    command: str,
    target: str,
) -> None:
    """`apps/web/secrets.enc.yaml` is a link: `sops set` wrote the value into its target
    when the target was inside the repo, and crashed with a traceback when it was not."""
    infra = world / "infra"
    (world / target).parent.mkdir(exist_ok=True)
    move_out(infra / "apps/web/secrets.enc.yaml", world / target)
    argv = ["secrets", command, "web", "API_KEY", "--infra", str(infra)]
    line = refused(capsys, world, *argv, stdin="hunter2")
    assert line.startswith("apps/web/secrets.enc.yaml: is a symbolic link; ")


def test_pull_secret_does_not_write_through_a_link(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull secret is a link to another repo's: setting the credentials replaced the
    link with a regular file."""
    infra = world / "infra"
    move_out(
        infra / "pull-secrets/registry-credentials/secret.enc.yaml",
        world / "victim/secret.enc.yaml",
    )
    argv = ["pull-secret", "set", "--registry", "gitea.example.com", "--username", "bot"]
    line = refused(capsys, world, *argv, "--infra", str(infra), stdin="token-0f9e")
    assert line.startswith(
        "pull-secrets/registry-credentials/secret.enc.yaml: is a symbolic link; "
    )


def test_flux_enable_decryption_does_not_edit_through_a_link(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """koala's Flux files are links to another checkout's: enabling decryption replaced the
    link with an edited copy."""
    infra = world / "infra"
    outside = world / "other-checkout/flux-system"
    outside.mkdir(parents=True)
    (outside / "gotk-sync.yaml").write_text(GOTK_SYNC)
    (outside / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- gotk-sync.yaml\n"
    )
    for name in ("gotk-sync.yaml", "kustomization.yaml"):
        link(infra / "clusters/koala/flux-system" / name, outside / name)
    line = refused(capsys, world, "flux", "enable-decryption", "--infra", str(infra))
    assert "clusters/koala/flux-system/" in line and ": is a symbolic link; " in line


def test_recipients_remove_refuses_secrets_it_cannot_see(
    world: Path, capsys: pytest.CaptureFixture[str], age_private_key: AgeKey
) -> None:
    """`apps/` links elsewhere: the rotation walked past it, so removing a recipient left
    every service secret readable by the removed key while reporting success."""
    infra = world / "infra"
    other = generate().public
    assert run(capsys, "recipients", "add", other, "--infra", str(infra))[0] == 0
    move_out(infra / "apps", world / "shared-apps")
    line = refused(capsys, world, "recipients", "remove", other, "--infra", str(infra))
    assert line.startswith(f"apps: is a symbolic link; gitops-onboard {LINK_RULE}")


def test_dry_run_never_shows_what_an_unrelated_link_points_to(
    world: Path, capsys: pytest.CaptureFixture[str], age_private_key: AgeKey
) -> None:
    """A relative link in the repo to `~/.kube/config` points nowhere inside the dry run's
    copy, so the preview of any command showed the whole kubeconfig as a deleted file."""
    infra = world / "infra"
    kubeconfig = world / "home/.kube/config"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(KUBECONFIG)
    link(infra / "notes/kubeconfig", "../../home/.kube/config")
    before = snapshot(world)
    argv = ["secrets", "set", "web", "API_KEY", "--infra", str(infra), "--dry-run"]
    code, out, err = run_out(capsys, *argv, stdin="hunter2")
    assert code == 0, err
    assert "apps/web/secrets.enc.yaml" in out
    assert "client-key-data" not in out + err
    assert "notes/kubeconfig" not in out
    assert snapshot(world) == before


def test_cd_tag_bump_does_not_write_through_a_linked_kustomization(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A commit replaced `apps/<service>/kustomization.yaml` with a link to a file on the
    runner: the deploy job's bump read that file and wrote the new tag into it."""
    deploy: Deploy = request.getfixturevalue("deploy_for")("ledger")
    on_runner = tmp_path / "runner-file.yaml"
    on_runner.write_text(deploy.show(deploy.kustomization))
    clone = tmp_path / "attacker"
    git("clone", "-q", str(deploy.remote), str(clone), cwd=tmp_path)
    link(clone / deploy.kustomization, on_runner)
    commit_all(clone, "link the kustomization")
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    refs, before = deploy.refs(), on_runner.read_bytes()

    build, bump = deploy.run()

    assert (build.returncode, bump.returncode) == (0, 1), bump.stderr
    assert f"::error::{deploy.kustomization} is a symbolic link" in bump.stderr
    assert on_runner.read_bytes() == before
    assert deploy.refs() == refs


def test_copier_task_does_not_edit_a_linked_cluster_file(world: Path, template_repo: Path) -> None:
    """`copier copy --trust` straight into `apps/api` runs the registration task, which
    edits the cluster files itself: the same guard holds there."""
    infra = world / "infra"
    kubeconfig = world / "home/.kube/config"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(KUBECONFIG)
    link(infra / "clusters/koala/kustomization.yaml", kubeconfig)
    answers = {
        "kind": "service",
        "service": "api",
        "clusters": ["koala"],
        "registry": "gitea.example.com",
        "owner": "team",
    }
    with pytest.raises(OnboardError):
        copier_api.copy(str(template_repo), infra / "apps/api", answers)
    assert kubeconfig.read_text() == KUBECONFIG
    assert os.readlink(infra / "clusters/koala/kustomization.yaml") == str(kubeconfig)


# --- the guard itself ----------------------------------------------------------------------


def test_confined_refuses_every_way_out(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "up").symlink_to("..")
    for path in [
        root / "apps/../../outside",
        tmp_path / "outside/file",
        Path("/etc/passwd"),
        root / "up/outside/file",
        root / "apps/../up/x",
    ]:
        with pytest.raises(InputError):
            confined(root, path)


def test_confined_allows_a_linked_root_and_paths_still_to_be_created(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "clusters").mkdir(parents=True)
    (real / "README.md").write_text("x")
    via = tmp_path / "via"
    via.symlink_to(real)
    assert confined(via, via / "clusters/new/kustomization.yaml") == (
        real.resolve() / "clusters/new/kustomization.yaml"
    )
    assert confined(via, real.resolve() / "apps/web") == real.resolve() / "apps/web"
    # a file where a folder would be: not a link, the write itself will fail
    assert confined(real, real / "README.md/x") == real.resolve() / "README.md/x"


def test_writers_refuse_to_replace_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("kept\n")
    path = tmp_path / "link.yaml"
    path.symlink_to(target)
    for write in (write_atomic, write_if_changed):
        with pytest.raises(InputError, match="is a symbolic link"):
            write(path, "new\n")
    assert target.read_text() == "kept\n" and path.is_symlink()


def test_init_does_not_create_cluster_files_through_a_linked_folder(
    tmp_path: Path, template_repo: Path, age_key: AgeKey, capfd: pytest.CaptureFixture[str]
) -> None:
    """A new infra folder whose `clusters/` links elsewhere: the task created
    `koala/kustomization.yaml` wherever the link pointed. (The Copier task says why on
    its own stderr, hence capfd.)"""
    target = tmp_path / "new-infra"
    (tmp_path / "elsewhere").mkdir()
    target.mkdir()
    (target / "clusters").symlink_to(tmp_path / "elsewhere")
    before = snapshot(tmp_path)
    argv = ["init", "--template", str(template_repo), "--clusters", "koala"]
    code, err = run(capfd, *argv, "--age-recipient", age_key.public, str(target))
    assert code != 0
    assert "clusters/koala/kustomization.yaml: its folder clusters is a symbolic link" in err
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert snapshot(tmp_path)["new-infra/clusters"] == before["new-infra/clusters"]


@pytest.mark.parametrize(
    ("name", "target", "expected"),
    [
        (".gitea", "victim", ".gitea/workflows/cd.yml: its folder .gitea is a symbolic link; "),
        ("Dockerfile", "victim/Dockerfile", "Dockerfile: is a symbolic link; "),
    ],
)
def test_onboard_does_not_stamp_an_app_repo_through_a_link(
    world: Path,
    template_repo: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    target: str,
    expected: str,
) -> None:
    """The app repo's `.gitea/` links to another folder, or its `Dockerfile` is a dangling
    link: Copier wrote the CD workflow (or the Dockerfile) wherever the link pointed."""
    import yaml

    from tests.app_world import REFERENCE

    app = world / "supervisor"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    (app / name).symlink_to(world / target)
    answers = world / "answers.yml"
    answers.write_text(yaml.safe_dump(REFERENCE))
    argv = ["onboard", "--infra", str(world / "infra"), "--app-repo", str(app)]
    line = refused(
        capsys, world, *argv, "--template", str(template_repo), "--data-file", str(answers)
    )
    assert line.startswith(expected)
