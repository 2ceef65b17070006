"""A service on several clusters, each with its own overlay: what `promote` works on.

`onboard_on_clusters` onboards a service through the library and makes sure it has the
per-cluster layout: the base `apps/<svc>/kustomization.yaml` without an `images:` entry, one
overlay `apps/<svc>/clusters/<c>/kustomization.yaml` per cluster (a kustomize Component
ending with the image entry CD owns), and each cluster listing the base in its resources and
its overlay in its components. When the onboarding already stamps that layout, it is kept as
it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator import kustomization
from generator.onboard import onboard_service

REGISTRY = "gitea.example.com"
OWNER = "team"

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
# CD owns newTag: it bumps this one field and nothing else.
images:
  - name: "{image}"
    newTag: "latest"
"""


def image_of(service: str) -> str:
    return f"{REGISTRY}/{OWNER}/{service}"


def overlay(root: Path, service: str, cluster: str) -> Path:
    return root / "apps" / service / "clusters" / cluster / "kustomization.yaml"


def split_into_overlays(root: Path, service: str, clusters: list[str], image: str) -> None:
    """Move the base's image entry into one overlay per cluster, listed by each cluster."""
    base = root / "apps" / service / "kustomization.yaml"
    text = base.read_text()
    cut = text.index("# CD owns newTag")
    base.write_text(text[:cut])
    for cluster in clusters:
        path = overlay(root, service, cluster)
        path.parent.mkdir(parents=True)
        path.write_text(OVERLAY.format(image=image))
        listing = root / "clusters" / cluster / "kustomization.yaml"
        text = kustomization.add_resource(listing.read_text(), f"../../apps/{service}")
        assert "components:" not in text
        listing.write_text(text + f"components:\n  - ../../apps/{service}/clusters/{cluster}\n")


def onboard_on_clusters(
    root: Path, template: Path, service: str, clusters: list[str], **answers: Any
) -> None:
    """Onboard `service` on `clusters` (created when missing) in the per-cluster layout."""
    data = {
        "service": service,
        "registry": REGISTRY,
        "owner": OWNER,
        "clusters": clusters,
        **answers,
    }
    onboard_service(root, data, str(template), create_clusters=True)
    if len(clusters) >= 2 and not (root / "apps" / service / "clusters").is_dir():
        split_into_overlays(root, service, clusters, image_of(service))


def set_pin(root: Path, service: str, cluster: str, tag: str, digest: str | None = None) -> None:
    """Set the overlay's tag as CD does (quoted newTag, then a digest line when given)."""
    path = overlay(root, service, cluster)
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith("digest:")]
    out: list[str] = []
    for line in kept:
        if line.lstrip().startswith("newTag:"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}newTag: "{tag}"\n')
            if digest:
                out.append(f'{indent}digest: "{digest}"\n')
        else:
            out.append(line)
    path.write_text("".join(out))
