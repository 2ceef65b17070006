"""Every file a stamped copy needs beyond what Copier renders, planned in one place.

`plan_service` is the whole plan of a service: its encrypted `secrets.enc.yaml`, the shared
registry pull secret, its per-cluster overlays when it runs on several clusters (each keeping
the tag and digest CD deployed there), and its registration in exactly the clusters of its
answers.
`plan_infra` is that of an infra repo root: the cluster kustomizations and Flux decryption.
The command line plans with them before Copier writes anything, and Copier's task plans
with them after a plain `copier copy`, so both refuse the same things, before any write.
Planning reads and encrypts in memory; it never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator import clusters, flux, kustomization, overlays, pull_secret, service_secrets
from generator.errors import InputError
from generator.fsutil import confined
from generator.spec import InfraSpec, ServiceSpec
from generator.transaction import Change

__all__ = ["ServicePlan", "plan_infra", "plan_service"]


@dataclass(frozen=True)
class ServicePlan:
    """The files a service needs: secrets, pull secret and registration, in write order."""

    service_dir: Path
    spec: ServiceSpec
    secrets: tuple[Change, ...]
    pull_secret: tuple[Change, ...]
    registration: tuple[Change, ...]
    placeholders: tuple[str, ...]
    missing_keys: tuple[str, ...] = ()
    overlays: tuple[Change, ...] = ()

    @property
    def changes(self) -> list[Change]:
        """Every change, secrets first, then the overlays, the registration last."""
        return [*self.secrets, *self.pull_secret, *self.overlays, *self.registration]

    def notes(self) -> list[str]:
        """What the user still has to do once the plan is written."""
        spec = self.spec
        found = []
        keys = self.placeholders or self.missing_keys
        if keys:
            found.append(
                f"apps/{spec.service}/{service_secrets.SECRETS_FILE}: no value yet for "
                f"{', '.join(keys)}; set each with `gitops-onboard secrets set {spec.service} "
                "KEY` (value on stdin)"
            )
        if self.pull_secret:
            found.append(
                f"{pull_secret.FOLDER}/{spec.image_pull_secret}: placeholder without registry "
                "credentials; set them once with `gitops-onboard pull-secret set --name "
                f"{spec.image_pull_secret} --registry {spec.registry} --username USER`"
            )
        return found


def plan_service(
    root: Path,
    service_dir: Path,
    spec: ServiceSpec,
    *,
    values: Mapping[str, str] | None = None,
    create_missing: bool = False,
) -> ServicePlan:
    """Plan everything `service_dir` needs besides Copier's files; raise before any write.

    Secrets are encrypted only when `secrets.enc.yaml` is missing (with `values`, else
    placeholders); the pull secret only when its folder lacks it.
    """
    base = _read(service_dir / "kustomization.yaml")
    layered = overlays_wanted(spec, base)
    registration = clusters.plan_reconcile(
        root, service_dir, spec.clusters, create_missing=create_missing, overlays=layered
    )
    if values and not spec.secret_keys:
        raise InputError("secret values", "the service declares no secret_keys")
    missing = service_secrets.declared_but_missing(root, service_dir, spec.secret_keys)
    secret_file, placeholders = service_secrets.plan_service_secrets(
        root, service_dir, spec, values
    )
    pull = pull_secret.plan_for_service(root, service_dir, spec.image_pull_secret)
    return ServicePlan(
        service_dir,
        spec,
        tuple(secret_file),
        tuple(pull),
        tuple(registration),
        tuple(placeholders),
        tuple(missing),
        tuple(plan_overlays(service_dir, spec) if layered else _tag_back(root, service_dir, spec)),
    )


def overlays_wanted(spec: ServiceSpec, base: str | None) -> bool:
    """True when the service gets overlays: on several clusters, with a template that has them.

    A template release before overlays renders the image entry into the base (read once
    Copier rendered it); the library then keeps that release's layout. Before Copier
    renders (`base` None), the layout is the current template's.
    """
    if not overlays.uses_overlays(spec):
        return False
    return base is None or overlays.deployed_in(base, spec.image) is None


def _tag_back(root: Path, service_dir: Path, spec: ServiceSpec) -> list[Change]:
    """A service back on one cluster: its base takes the image that cluster's overlay holds.

    Only while the cluster still lists that overlay (the service had overlays until now).
    """
    base_path = service_dir / "kustomization.yaml"
    base = _read(base_path)
    if len(spec.clusters) != 1 or base is None:
        return []
    cluster = spec.clusters[0]
    listing = _read(clusters.cluster_file(root, cluster)) or ""
    overlay = _read(service_dir / overlays.overlay_path(cluster))
    entry = clusters.cluster_entries(root, service_dir, cluster)[1]
    listed = kustomization.components(listing, cluster) if listing else []
    if overlay is None or entry not in [item.rstrip("/") for item in listed]:
        return []
    new = overlays.keep_deployed(base, overlay)
    return [Change(base_path, base, new)] if new != base else []


def _read(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as error:
        raise InputError(str(path), "must be UTF-8 text") from error


def plan_overlays(service_dir: Path, spec: ServiceSpec) -> list[Change]:
    """The overlays of a service on several clusters, as the answers want them now.

    An overlay on disk keeps its `newTag` and `digest` (CD's). A new one starts with the image
    the service already runs: that of its other overlays, else the `image_tag` answer.
    """
    on_disk = {
        cluster: _read(confined(service_dir, service_dir / overlays.overlay_path(cluster)))
        for cluster in spec.clusters
    }
    known = [text for text in on_disk.values() if text is not None]
    seed = next(
        (found for text in known if (found := overlays.deployed_in(text, spec.image)) is not None),
        overlays.Deployed(spec.image_tag),
    )
    changes = []
    for relative, rendered in overlays.overlay_files(
        spec, dict.fromkeys(spec.clusters, seed)
    ).items():
        cluster = relative.split("/")[1]
        old = on_disk[cluster]
        new = rendered if old is None else overlays.keep_deployed(rendered, old)
        if new != old:
            changes.append(Change(service_dir / relative, old, new))
    return changes


def plan_infra(destination: Path, infra: InfraSpec) -> list[Change]:
    """The cluster kustomizations an infra root lacks, and Flux decryption where it is off."""
    changes = [
        Change(
            path,
            None,
            clusters.new_cluster_text(
                name, flux_system=clusters.flux_system_present(destination, name)
            ),
        )
        for name in infra.clusters
        if not (path := confined(destination, clusters.cluster_file(destination, name))).exists()
    ]
    return [*changes, *flux.plan_enable(destination, infra.clusters).changes]
