"""`check`: tell whether the stamped copies below a folder are what the template produces.

For every Copier answers file below PATH the check reports a template source its repository
does not allow (that copy is then neither fetched nor rendered), a broken answers file, drift
(the recorded template version rendered in process with the recorded answers, diffed against
the files on disk), conflict markers an update left, and staleness (a newer release tag
exists). For every infra repo below PATH it checks that its root answers file is not lost,
that clusters and services agree, that every cluster builds with `kubectl kustomize`, that
every object validates against the Kubernetes schema, that every Secret is encrypted, intact
and set, and that Flux decrypts the clusters that hold encrypted Secrets.

The work per copy does not grow with the number of copies: each template version is checked
out once, each cluster kustomization read once and built once (in parallel with the
rendering), and each schema loaded once.

Example::

    report = check(Path("infra"), offline=True)
    if not report.ok:
        print(render_text(report))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path

from generator import ownership, sources
from generator.answers import ANSWERS_FILE
from generator.check.consistency import InfraLayout, consistency_findings, read_layout
from generator.check.decryption import decryption_findings
from generator.check.drift import FileDrift, drift
from generator.check.encryption import audit_findings, declared_keys_findings
from generator.check.findings import CopyStatus, Deployment, Finding, Report
from generator.check.manifests import ClusterBuild, build_findings, start_build
from generator.check.overlays import deployed, with_overlays
from generator.check.report import render_json, render_text
from generator.check.workers import RenderWork, jobs_for
from generator.clusters import cluster_file
from generator.copier_run.render import Engine, RenderError, TemplateRenderer
from generator.damage import (
    conflict_blocks,
    lost_root_answers,
)
from generator.errors import InputError, OnboardError
from generator.infra_root import infra_roots_within, is_infra_root
from generator.interrupted import scan as scan_interrupted
from generator.k8s_schema import DEFAULT_KUBERNETES_VERSION, SchemaValidator, validator_for
from generator.releases import latest_release, recorded_version
from generator.stamped import StampedCopy, find_copies

__all__ = [
    "CopyStatus",
    "Deployment",
    "Finding",
    "Report",
    "StampedCopy",
    "check",
    "find_copies",
    "render_json",
    "render_text",
]


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


def _infra_roots(root: Path, copies: Iterable[StampedCopy]) -> list[Path]:
    roots = {c.folder for c in copies if c.kind == "infra"}
    if is_infra_root(root):
        roots.add(root)
    return sorted(roots)


def _drift_finding(copy: StampedCopy, found: FileDrift, root: Path) -> Finding:
    where = _rel(copy.folder, root)
    path = _rel(copy.folder / found.path, root)
    version = copy.commit or "its recorded version"
    message = (
        f"is missing; the template ({version}) renders it"
        if found.status == "missing"
        else f"differs from what the template ({version}) renders"
    )
    fix = (
        f"`copier recopy --trust --force --vcs-ref {copy.commit} {where}` restores the "
        "template's output (hand edits are lost); to keep an edit, "
        + ownership.legitimate_ways(copy.kind, found.path)
    )
    return Finding("drift", path, message, fix, found.diff)


def _source_findings(
    refused: list[tuple[StampedCopy, sources.AllowList]], root: Path
) -> Iterator[Finding]:
    for copy, listing in refused:
        repo = _rel(listing.root, root) if listing.root.is_relative_to(root) else listing.root
        allowed = ", ".join(listing.sources) or "none"
        yield Finding(
            "source",
            _rel(copy.folder / copy.answers_file, root),
            f"records template source {copy.src_path}, which is not on the allow-list "
            f"({listing.describe()}): updating it would run that template's tasks, so it is "
            "neither fetched nor checked",
            f"if you trust it: gitops-onboard template allow {copy.src_path} --repo {repo}; "
            f"if not, set _src_path back to an allowed source ({allowed})",
        )


def _broken_findings(broken: list[tuple[Path, str]], root: Path) -> Iterator[Finding]:
    for path, problem in broken:
        where = _rel(path, root)
        yield Finding(
            "answers",
            where,
            f"{problem}; Copier cannot update this copy and check cannot render it",
            f"restore the file Copier wrote: `git log -p -- {where}` shows its last good version",
        )


def _lost_root_findings(folders: list[Path], root: Path) -> Iterator[Finding]:
    for infra in sorted(infra_roots_within(root, folders)):
        lost = lost_root_answers(infra)
        if lost is not None:
            how, restore = lost
            yield Finding(
                "answers",
                _rel(infra / ANSWERS_FILE, root),
                f"is missing ({how}): the infra root's template and version are unknown, so "
                "neither check nor update can tell whether it is current",
                f"{restore} (in {_rel(infra, root)})",
            )


def _conflict_findings(copies: list[StampedCopy], root: Path) -> Iterator[Finding]:
    folders = sorted({c.folder.as_posix() for c in copies})
    for copy in copies:
        prefix = copy.folder.as_posix().rstrip("/") + "/"
        nested = [Path(f) for f in folders if f.startswith(prefix)]
        by_file: dict[Path, list[int]] = {}
        for block in conflict_blocks(copy.folder, skip=nested):
            by_file.setdefault(block.path, []).append(block.line)
        for path, lines in by_file.items():
            at = f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"
            yield Finding(
                "conflict",
                _rel(path, root),
                f"holds conflict markers at {at} (<<<<<<< before updating ... ======= ... "
                ">>>>>>> after updating): a template update left a conflict nobody resolved",
                "keep the lines you want between the markers, delete the three marker lines, "
                "then commit",
            )


def _render_findings(
    copies: list[StampedCopy], root: Path, renderer: TemplateRenderer
) -> Iterator[Finding]:
    for copy in copies:
        try:
            rendered = renderer.render(copy)
        except RenderError as error:
            yield Finding(
                "render",
                _rel(copy.folder / copy.answers_file, root),
                str(error),
                "check _src_path and _commit in the answers file, and the answers",
            )
            continue
        owned = partial(ownership.is_user_owned, copy.kind, copy.answers)
        for found in drift(copy.folder, with_overlays(copy, rendered), owned):
            yield _drift_finding(copy, found, root)


def _staleness(
    copies: list[StampedCopy], root: Path, offline: bool, refused: set[tuple[Path, str]]
) -> tuple[list[CopyStatus], list[Finding]]:
    latest: dict[str, str | OnboardError | None] = {}
    statuses: list[CopyStatus] = []
    found: list[Finding] = []
    for copy in copies:
        where = _rel(copy.folder, root)
        newest: str | None = None
        if not offline and (copy.folder, copy.answers_file) not in refused:
            if copy.src_path not in latest:
                try:
                    latest[copy.src_path] = latest_release(copy.src_path, cwd=root)
                except OnboardError as error:
                    latest[copy.src_path] = error
            known = latest[copy.src_path]
            if isinstance(known, OnboardError):
                found.append(
                    Finding(
                        "stale",
                        where,
                        str(known),
                        "make the template reachable, or skip this with --offline",
                    )
                )
            elif known is not None:
                newest = known
                have, want = recorded_version(copy.commit), recorded_version(known)
                if have is None or (want is not None and want > have):
                    found.append(
                        Finding(
                            "stale",
                            where,
                            f"template {known} is out; this copy is at "
                            f"{copy.commit or 'an unknown version'}",
                            f"copier update --trust {where}  (or gitops-onboard update)",
                        )
                    )
        statuses.append(CopyStatus(where, copy.kind, copy.src_path, copy.commit, newest))
    return statuses, found


def _infra_findings(
    layout: InfraLayout, copies: list[StampedCopy], root: Path
) -> Iterator[Finding]:
    yield from consistency_findings(layout, copies, root)
    for copy in copies:
        if copy.kind == "service" and copy.folder.is_relative_to(layout.root):
            declared = copy.answers.get("secret_keys") or []
            service = str(copy.answers.get("service") or copy.folder.name)
            if isinstance(declared, list):
                yield from declared_keys_findings(
                    copy.folder, service, [str(k) for k in declared], root
                )


def _interrupted_findings(infra: Path, root: Path) -> list[Finding]:
    """Onboardings and offboardings that stopped half-way (a journal, or a half-made folder)."""
    return [
        Finding("interrupted", _rel(infra / hit.folder, root), hit.what, hit.fix)
        for hit in scan_interrupted(infra)
    ]


def _without_unstamped(findings: list[Finding], interrupted: list[Finding]) -> list[Finding]:
    """An interrupted onboarding's folder is reported once, as interrupted."""
    paths = {finding.path for finding in interrupted}
    return [f for f in findings if not (f.check == "unstamped" and f.path in paths)]


