"""What Flux would apply: build every cluster with `kubectl kustomize`, then check the output.

Builds run in worker threads (each one a `kubectl` process) while the copies are rendered and
diffed in the main thread. Every object of the output is validated against the Kubernetes
schema, and every Secret in it must carry sops metadata: Flux decrypts after the build, so an
unencrypted Secret here (a `secretGenerator` literal, a plain file) would be applied as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import yaml

from generator import k8s_yaml
from generator.check.encryption import has_sops_metadata
from generator.check.findings import Finding
from generator.errors import OnboardError, ToolError
from generator.k8s_schema import SchemaValidator
from generator.kubectl import kustomize_build_text

__all__ = ["ClusterBuild", "build_findings", "start_build"]

ClusterBuild = Future[str]
_KLOG = re.compile(r'"command failed" err="(?P<message>.*)"\s*$', re.S)
_EMPTY = "kustomization.yaml is empty"


def start_build(executor: Executor, cluster_dir: Path) -> ClusterBuild:
    """Start `kubectl kustomize cluster_dir` in `executor`."""
    return executor.submit(kustomize_build_text, cluster_dir)


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return f"{obj.get('kind')} (no metadata)"
    namespace = metadata.get("namespace")
    suffix = f" in namespace {namespace}" if namespace else ""
    return f"{obj.get('kind')} {metadata.get('name')}{suffix}"


def build_findings(
    where: str, build: ClusterBuild, validator: SchemaValidator
) -> tuple[list[Finding], list[Mapping[str, Any]]]:
    """Findings for one cluster's build output, and the objects it holds."""
    try:
        text = build.result()
    except ToolError as error:
        match = _KLOG.search(error.stderr.strip())
        message = match["message"] if match else str(error)
        if message == _EMPTY:
            return [], []  # a cluster with nothing in it yet: there is nothing to build
        return [Finding("build", where, f"does not build: {message}", "fix the kustomization")], []
    except OnboardError as error:
        return [Finding("build", where, f"cannot be built: {error}")], []
    try:
        # Typed as kustomize types them: `=` and `<<` are strings, not YAML 1.1 tags.
        objects = [o for o in k8s_yaml.load_all(text) if isinstance(o, Mapping)]
    except yaml.YAMLError as error:
        return [Finding("build", where, f"built to invalid YAML: {error}")], []
    found: list[Finding] = []
    for obj in objects:
        encrypted = has_sops_metadata(obj)
        # Flux decrypts and drops the sops metadata before it applies a Secret.
        errors = validator.errors(
            {k: v for k, v in obj.items() if k != "sops"} if encrypted else obj
        )
        if errors:
            found.append(
                Finding(
                    "schema",
                    where,
                    f"{_name(obj)} fails the Kubernetes {validator.version} schema: "
                    + "; ".join(errors[:3])
                    + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""),
                    "fix the manifest that defines it",
                )
            )
        if obj.get("kind") == "Secret" and not encrypted:
            found.append(
                Finding(
                    "secret",
                    where,
                    f"{_name(obj)} is in the build output without sops encryption",
                    "keep Secrets in encrypted *.enc.yaml files, never in a secretGenerator "
                    "or plain manifest",
                )
            )
    return found, objects
