"""Hostile folders handed to `gitops-onboard adopt`.

The attacker points `adopt` at the wrong thing: a folder outside `apps/` (the repo's own
cluster files, a parent folder), a folder that is not a kustomization, a service the
template already stamped (adopting it again would overwrite its answers), a name Kubernetes
refuses, a folder no cluster deploys. Each gets one line naming the field and the rule,
exit 2, and not one byte of the repo changes. A hand-written object the template cannot
keep as it was (a ConfigMap in another namespace, which the template's namespace moves) is
listed and refused unless the user accepts the difference explicitly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli import main
from generator.clusters import cluster_file
from generator.kustomization import add_resource
from tests.helpers import commit_all, tree_bytes

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, namespace: NAME}
spec:
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers:
        - {name: NAME, image: "gitea.example.com/team/NAME:1.0", ports: [{containerPort: 80}]}
"""


def hand_written(root: Path, name: str, *, listed: bool = True, extra: str = "") -> Path:
    folder = root / "apps" / name
    folder.mkdir(parents=True)
    (folder / "deployment.yaml").write_text(DEPLOYMENT.replace("NAME", name) + extra)
    (folder / "kustomization.yaml").write_text(KUSTOMIZATION + "resources:\n  - deployment.yaml\n")
    if listed:
        path = cluster_file(root, "koala")
        path.write_text(add_resource(path.read_text(), f"../../apps/{name}"))
    commit_all(root, f"{name} by hand")
    return folder


def refused(
    root: Path, capsys: pytest.CaptureFixture[str], folder: str, *extra: str
) -> tuple[str, int]:
    before = tree_bytes(root)
    code = main(["adopt", "--infra", str(root), folder, "--yes", *extra])
    err = capsys.readouterr().err.strip()
    assert tree_bytes(root) == before
    assert len(err.splitlines()) == 1, err
    return err, code


@pytest.mark.parametrize("folder", ["clusters/koala", "apps", "apps/web/local", "..", "/etc"])
def test_a_path_outside_apps_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], folder: str
) -> None:
    hand_written(infra_repo, "web")
    err, code = refused(infra_repo, capsys, folder)
    assert code == 2 and "folder: must be a folder apps/<service> of the infra repo" in err


def test_a_folder_that_is_not_a_kustomization_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hand_written(infra_repo, "web", listed=False)
    (folder / "kustomization.yaml").unlink()
    commit_all(infra_repo, "no kustomization")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "folder: apps/web must be a kustomization" in err


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n", "kind: Kustomization"),
        ("resources: [deployment.yaml\n", "must be valid YAML"),
        ("- deployment.yaml\n", "must be a YAML mapping"),
    ],
)
def test_a_kustomization_file_that_is_not_a_kustomization_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], text: str, rule: str
) -> None:
    folder = hand_written(infra_repo, "web")
    (folder / "kustomization.yaml").write_text(text)
    commit_all(infra_repo, "not a kustomization")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "apps/web/kustomization.yaml: " in err and rule in err


def test_a_service_already_stamped_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hand_written(infra_repo, "web")
    (folder / ".copier-answers.yml").write_text("_src_path: somewhere\nkind: service\n")
    commit_all(infra_repo, "stamped")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "folder: apps/web is already stamped (.copier-answers.yml)" in err


@pytest.mark.parametrize("name", ["Web", "web_1", "1web"])
def test_a_name_that_is_not_a_dns_1035_label_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    hand_written(infra_repo, name, listed=False)
    err, code = refused(infra_repo, capsys, f"apps/{name}")
    assert code == 2 and "service: must be a DNS-1035 label" in err and repr(name) in err


def test_a_folder_no_cluster_deploys_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_written(infra_repo, "web", listed=False)
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "clusters: no clusters/<c>/kustomization.yaml lists apps/web" in err


def test_accept_differences_without_yes_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_written(infra_repo, "web")
    before = tree_bytes(infra_repo)
    assert main(["adopt", "--infra", str(infra_repo), "apps/web", "--accept-differences"]) == 2
    assert "--accept-differences: only applies with --yes" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before


OTHER_NAMESPACE = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shared, namespace: elsewhere}
data: {a: "1"}
"""


def test_a_difference_the_component_cannot_close_is_listed_and_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The template's kustomization sets one namespace: a hand-written object in another
    namespace would move. That must be shown, and written only when explicitly accepted."""
    hand_written(infra_repo, "web", extra=OTHER_NAMESPACE)
    assert main(["adopt", "--infra", str(infra_repo), "apps/web"]) == 0
    out = capsys.readouterr().out
    assert "the built output would still differ in" in out
    assert "ConfigMap elsewhere/shared: missing after adopting" in out
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "--accept-differences: the built output would change in" in err
    assert (
        main(["adopt", "--infra", str(infra_repo), "apps/web", "--yes", "--accept-differences"])
        == 0
    )
    assert (infra_repo / "apps/web/.copier-answers.yml").is_file()