def check(
    path: Path,
    *,
    offline: bool = False,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    engine: Engine = "fast",
    jobs: int | None = None,
) -> Report:
    """Check every stamped copy and infra repo at or below `path`.

    `jobs` processes render the copies (default: every core for a fleet, one for a few
    copies); the findings and their order do not depend on it.
    """
    root = path.resolve()
    if not root.is_dir():
        raise InputError("PATH", "must be an existing folder", str(path))
    copies, broken = find_copies(root)
    infra_roots = _infra_roots(root, copies)
    # Only an infra repo has objects to validate (an app repo's check runs without the schemas).
    validator = validator_for(kubernetes_version) if infra_roots else None
    if not copies and not infra_roots and not broken:
        raise InputError(
            "PATH",
            "holds no stamped copy (no .copier-answers.yml recording a _src_path) and no "
            "clusters/ folder",
            str(path),
        )
    refused = sources.untrusted(copies)
    refused_keys = {(copy.folder, copy.answers_file) for copy, _listing in refused}
    trusted = [c for c in copies if (c.folder, c.answers_file) not in refused_keys]
    layouts = [read_layout(infra) for infra in infra_roots]
    workers = jobs_for(len(trusted), jobs)
    # The render workers are forked first, while this process runs no other thread.
    with (
        RenderWork(_render_findings, trusted, root, engine, workers) as rendering,
        ThreadPoolExecutor(max_workers=_build_threads(), thread_name_prefix="kustomize") as pool,
    ):
        builds = [
            (_rel(folder, root), layout.root, cluster, start_build(pool, folder))
            for layout in layouts
            for cluster, folder in (
                (c, cluster_file(layout.root, c).parent) for c in layout.resources
            )
        ]
        findings = list(_source_findings(refused, root))
        findings.extend(_broken_findings(broken, root))
        findings.extend(_lost_root_findings([c.folder for c in copies], root))
        findings.extend(_conflict_findings(copies, root))
        # What reads only the repo is done while kubectl builds, not after.
        interrupted = [f for layout in layouts for f in _interrupted_findings(layout.root, root)]
        infra = [f for layout in layouts for f in _infra_findings(layout, copies, root)]
        audited = list(audit_findings(root, root, infra_roots))
        running = [
            deployment
            for copy in trusted
            if copy.kind == "service" and any(copy.folder.is_relative_to(i) for i in infra_roots)
            for deployment in deployed(copy, root)
        ]
        if workers == 1:
            # One core: this process renders while kubectl builds.
            findings.extend(rendering.findings())
        built = _cluster_findings(builds, validator)
        if workers > 1:
            findings.extend(rendering.findings())
        statuses, stale = _staleness(copies, root, offline, refused_keys)
        findings.extend(stale)
        findings.extend(infra)
        findings = _without_unstamped(findings, interrupted) + interrupted
        findings.extend(audited)
        for found in built:
            findings.extend(found)
    clusters = [where for where, _infra, _cluster, _build in builds]
    return Report(root, tuple(statuses), tuple(clusters), tuple(findings), offline, tuple(running))


def _build_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _cluster_findings(
    builds: list[tuple[str, Path, str, ClusterBuild]], validator: SchemaValidator | None
) -> list[list[Finding]]:
    """Each cluster's build, schema, secret and decryption findings, in the order of `builds`.

    Each build is checked as soon as it finishes, whatever order they finish in.
    """
    index = {build: at for at, (_where, _infra, _cluster, build) in enumerate(builds)}
    found: list[list[Finding]] = [[] for _ in builds]
    read: dict[Path, list[tuple[Path, str]]] = {}  # each repo's Flux files, read once
    for build in as_completed(index):
        where, infra, cluster, _build = builds[index[build]]
        assert validator is not None  # builds come from infra roots only
        problems, objects = build_findings(where, build, validator)
        found[index[build]] = problems + decryption_findings(where, infra, cluster, objects, read)
    return found
