"""The template's answers read back from a hand-written service's built objects.

Pure: takes the objects `kubectl kustomize apps/<service>` produces and returns the answers
that make the template's output as close to them as the template can express. Whatever it
cannot express stays a difference, which `generator.adopt` moves into the service's own
Component. Exposure, autoscaling and network policy are never inferred: a hand-written
Ingress, HPA or NetworkPolicy is kept as it is, as a resource of the Component.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["find", "infer_answers", "main_container", "split_image"]

_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?")


def find(objects: Sequence[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any] | None:
    """The object of `kind` named `name`, else the only object of that kind, else None."""
    of_kind = [obj for obj in objects if obj.get("kind") == kind]
    for obj in of_kind:
        if (obj.get("metadata") or {}).get("name") == name:
            return obj
    return of_kind[0] if len(of_kind) == 1 else None


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def main_container(deployment: Mapping[str, Any], service: str) -> Mapping[str, Any]:
    """The container named like the service, else the first one."""
    containers = _get(deployment, "spec", "template", "spec", "containers") or []
    for container in containers:
        if isinstance(container, Mapping) and container.get("name") == service:
            return container
    first = containers[0] if containers else {}
    return first if isinstance(first, Mapping) else {}


def split_image(image: str) -> tuple[str, str, str, str]:
    """`registry/owner/name:tag` → (registry, owner, name, tag); a digest is dropped."""
    reference = image.split("@", 1)[0]
    tag = "latest"
    head, _, last = reference.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
    parts = [*head.split("/"), last] if head else [last]
    if len(parts) >= 3 or (len(parts) == 2 and ("." in parts[0] or ":" in parts[0])):
        registry, rest = parts[0], parts[1:]
    else:
        registry, rest = "docker.io", ["library", *parts] if len(parts) == 1 else parts
    owner = "/".join(rest[:-1]) or "library"
    return registry, owner, rest[-1], tag


def _ports(container: Mapping[str, Any]) -> tuple[int, dict[str, int]]:
    ports = [p for p in container.get("ports") or [] if isinstance(p, Mapping)]
    if not ports:
        return 8080, {}
    main = next((p for p in ports if p.get("name") == "http"), ports[0])
    extra = {
        str(p["name"]): int(p["containerPort"])
        for p in ports
        if p is not main and isinstance(p.get("name"), str) and _PORT_NAME.fullmatch(p["name"])
    }
    return int(main.get("containerPort", 8080)), extra


def _volume(
    objects: Sequence[Mapping[str, Any]], pod: Mapping[str, Any], container: Mapping[str, Any]
) -> dict[str, Any]:
    volumes = {v.get("name"): v for v in pod.get("volumes") or [] if isinstance(v, Mapping)}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        if isinstance(volume.get("hostPath"), Mapping):
            return {
                "volume_type": "hostPath",
                "volume_mount_path": mount.get("mountPath", "/data"),
                "volume_host_path": volume["hostPath"].get("path", ""),
            }
        claim = _get(volume, "persistentVolumeClaim", "claimName")
        if isinstance(claim, str):
            pvc = find(objects, "PersistentVolumeClaim", claim) or {}
            answers = {"volume_type": "pvc", "volume_mount_path": mount.get("mountPath", "/data")}
            size = _get(pvc, "spec", "resources", "requests", "storage")
            if isinstance(size, str):
                answers["volume_size"] = size
            storage_class = _get(pvc, "spec", "storageClassName")
            if isinstance(storage_class, str):
                answers["volume_storage_class"] = storage_class
            return answers
    return {"volume_type": "none"}


def _resources(container: Mapping[str, Any]) -> dict[str, str]:
    answers = {}
    for side in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            value = _get(container, "resources", side, resource)
            answers[f"{resource}_{side.removesuffix('s')}"] = "" if value is None else str(value)
    return answers


def _probe_path(container: Mapping[str, Any]) -> str:
    for probe in ("readinessProbe", "livenessProbe"):
        path = _get(container, probe, "httpGet", "path")
        if isinstance(path, str):
            return path
    return ""


def infer_answers(
    service: str, objects: Sequence[Mapping[str, Any]], clusters: Sequence[str]
) -> dict[str, Any]:
    """The service answers read from its built objects (see the module docstring)."""
    deployment = find(objects, "Deployment", service)
    if deployment is None:
        return {"service": service, "clusters": list(clusters)}
    pod = _get(deployment, "spec", "template", "spec") or {}
    container = main_container(deployment, service)
    registry, owner, _, tag = split_image(str(container.get("image", "")))
    port, extra_ports = _ports(container)
    env = {
        str(item["name"]): str(item["value"])
        for item in container.get("env") or []
        if isinstance(item, Mapping) and "value" in item and "valueFrom" not in item
    }
    namespace = _get(deployment, "metadata", "namespace")
    run_as_user = _get(pod, "securityContext", "runAsUser")
    replicas = _get(deployment, "spec", "replicas")
    answers: dict[str, Any] = {
        "service": service,
        "clusters": list(clusters),
        "registry": registry,
        "owner": owner,
        "image_tag": tag,
        "port": port,
        "extra_ports": extra_ports,
        "env": env,
        "namespace": namespace if isinstance(namespace, str) else service,
        "replicas": replicas if isinstance(replicas, int) else 1,
        "node_hostname": str(_get(pod, "nodeSelector", "kubernetes.io/hostname") or ""),
        "run_as_user": run_as_user if isinstance(run_as_user, int) else 0,
        "probe_path": _probe_path(container),
        "read_only_root_filesystem": bool(
            _get(container, "securityContext", "readOnlyRootFilesystem")
        ),
        # Kept as the hand-written objects in the Component instead (see the docstring).
        "image_pull_secret": "",
        "secret_keys": [],
        "expose": "none",
        "autoscaling": False,
        "network_policy": False,
        **_resources(container),
        **_volume(objects, pod, container),
    }
    return answers
