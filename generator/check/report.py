"""Print a check report for people (text) or machines (JSON); pure `Report -> str` functions."""

from __future__ import annotations

import json
from dataclasses import asdict
from itertools import groupby

from generator.check.findings import Deployment, Report

__all__ = ["render_json", "render_text"]


def _indent(text: str, prefix: str) -> str:
    return "".join(f"{prefix}{line}" for line in text.splitlines(keepends=True))


def _where_table(deployed: tuple[Deployment, ...]) -> list[str]:
    """What runs where: one row per service, one column per cluster, the tag in each cell."""
    clusters = sorted({d.cluster for d in deployed})
    services = sorted({d.service for d in deployed})
    cell = {(d.service, d.cluster): d.tag or "-" for d in deployed}
    rows = [["service", *clusters]]
    rows += [[s, *(cell.get((s, c), "") for c in clusters)] for s in services]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    padded = (
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        for row in rows
    )
    return ["  " + line.rstrip() for line in padded]


def render_text(report: Report, *, diffs: bool = True) -> str:
    """A readable report: each finding names the file and the fix; diffs shown indented."""
    copies = len(report.copies)
    clusters = len(report.clusters)
    scope = f"{copies} stamped {'copy' if copies == 1 else 'copies'}"
    if clusters:
        scope += f", {clusters} {'cluster' if clusters == 1 else 'clusters'}"
    lines = []
    if report.ok:
        lines.append(f"check: all current ({scope} in {report.root})")
    else:
        count = len(report.findings)
        lines.append(
            f"check: {count} {'problem' if count == 1 else 'problems'} ({scope} in {report.root})"
        )
        ordered = sorted(report.findings, key=lambda f: f.path)
        for path, group in groupby(ordered, key=lambda f: f.path):
            lines.append("")
            lines.append(path)
            for finding in group:
                lines.append(f"  {finding.check}: {finding.message}")
                if finding.fix:
                    lines.append(f"    fix: {finding.fix}")
                if diffs and finding.diff:
                    lines.append(_indent(finding.diff, "    ").rstrip("\n"))
    if any(d.cluster for d in report.deployed):
        lines.append("")
        lines.append("what runs where (image tag per cluster):")
        lines.extend(_where_table(report.deployed))
    if report.offline:
        lines.append("(offline: newer template releases were not looked up)")
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    """The report as one JSON object: ok, root, copies, clusters, findings, deployed.

    `deployed` lists, for each service and each of its clusters, the file CD edits there and
    the tag (and digest) it holds: what runs where.
    """
    payload = {
        "ok": report.ok,
        "root": str(report.root),
        "offline": report.offline,
        "copies": [asdict(copy) for copy in report.copies],
        "clusters": list(report.clusters),
        "findings": [asdict(finding) for finding in report.findings],
        "deployed": [asdict(deployment) for deployment in report.deployed],
    }
    return json.dumps(payload, indent=2) + "\n"
