"""The tutorial and the how-to guides, run: every `sh` block, in page order, end to end.

docs/tutorial.md runs first, from nothing (see tests/docs_world.py for the world on disk and
for what stands in for Gitea, Flux, the runner and the password manager). The how-to guides
then run in the repositories the tutorial left behind, one after the other, as one reader's
infra repo evolves: add a cluster, move the service to it, rotate the age key, recover from a
conflicting template release, pin the SSH host key, recover from a bad merge of a secret,
offboard the service. Each page is a module fixture that needs the one before it; each test
checks what its page promises, mostly as Flux would see it: the pushed infra repo, built
with kustomize, every Secret decrypted with the key that cluster was given.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from generator import sops
from generator.age import generate
from generator.kustomization import image_tag
from tests.conftest import make_hermetic
from tests.doc_runner import Fence, Page
from tests.docs_world import (
    DOCS,
    DOCUMENTED_NODEPORT,
    IMAGE,
    World,
    every_byte,
    flux_view,
    subprocess_run,
)
from tests.helpers import PROJECT, git, load_yaml

HOW_TO = DOCS / "how-to"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for tool in ("bash", "git", "ssh", "ssh-keygen", "ssh-keyscan", "kubectl"):
        assert shutil.which(tool), f"the documentation tests need {tool} on PATH"
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("reader-home"), mp)
        w = World.create(tmp_path_factory.mktemp("docs-world"))
        try:
            yield w
        finally:
            w.close()


@pytest.fixture(scope="module")
def tutorial(world: World) -> Page:
    return world.run_page(DOCS / "tutorial.md", world.work, nodeport=True)


@pytest.fixture(scope="module")
def add_a_cluster(world: World, tutorial: Page) -> Page:
    return world.run_page(HOW_TO / "add-a-cluster.md", world.infra)


@pytest.fixture(scope="module")
def move_a_service(world: World, add_a_cluster: Page) -> Page:
    return world.run_page(HOW_TO / "move-a-service.md", world.infra)


@pytest.fixture(scope="module")
def rotate(world: World, move_a_service: Page) -> tuple[Page, str]:
    old_key = world.key_file.read_text()
    return world.run_page(HOW_TO / "rotate-age-recipient.md", world.infra), old_key


@pytest.fixture(scope="module")
def check_in_ci(world: World, rotate: tuple[Page, str]) -> Page:
    return world.run_page(HOW_TO / "check-in-ci.md", world.infra)


@pytest.fixture(scope="module")
def conflict(world: World, check_in_ci: Page) -> Page:
    return world.run_page(HOW_TO / "resolve-update-conflict.md", world.infra)


@pytest.fixture(scope="module")
def pin_host_key(world: World, conflict: Page) -> Page:
    return world.run_page(HOW_TO / "pin-ssh-host-key.md", world.work, nodeport=True)


@pytest.fixture(scope="module")
def troubleshooting(world: World, pin_host_key: Page) -> Page:
    return world.run_page(HOW_TO / "troubleshooting.md", world.infra)


@pytest.fixture(scope="module")
def offboard(world: World, troubleshooting: Page) -> Page:
    return world.run_page(HOW_TO / "offboard-a-service.md", world.infra)


def _remote(world: World, path: str) -> str:
    return git("show", f"main:{path}", cwd=world.infra_remote)


def _resources(world: World, cluster: str) -> list[str]:
    text = _remote(world, f"clusters/{cluster}/kustomization.yaml")
    return list(YAML(typ="safe", pure=True).load(text).get("resources", []))


def _clean_and_pushed(world: World, infra_behind: int = 0) -> None:
    """Both clones are clean, and main of each remote is the clone's HEAD, or (for the infra
    repo) that many CD commits ahead of it."""
    for repo, remote in ((world.infra, world.infra_remote), (world.app, world.app_remote)):
        assert git("status", "--porcelain", cwd=repo) == "", repo
        head = git("rev-parse", "HEAD", cwd=repo).strip()
        behind = infra_behind if repo == world.infra else 0
        ahead = git("log", "--format=%s", f"{head}..main", cwd=remote).splitlines()
        assert len(ahead) == behind and all(s.startswith("chore(deploy): ") for s in ahead)


def _recipients(world: World) -> list[str]:
    rules = YAML(typ="safe", pure=True).load(_remote(world, ".sops.yaml"))["creation_rules"]
    return list(rules[0]["age"])


def _public(key_text: str) -> str:
    found = re.search(r"^# public key: (age1\w+)$", key_text, re.M)
    assert found
    return found.group(1)


# ── the tutorial ──────────────────────────────────────────────────────────────────────


def test_every_fence_of_the_tutorial_is_run_shown_or_elsewhere(
    world: World, tutorial: Page
) -> None:
    langs = {t.lang for t in tutorial.tokens if isinstance(t, Fence)}
    assert langs == {"sh", "console", "text", "yaml"}
    assert tutorial.ran.count("sh") == len(tutorial.fences("sh")) >= 20
    assert tutorial.ran.count("<gitea-runs-cd>") == 2
    # The answers the reader saves are the reference service's, both sides.
    # The world ran the page with a port of its own in place of the documented NodePort.
    (answers,) = [f for f in tutorial.fences("yaml") if f.title == "supervisor.yml"]
    reference = {
        **load_yaml(PROJECT / "examples/supervisor.yml"),
        **load_yaml(PROJECT / "examples/supervisor-app.yml"),
    }
    assert reference["infra_ssh_port"] == DOCUMENTED_NODEPORT
    assert YAML(typ="safe", pure=True).load(answers.text) == {
        **reference,
        "infra_ssh_port": world.nodeport,
    }


def test_the_tutorial_ends_with_supervisor_deployed_and_updated(
    world: World, tutorial: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_and_pushed(world, infra_behind=1)  # the last deploy, pulled by the next page
    assert world.key_file.stat().st_mode & 0o777 == 0o600
    public = _public(world.key_file.read_text())
    assert world.cluster_keys["koala"] == world.key_file.read_text()
    assert not (world.work / "sops-age.yaml").exists()
    assert not (world.work / "supervisor-deploy-key").exists()

    # The infra repo as pushed: the recipient, the cluster's list, Flux decryption.
    assert _recipients(world) == [public]
    assert _resources(world, "koala") == ["flux-system", "../../apps/supervisor"]
    # gotk-sync.yaml stays as Flux wrote it; the decryption is the patch the tutorial shows.
    sync_text = _remote(world, "clusters/koala/flux-system/gotk-sync.yaml")
    sync = list(YAML(typ="safe", pure=True).load_all(sync_text))
    assert "decryption" not in sync[1]["spec"]
    listing = _remote(world, "clusters/koala/flux-system/kustomization.yaml")
    title = "clusters/koala/flux-system/kustomization.yaml"
    (patch,) = [f for f in tutorial.fences("yaml") if f.title == title]
    assert listing.endswith(patch.text)

    # Both sides took v2.0.0; the fix is in, and the tag CD set last survived.
    assert load_yaml(world.infra / "apps/supervisor/.copier-answers.yml")["_commit"] == "v2.0.0"
    assert load_yaml(world.app / ".copier-answers.yml")["_commit"] == "v2.0.0"
    (first_sha, _), (last_sha, _) = world.deploys
    assert first_sha != last_sha
    assert image_tag(_remote(world, "apps/supervisor/kustomization.yaml"), IMAGE) == last_sha
    subjects = git("log", "--format=%s", "main", cwd=world.infra_remote).splitlines()
    assert subjects[:4] == [
        f"chore(deploy): supervisor → {last_sha}",
        "Update supervisor to template v2.0.0",
        f"chore(deploy): supervisor → {first_sha}",
        "Onboard supervisor",
    ]
    update = git("show", "--format=", "main~1", cwd=world.infra_remote)
    assert "-  revisionHistoryLimit: 3\n+  revisionHistoryLimit: 5" in update
    assert "newTag" not in update

    # What Flux on koala applies: every Secret decrypts, with its key, to the stored values.
    objects = flux_view(world, "koala", monkeypatch)
    decryption = objects["Kustomization/flux-system/flux-system"]["spec"]["decryption"]
    assert decryption == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    deployment = objects["Deployment/supervisor/supervisor"]
    assert deployment["spec"]["revisionHistoryLimit"] == 5
    pod = deployment["spec"]["template"]["spec"]
    pushed = world.runner.calls("skopeo")[-1]["digest"]
    assert pod["containers"][0]["image"] == f"{IMAGE}:{last_sha}@{pushed}"
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "koala"}
    assert objects["Secret/supervisor/supervisor-secrets"]["stringData"] == {
        "ANTHROPIC_API_KEY": world.store["supervisor/anthropic-api-key"],
        "LITELLM_API_KEY": world.store["supervisor/litellm-api-key"],
    }
    pull = objects["Secret/supervisor/gitea-registry"]["stringData"][".dockerconfigjson"]
    token = world.store["gitea.d-ma.be/registry-pull-token"]
    assert (
        json.loads(pull)["auths"]["gitea.d-ma.be"]["auth"]
        == base64.b64encode(f"mathias:{token}".encode()).decode()
    )

    # The image went to the registry under each commit's sha.
    assert [p["argv"][-1] for p in world.runner.calls("skopeo")] == [
        f"docker://{IMAGE}:{first_sha}",
        f"docker://{IMAGE}:{last_sha}",
    ]


# ── the how-to guides, in the world the tutorial left ─────────────────────────────────


def test_add_a_cluster(world: World, add_a_cluster: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_and_pushed(world)
    assert load_yaml(world.infra / ".copier-answers.yml")["clusters"] == ["koala", "iguana"]
    assert load_yaml(world.infra / ".copier-answers.yml")["_commit"] == "v1.0.0"
    assert _resources(world, "iguana") == ["flux-system"]
    assert "decryption" not in _remote(world, "clusters/iguana/flux-system/gotk-sync.yaml")
    # The new cluster holds the same key: it can decrypt what is there once services move.
    assert world.cluster_keys["iguana"] == world.cluster_keys["koala"]
    objects = flux_view(world, "iguana", monkeypatch)
    assert set(objects) == {
        "Namespace//flux-system",
        "GitRepository/flux-system/flux-system",
        "Kustomization/flux-system/flux-system",
    }
    decryption = objects["Kustomization/flux-system/flux-system"]["spec"]["decryption"]
    assert decryption == {"provider": "sops", "secretRef": {"name": "sops-age"}}


def test_move_a_service(
    world: World, move_a_service: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_and_pushed(world)
    assert _resources(world, "koala") == ["flux-system"]
    assert _resources(world, "iguana") == ["flux-system", "../../apps/supervisor"]
    answers = load_yaml(world.infra / "apps/supervisor/.copier-answers.yml")
    assert (answers["_commit"], answers["clusters"], answers["node_hostname"]) == (
        "v2.0.0",
        ["iguana"],
        "iguana",
    )
    moved = git("show", "--stat", "--format=%s", "main", cwd=world.infra_remote)
    assert moved.startswith("Move supervisor to iguana")
    objects = flux_view(world, "iguana", monkeypatch)
    pod = objects["Deployment/supervisor/supervisor"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "iguana"}
    last_sha = world.deploys[-1][0]
    pushed = world.runner.calls("skopeo")[-1]["digest"]
    assert pod["containers"][0]["image"] == f"{IMAGE}:{last_sha}@{pushed}"  # CD's pin moved along
    secret = objects["Secret/supervisor/supervisor-secrets"]["stringData"]
    assert secret["ANTHROPIC_API_KEY"] == world.store["supervisor/anthropic-api-key"]
    assert not any("supervisor" in name for name in flux_view(world, "koala", monkeypatch))


def test_rotate_the_age_key(
    world: World, rotate: tuple[Page, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, old_key = rotate
    _clean_and_pushed(world)
    new_key = world.key_file.read_text()
    assert new_key != old_key
    assert _recipients(world) == [_public(new_key)]
    infra_answers = load_yaml(world.infra / ".copier-answers.yml")
    assert infra_answers["age_recipients"] == [_public(new_key)]
    assert world.cluster_keys == {"koala": new_key, "iguana": new_key}
    assert not (world.infra / "sops-age.yaml").exists()
    assert not (world.key_file.parent / "new-keys.txt").exists()
    # Flux decrypts with the new key; the old key opens nothing now.
    secret = flux_view(world, "iguana", monkeypatch)["Secret/supervisor/supervisor-secrets"]
    assert secret["stringData"]["LITELLM_API_KEY"] == world.store["supervisor/litellm-api-key"]
    monkeypatch.setenv("SOPS_AGE_KEY", old_key)
    for rel in ("apps/supervisor/secrets.enc.yaml", "pull-secrets/gitea-registry/secret.enc.yaml"):
        with pytest.raises(sops.SopsError) as caught:
            sops.decrypt_text(_remote(world, rel), subject=rel)
        assert caught.value.reason == "wrong-key"


def test_run_the_check_and_what_renovate_runs(world: World, check_in_ci: Page) -> None:
    _clean_and_pushed(world)  # Renovate's update was undone
    check = check_in_ci.outputs[0]
    assert check.startswith("check: all current (2 stamped copies, 2 clusters in "), check
    assert "Updating to template version 2.0.0" in check_in_ci.outputs[1]
    assert " M .copier-answers.yml" in check_in_ci.outputs[1]
    # The pre-commit snippet names the hook the template repository declares.
    hooks = YAML(typ="safe", pure=True).load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    (config,) = [f for f in check_in_ci.fences("yaml") if f.title == ".pre-commit-config.yaml"]
    (repo,) = YAML(typ="safe", pure=True).load(config.text)["repos"]
    assert [h["id"] for h in repo["hooks"]] == [h["id"] for h in hooks]
    assert hooks[0]["entry"] == "gitops-onboard check --offline"


def test_recover_from_an_update_conflict(
    world: World, conflict: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_and_pushed(world)
    assert load_yaml(world.infra / "apps/supervisor/.copier-answers.yml")["_commit"] == "v3.0.0"
    deployment = _remote(world, "apps/supervisor/deployment.yaml")
    assert "  revisionHistoryLimit: 10\n" in deployment
    assert not re.search(r"^(<<<<<<<|=======|>>>>>>>)", deployment, re.M)
    objects = flux_view(world, "iguana", monkeypatch)
    assert objects["Deployment/supervisor/supervisor"]["spec"]["revisionHistoryLimit"] == 10


def test_pin_the_ssh_host_key(world: World, pin_host_key: Page) -> None:
    scanned = (world.work / "infra-known-hosts").read_text().splitlines()
    public = world.host_key.export_public_key("openssh").decode().split()[:2]
    # The page scans the documented NodePort; this world's Gitea listens on its own port.
    assert "ssh-keyscan -p 30022 127.0.0.1" in (HOW_TO / "pin-ssh-host-key.md").read_text()
    assert scanned == [f"[127.0.0.1]:{world.nodeport} {' '.join(public)}"]
    assert scanned[0].startswith(f"[127.0.0.1]:{world.nodeport} ssh-ed25519 AAAA")


def test_troubleshooting_recovers_a_badly_merged_secret(
    world: World, troubleshooting: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_and_pushed(world)
    # Both rotations survive: the merge's first parent plus the value set again.
    secret = flux_view(world, "iguana", monkeypatch)["Secret/supervisor/supervisor-secrets"]
    assert secret["stringData"] == {
        "ANTHROPIC_API_KEY": world.store["supervisor/anthropic-api-key"],
        "LITELLM_API_KEY": world.store["supervisor/litellm-api-key"],
    }
    assert _remote(world, ".gitattributes") == "*.enc.yaml merge=binary\n"


def test_troubleshooting_quotes_the_wrong_key_message(
    world: World, troubleshooting: Page, tmp_path: Path
) -> None:
    (shown,) = [f for f in troubleshooting.fences("text") if "none matches" in f.text]
    env = {**world.env, "XDG_CONFIG_HOME": str(tmp_path)}
    env["SOPS_AGE_KEY"] = generate().key_file_text + generate().key_file_text
    cmd = ["gitops-onboard", "secrets", "set", "supervisor", "LITELLM_API_KEY"]
    done = subprocess_run(cmd, world.infra, env, stdin="never stored")
    assert done.returncode == 1
    default = f"{tmp_path}/sops/age/keys.txt"
    assert done.stderr.replace(default, "/home/me/.config/sops/age/keys.txt") == shown.text


def test_offboard_a_service(world: World, offboard: Page) -> None:
    _clean_and_pushed(world)
    assert _resources(world, "koala") == ["flux-system"]
    assert _resources(world, "iguana") == ["flux-system"]
    tree = git("ls-tree", "-r", "--name-only", "main", cwd=world.infra_remote).splitlines()
    assert not any(path.startswith("apps/supervisor/") for path in tree)
    assert "pull-secrets/gitea-registry/secret.enc.yaml" in tree
    # The app repo's next deploy fails as the page says, and changes nothing.
    head = git("rev-parse", "main", cwd=world.infra_remote)
    _, results = world.deploy()
    assert [r.returncode for r in results] == [0, 1]
    page_text = (HOW_TO / "offboard-a-service.md").read_text()
    (message,) = re.findall(
        r"`(apps/supervisor/kustomization\.yaml is not on main[^`]*)`", page_text
    )
    assert message in results[1].stderr
    assert git("rev-parse", "main", cwd=world.infra_remote) == head


def test_no_secret_value_is_ever_written_or_printed(world: World, offboard: Page) -> None:
    seen = every_byte(world.infra, world.app, world.infra_remote, world.app_remote)
    seen += "\n".join(world.transcripts)
    for value in world.every_value:
        assert value not in seen
