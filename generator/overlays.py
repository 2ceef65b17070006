"""The per-cluster overlays of a service that runs on several clusters: pure answers -> text.

A service on one cluster is `apps/<service>/` alone, as Copier renders it. A service on two or
more clusters gets, beside that base (which then has no `images:` entry), one overlay per
cluster at `apps/<service>/clusters/<cluster>/kustomization.yaml`; each cluster lists the base
in its `resources` and its overlay in its `components`. The overlay is a kustomize Component,
not a Kustomization over `../..`: kustomize refuses a kustomization that lists a folder it
sits in ("cycle detected"). It holds the cluster's `cluster_overrides` as patches (each aimed
at the service's object by kind, name and namespace, as a cluster-level Component sees every
object of the cluster) and, last, the image entry whose `newTag` (and `digest`) CD owns; the
lines of that entry have the shape of the base's single-cluster entry, so CD's one-line edit
and `check` work on an overlay unchanged. Copier cannot render one folder per list item, so the
template's task writes the overlays (`overlay_files`) and `check` renders the same function
to find drift; `keep_deployed` carries the tag and digest on disk into a fresh render.

Example::

    files = overlay_files(spec, {"koala": Deployed("3f2c1e0")})
    # {"clusters/koala/kustomization.yaml": "...", "clusters/iguana/kustomization.yaml": "..."}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml

from generator import k8s_yaml
from generator.cd_owned import take_cd_owned_lines
from generator.cluster_overrides import RESOURCE_ANSWERS, ClusterOverride
from generator.spec import ServiceSpec
from generator.yamltext import yaml_str

__all__ = [
    "FOLDER",
    "Deployed",
    "base_as_rendered",
    "deployed_in",
    "keep_deployed",
    "overlay_files",
    "overlay_path",
    "overlay_text",
    "uses_overlays",
]

FOLDER = "clusters"  # inside apps/<service>/


@dataclass(frozen=True)
class Deployed:
    """The image a cluster runs: CD's tag, and its digest once CD records one."""

    tag: str
    digest: str | None = None


def uses_overlays(spec: ServiceSpec) -> bool:
    """True for a service on two or more clusters: a base plus one overlay per cluster."""
    return len(spec.clusters) >= 2


def overlay_path(cluster: str) -> str:
    """The overlay of `cluster`, relative to the service's folder."""
    return str(PurePosixPath(FOLDER, cluster, "kustomization.yaml"))


def _indent(lines: list[str], by: int) -> list[str]:
    return [" " * by + line if line else line for line in lines]


def _deployment_patch(spec: ServiceSpec, override: ClusterOverride) -> list[str]:
    """A strategic merge patch of the Deployment: env, resources, node; [] when none differ."""
    container: list[str] = []
    if override.env:
        container.append("env:")
        for name, value in override.env:
            container += [f"  - name: {yaml_str(name)}", f"    value: {yaml_str(value)}"]
    if override.resources:
        given = dict(override.resources)
        container.append("resources:")
        for section in ("requests", "limits"):
            entries = [
                (key, given[name])
                for name, where, key in RESOURCE_ANSWERS
                if where == section and name in given
            ]
            if entries:
                container.append(f"  {section}:")
                # An empty answer is "none": null deletes the base's value.
                container += [
                    f"    {key}: {yaml_str(value) if value else 'null'}" for key, value in entries
                ]
    pod: list[str] = []
    if override.node_hostname is not None:
        value = yaml_str(override.node_hostname) if override.node_hostname else "null"
        pod += ["nodeSelector:", f"  kubernetes.io/hostname: {value}"]
    if container:
        pod += ["containers:", f"  - name: {yaml_str(spec.service)}", *_indent(container, 4)]
    if not pod:
        return []
    return [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        f"  name: {yaml_str(spec.service)}",
        "spec:",
        "  template:",
        "    spec:",
        *_indent(pod, 6),
    ]


