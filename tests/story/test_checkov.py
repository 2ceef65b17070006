"""The security posture, as an established scanner measures it: checkov over a matrix of answers.

Every `expose`, volume and autoscaling choice is stamped, built with `kubectl kustomize`, and
scanned with checkov's kubernetes framework; the stamped Dockerfiles of every language with
its dockerfile framework. A failed check is either fixed in the template or skipped in the
manifest itself with a reason (`checkov.io/skipN` annotations, `# checkov:skip=` in the
Dockerfile): zero failures, and no skip without a reason.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy

from tests.helpers import PROJECT
from tests.story.test_template import QUESTIONS

# checkov lives in a venv of its own (see the Makefile and pyproject's dependency group).
CHECKOV = PROJECT / ".venv-checkov/bin/checkov"

SERVICE = {
    "kind": "service",
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala"],
    "image_pull_secret": "",
}
EXPOSURE: dict[str, dict[str, Any]] = {
    "none": {},
    "ingress": {"hosts": ["web.example.com"], "tls": "cert-manager", "cluster_issuer": "le"},
}
# A Secret stand-in for kustomize; the scan is about the Deployment that reads it.
SECRET = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "web-secrets"\ndata: {}\n'


def choices(name: str) -> list[Any]:
    listed = QUESTIONS[name]["choices"]
    return list(listed.values()) if isinstance(listed, dict) else list(listed)


FRAMEWORKS = ("kubernetes", "dockerfile")


def checkov(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """One checkov run over `folder` with both frameworks; the results by (the first folder
    below `folder` a result's file is in, framework)."""
    assert CHECKOV.is_file(), f"{CHECKOV} is missing: run `make .venv-checkov/bin/checkov`"
    # The report is read from the file checkov writes: its standard output was seen broken
    # at 192 KiB (under a profiler), and the file held the whole report.
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [
                str(CHECKOV),
                "--directory",
                str(folder),
                "--framework",
                *FRAMEWORKS,
                "--output",
                "json",
                "--output-file-path",
                out,
                "--skip-download",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        written = Path(out) / "results_json.json"
        assert written.is_file(), done.stderr
        report = json.loads(written.read_text())
    reports = report if isinstance(report, list) else [report]
    assert sorted(r["check_type"] for r in reports) == sorted(FRAMEWORKS)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for item in reports:
        for outcome in ("failed", "skipped", "passed"):
            for check in item["results"].get(f"{outcome}_checks", []):
                part = Path(check["file_path"].lstrip("/")).parts[0]
                into = results.setdefault(
                    (part, item["check_type"]), {"failed": [], "skipped": [], "passed": 0}
                )
                if outcome == "passed":
                    into["passed"] += 1
                else:
                    into[outcome].append(check)
    return results


def stamp(template: Path, destination: Path, data: dict[str, Any]) -> Path:
    run_copy(
        str(template),
        destination,
        data=data,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
    )
    return destination


def build_matrix(template_repo: Path, built: Path, work: Path) -> None:
    """Every `expose`, volume and autoscaling choice, stamped and built into `built`."""
    built.mkdir()
    matrix = itertools.product(choices("expose"), choices("volume_type"), [False, True])
    for expose, volume, autoscaling in matrix:
        name = f"{expose}-{volume}-{'hpa' if autoscaling else 'fixed'}"
        data = {
            **SERVICE,
            **EXPOSURE[expose],
            "expose": expose,
            "volume_type": volume,
            "autoscaling": autoscaling,
            # Secrets as env vars on every other entry; a fixed image tag on the others.
            **({"secret_keys": ["API_KEY"]} if autoscaling else {"image_tag": "1.4.2"}),
        }
        folder = stamp(template_repo, work / name / "apps/web", data)
        if autoscaling:
            (folder / "secrets.enc.yaml").write_text(SECRET)
        text = subprocess.run(
            ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True
        ).stdout
        (built / f"{name}.yaml").write_text(text)


def stamp_dockerfiles(template_repo: Path, root: Path) -> None:
    """An app of every language stamped below `root` (its workflows left out)."""
    for language in choices("language"):
        stamp(
            template_repo,
            root / language,
            {
                "kind": "app",
                "service": "web",
                "registry": "gitea.example.com",
                "owner": "team",
                "language": language,
                "infra_repo": "git@gitea.example.com:team/infra.git",
            },
        )
        shutil.rmtree(root / language / ".gitea")


PRIVILEGED_POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n"
    "    - name: bad\n      image: busybox\n      securityContext:\n"
    "        privileged: true\n"
)


@dataclass(frozen=True)
class Scan:
    root: Path
    results: dict[tuple[str, str], dict[str, Any]]

    def of(self, part: str, framework: str) -> dict[str, Any]:
        empty: dict[str, Any] = {"failed": [], "skipped": [], "passed": 0}
        return self.results.get((part, framework), empty)


@pytest.fixture(scope="module")
def scan(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """The three things the tests below scan, each in a folder of its own, scanned by one
    checkov run (its start is most of a scan): `matrix` (the built manifests),
    `dockerfiles` (the stamped apps) and `wired` (a privileged Pod)."""
    root = tmp_path_factory.mktemp("scan")
    build_matrix(template_repo, root / "matrix", tmp_path_factory.mktemp("stamped"))
    stamp_dockerfiles(template_repo, root / "dockerfiles")
    (root / "wired").mkdir()
    (root / "wired/pod.yaml").write_text(PRIVILEGED_POD)
    return Scan(root, checkov(root))


def test_every_choice_of_the_matrix_passes_checkov_or_says_why_not(scan: Scan) -> None:
    assert len(list((scan.root / "matrix").glob("*.yaml"))) >= 12
    results = scan.of("matrix", "kubernetes")
    assert results["failed"] == [], [(f["check_id"], f["resource"]) for f in results["failed"]]
    assert results["passed"] > 0
    for skipped in results["skipped"]:
        assert len(skipped["check_result"].get("suppress_comment") or "") > 20, skipped["check_id"]


def test_every_stamped_dockerfile_passes_checkov_or_says_why_not(scan: Scan) -> None:
    assert sorted(p.name for p in (scan.root / "dockerfiles").iterdir()) == sorted(
        choices("language")
    )
    results = scan.of("dockerfiles", "dockerfile")
    assert results["failed"] == [], [(f["check_id"], f["file_path"]) for f in results["failed"]]
    assert {s["check_id"] for s in results["skipped"]} == {"CKV_DOCKER_2"}
    for skipped in results["skipped"]:
        assert "probes" in skipped["check_result"]["suppress_comment"]


def test_checkov_is_wired_to_fail(scan: Scan) -> None:
    """A privileged container fails the scan: the scan above can fail."""
    failed = {f["check_id"] for f in scan.of("wired", "kubernetes")["failed"]}
    assert "CKV_K8S_16" in failed  # "Container should not be privileged"
