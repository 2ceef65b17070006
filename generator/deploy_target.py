"""Which kustomization CD sets the tag in: the service's base, or one cluster's overlay.

The same decision the deploy job of `cd.yml` makes at run time in its clone of the infra
repo: a service with overlays (`apps/<service>/clusters/`) is deployed to `deploy_cluster`,
or, when that is empty, to the first cluster of its answers; any other service to its base
`apps/<service>/kustomization.yaml`. A `deploy_cluster` the service is not on is bad input.
"""

from __future__ import annotations

from pathlib import Path

from generator import overlays
from generator.answers import ANSWERS_FILE
from generator.errors import InputError
from generator.fsutil import confined
from generator.promote import service_clusters

__all__ = ["deploy_kustomization"]


def deploy_kustomization(root: Path, service: str, deploy_cluster: str = "") -> str:
    """The path, relative to the infra repo at `root`, of the file CD bumps for `service`."""
    folder = confined(root, root / "apps" / service)
    has_overlays = (folder / overlays.FOLDER).exists()
    if not (folder / ANSWERS_FILE).is_file() or not (has_overlays or deploy_cluster):
        return f"apps/{service}/kustomization.yaml"
    _, clusters = service_clusters(root, service)
    if deploy_cluster and deploy_cluster not in clusters:
        raise InputError(
            "deploy_cluster",
            f"must be one of the clusters of {service} in the infra repo: {', '.join(clusters)}",
            deploy_cluster,
        )
    if not has_overlays:
        return f"apps/{service}/kustomization.yaml"
    return f"apps/{service}/{overlays.overlay_path(deploy_cluster or clusters[0])}"