def _ingress_patch(spec: ServiceSpec, hosts: tuple[str, ...]) -> list[str]:
    """A JSON patch of the Ingress: its rules (and TLS hosts) for this cluster's host names."""
    exposure = spec.extras.exposure
    assert exposure is not None  # the rules allow hosts only for an exposed service
    ops: list[str] = []
    if exposure.tls != "none":
        ops += ["- op: replace", "  path: /spec/tls/0/hosts", "  value:"]
        ops += [f"    - {yaml_str(host)}" for host in hosts]
    ops += ["- op: replace", "  path: /spec/rules", "  value:"]
    for host in hosts:
        ops += [
            f"    - host: {yaml_str(host)}",
            "      http:",
            "        paths:",
            '          - path: "/"',
            '            pathType: "Prefix"',
            "            backend:",
            "              service:",
            f"                name: {yaml_str(spec.service)}",
            "                port:",
            '                  name: "http"',
        ]
    return ops


def _patch_entry(spec: ServiceSpec, kind: str, body: list[str]) -> list[str]:
    return [
        "  - target:",
        f"      kind: {kind}",
        f"      name: {yaml_str(spec.service)}",
        f"      namespace: {yaml_str(spec.namespace)}",
        "    patch: |-",
        *_indent(body, 6),
    ]


def overlay_text(spec: ServiceSpec, cluster: str, deployed: Deployed) -> str:
    """The overlay of `cluster`: this cluster's overrides and the image CD deploys here."""
    override = spec.override(cluster)
    lines = [
        f"# Cluster {cluster}'s overlay of apps/{spec.service}, listed in the components of",
        f"# clusters/{cluster}/kustomization.yaml: what differs on {cluster} (the",
        "# cluster_overrides answer). The template writes this file; CD owns newTag.",
        "apiVersion: kustomize.config.k8s.io/v1alpha1",
        "kind: Component",
    ]
    patches: list[str] = []
    if override.replicas is not None:
        replicas = ["- op: add", "  path: /spec/replicas", f"  value: {override.replicas}"]
        patches += _patch_entry(spec, "Deployment", replicas)
    if deployment := _deployment_patch(spec, override):
        patches += _patch_entry(spec, "Deployment", deployment)
    if override.hosts is not None:
        patches += _patch_entry(spec, "Ingress", _ingress_patch(spec, override.hosts))
    if patches:
        lines += ["patches:", *patches]
    lines += [
        "# CD owns newTag: it bumps this one field and nothing else.",
        "images:",
        f"  - name: {yaml_str(spec.image)}",
        f"    newTag: {yaml_str(deployed.tag)}",
    ]
    if deployed.digest:
        lines.append(f"    digest: {yaml_str(deployed.digest)}")
    return "\n".join(lines) + "\n"


def overlay_files(spec: ServiceSpec, deployed: Mapping[str, Deployed]) -> dict[str, str]:
    """Every overlay of the service, by path in its folder; {} for a single-cluster service.

    A cluster missing from `deployed` runs the `image_tag` answer.
    """
    if not uses_overlays(spec):
        return {}
    fallback = Deployed(spec.image_tag)
    return {
        overlay_path(cluster): overlay_text(spec, cluster, deployed.get(cluster, fallback))
        for cluster in spec.clusters
    }


def keep_deployed(rendered: str, on_disk: str) -> str:
    """`rendered` with the `newTag` and `digest` lines of the overlay on disk (CD's)."""
    return take_cd_owned_lines(rendered, on_disk)


def base_as_rendered(base: str, spec: ServiceSpec) -> str:
    """The base with CD's lines as the single-cluster template rendered them.

    Its `newTag` is the `image_tag` answer again and its `digest` line goes: what the
    migration to overlays leaves in the base, once the overlays hold the deployed image.
    """
    rendered = [
        "images:",
        f"  - name: {yaml_str(spec.image)}",
        f"    newTag: {yaml_str(spec.image_tag)}",
    ]
    return take_cd_owned_lines(base, "\n".join(rendered) + "\n")


def deployed_in(text: str, image: str) -> Deployed | None:
    """The tag and digest of `image` in a kustomization's `images:`; None when it has none.

    Both are read as written (`newTag: 1.10` is the tag 1.10), as kustomize reads them.
    """
    try:
        doc = k8s_yaml.load_as_written(text)
    except yaml.YAMLError:
        return None
    entries = doc.get("images") if isinstance(doc, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == image and "newTag" in entry:
            digest = entry.get("digest")
            return Deployed(str(entry["newTag"]), None if digest is None else str(digest))
    return None
