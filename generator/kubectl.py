"""The one place that runs `kubectl` (for `kubectl kustomize`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator import k8s_yaml
from generator.runner import run

__all__ = ["kustomize_build", "kustomize_build_text", "kustomize_version"]


def kustomize_build_text(folder: Path) -> str:
    """`kubectl kustomize FOLDER`: the YAML stream Flux would apply (before decryption)."""
    return run(["kubectl", "kustomize", str(folder)], hint=f"while building {folder}").stdout


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize FOLDER` produces, parsed as kustomize types them."""
    docs = k8s_yaml.load_all(kustomize_build_text(folder))
    return [doc for doc in docs if isinstance(doc, dict)]


def kustomize_version() -> str:
    """The kustomize version built into `kubectl`, e.g. `v5.5.0`."""
    import json

    output = run(["kubectl", "version", "--client", "-o", "json"]).stdout
    data = json.loads(output)
    return str(data.get("kustomizeVersion") or "unknown")
