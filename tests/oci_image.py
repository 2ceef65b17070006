"""A real, valid OCI image archive of a tiny scratch image, built in Python.

The archive is what `buildctl --output type=oci,dest=...` writes: a tar of an OCI image
layout (`oci-layout`, `index.json`, `blobs/sha256/...`) holding one manifest, one config
and one gzipped tar layer, as buildctl writes them. Everything is addressed by its sha256
digest, so skopeo and the registry check it byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OciImage", "write_archive"]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class OciImage:
    """What was written: the manifest's digest and bytes."""

    manifest_digest: str
    manifest: bytes


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def write_archive(dest: Path, version: str) -> OciImage:
    """Write the image (its one file says `version`) as an OCI archive at `dest`."""
    diff = _tar({"version.txt": f"{version}\n".encode()})
    layer = gzip.compress(diff, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/version.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(diff)]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": _descriptor(CONFIG, config),
            "layers": [_descriptor(LAYER, layer)],
        },
        sort_keys=True,
    ).encode()
    index = json.dumps(
        {"schemaVersion": 2, "manifests": [_descriptor(MANIFEST, manifest)]}, sort_keys=True
    ).encode()
    files = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": index,
        **{f"blobs/sha256/{_digest(b)[7:]}": b for b in (layer, config, manifest)},
    }
    dest.write_bytes(_tar(files))
    return OciImage(_digest(manifest), manifest)
