"""A check of a fleet spread over every core reports what a check on one core reports.

`check` renders the copies in worker processes and validates each cluster's build as soon as
it finishes. Nothing of that may show: a worker that finishes early, a chunk that finishes
late, a worker that dies, or a kind whose first object is valid must not reorder, drop or
hide a finding.
"""

from __future__ import annotations

import copy as copying
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import pull_secret
from generator.check import Finding, check
from generator.check.workers import RenderWork, jobs_for
from generator.copier_run.render import TemplateRenderer
from generator.k8s_schema import SchemaValidator
from generator.kubectl import kustomize_build
from generator.kustomization import add_resource
from generator.onboard import onboard_service
from generator.stamped import StampedCopy
from tests.helpers import commit_all

CLUSTERS = ("koala", "iguana")
SERVICES = 24
WEB = {"service": "web", "registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}
BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: busybox
          {extra}
"""


def _service_answers(index: int) -> dict[str, Any]:
    name = f"svc{index:02d}"
    answers: dict[str, Any] = {
        "service": name,
        "namespace": name,
        "port": 8000 + index,
        "replicas": 1 + index % 3,
        "env": {"INDEX": str(index)},
        "clusters": [CLUSTERS[index % 2]],
    }
    if index % 4 == 1:
        answers.update(volume_type="pvc", volume_mount_path="/data", volume_size="1Gi")
    return answers


@pytest.fixture(scope="module")
def pristine_fleet(tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path) -> Path:
    """An infra repo with `web` (onboarded) and 24 more services rendered by the template."""
    root = tmp_path_factory.mktemp("fleet") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    onboard_service(root, WEB)
    pull_secret.set_credentials(root, "registry-credentials", "gitea.example.com", "ci", "t0k")
    recorded = yaml.safe_load((root / "apps/web/.copier-answers.yml").read_text())
    with TemplateRenderer() as renderer:
        for index in range(SERVICES):
            answers = {**recorded, **_service_answers(index)}
            folder = root / "apps" / answers["service"]
            for name, content in renderer.render(
                StampedCopy(folder, ".copier-answers.yml", answers)
            ).items():
                assert isinstance(content, bytes)
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
            path = root / "clusters" / answers["clusters"][0] / "kustomization.yaml"
            path.write_text(add_resource(path.read_text(), f"../../apps/{answers['service']}"))
    assert check(root, offline=True, jobs=1).findings == ()
    commit_all(root, "a fleet")
    return root


@pytest.fixture
def fleet(tmp_path: Path, pristine_fleet: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(pristine_fleet, root, symlinks=True)
    return root


def _hand_made(root: Path, name: str, manifests: list[str], cluster: str) -> None:
    folder = root / "apps" / name
    folder.mkdir()
    for at, manifest in enumerate(manifests):
        (folder / f"m{at}.yaml").write_text(manifest)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        + "".join(f"  - m{at}.yaml\n" for at in range(len(manifests)))
    )
    config = root / ".gitops-onboard.yaml"
    config.write_text(config.read_text() + f"hand_made:\n  - apps/{name}\n")
    path = root / "clusters" / cluster / "kustomization.yaml"
    path.write_text(add_resource(path.read_text(), f"../../apps/{name}"))


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _damage(root: Path) -> None:
    """Drift in copies of every chunk, a copy that cannot render, conflict markers, schema
    errors in one cluster and a build that fails in the other."""
    for index in (0, 3, 10, 17, 23):
        _replace(root / f"apps/svc{index:02d}/service.yaml", "port:", "port:  ")
    (root / "apps/svc13/deployment.yaml").unlink()  # in iguana, whose build fails anyway
    _replace(root / "apps/svc06/.copier-answers.yml", "_commit: v1.0.0", "_commit: v9.9.9")
    deployment = root / "apps/svc21/deployment.yaml"
    deployment.write_text(
        "<<<<<<< before updating\n=======\n>>>>>>> after updating\n" + deployment.read_text()
    )
    bad = [
        BAD_DEPLOYMENT.format(name="one", replicas="three", extra=""),
        BAD_DEPLOYMENT.format(name="fine", replicas=1, extra=""),
        BAD_DEPLOYMENT.format(name="two", replicas=2, extra="colour: blue"),
    ]
    _hand_made(root, "legacy", bad, "koala")
    # svc01 is in iguana: its kustomization lists a file that is not there.
    _replace(
        root / "apps/svc01/kustomization.yaml",
        "  - service.yaml\n",
        "  - service.yaml\n  - gone.yaml\n",
    )


def test_a_check_on_every_core_reports_what_a_check_on_one_reports(fleet: Path) -> None:
    _damage(fleet)
    serial = check(fleet, offline=True, jobs=1)
    shown = [(f.check, f.path, f.message[:160]) for f in serial.findings]
    assert {f.check for f in serial.findings} >= {
        "drift",
        "render",
        "conflict",
        "schema",
        "build",
    }, shown
    assert len([f for f in serial.findings if f.check == "drift"]) >= 8
    for jobs in (2, 3, 5):
        parallel = check(fleet, offline=True, jobs=jobs)
        assert parallel.findings == serial.findings, jobs
        assert (parallel.copies, parallel.clusters) == (serial.copies, serial.clusters)
    assert check(fleet, offline=True) == serial  # the default, on however many cores


def test_a_fleet_is_checked_on_every_core_and_a_few_copies_on_one() -> None:
    cores = len(os.sched_getaffinity(0))
    assert jobs_for(500, None) == cores
    assert jobs_for(3, None) == 1
    assert jobs_for(3, 2) == 2


def test_every_schema_failure_of_a_kind_is_reported_not_only_the_first(infra_repo: Path) -> None:
    """One invalid Deployment must not hide the next, valid or not, nor a valid one the next."""
    onboard_service(infra_repo, WEB)
    pull_secret.set_credentials(infra_repo, "registry-credentials", "gitea.example.com", "ci", "t")
    manifests = [
        BAD_DEPLOYMENT.format(name="fine", replicas=1, extra=""),
        BAD_DEPLOYMENT.format(name="one", replicas="three", extra=""),
        BAD_DEPLOYMENT.format(name="fine2", replicas=2, extra=""),
        BAD_DEPLOYMENT.format(name="two", replicas=2, extra="colour: blue"),
        BAD_DEPLOYMENT.format(name="three", replicas="[1]", extra="colour: red"),
    ]
    _hand_made(infra_repo, "legacy", manifests, "koala")
    found = [f for f in check(infra_repo, offline=True).findings if f.check == "schema"]
    messages = [f.message for f in found]
    names = [m.split(" ")[1] for m in messages]
    assert sorted(names) == ["one", "three", "two"]
    assert "spec.replicas: 'three' is not of type 'integer'" in messages[names.index("one")]
    two = messages[names.index("two")]
    assert "colour" in two and "Additional properties are not allowed" in two
    three = messages[names.index("three")]
    assert "spec.replicas: [1] is not of type 'integer'" in three and "colour" in three


def test_a_validator_reused_for_a_kind_judges_each_object_afresh() -> None:
    validator = SchemaValidator()
    good = yaml.safe_load(BAD_DEPLOYMENT.format(name="a", replicas=1, extra=""))
    bad = yaml.safe_load(BAD_DEPLOYMENT.format(name="b", replicas="x", extra=""))
    sequence = [good, bad, good, bad, bad, good]
    verdicts = [bool(validator.errors(obj)) for obj in sequence]
    assert verdicts == [False, True, False, True, True, False]
    assert validator.errors(bad) == ["spec.replicas: 'x' is not of type 'integer', 'null'"]


# --- the order of chunks, and a lost worker -------------------------------------------------

_PARENT = os.getpid()


def _named(copies: list[StampedCopy], root: Path, renderer: TemplateRenderer) -> Iterator[Finding]:
    """Findings named after each copy; the first chunk is the slowest, so it finishes last."""
    if copies[0].folder.name == "c00":
        time.sleep(0.5)
    for copy in copies:
        yield Finding("drift", copy.folder.name, f"rendered in {os.getpid()}")


def _dies_in_a_worker(
    copies: list[StampedCopy], root: Path, renderer: TemplateRenderer
) -> Iterator[Finding]:
    """A worker process dies on copy c07 (as if killed); the parent process survives it."""
    for copy in copies:
        if copy.folder.name == "c07" and os.getpid() != _PARENT:
            os._exit(9)
        yield Finding("drift", copy.folder.name, "rendered")


def _copies(tmp_path: Path, count: int) -> list[StampedCopy]:
    return [StampedCopy(tmp_path / f"c{at:02d}", ".copier-answers.yml", {}) for at in range(count)]


def test_chunks_that_finish_out_of_order_come_back_in_the_order_of_the_copies(
    tmp_path: Path,
) -> None:
    copies = _copies(tmp_path, 20)
    with RenderWork(_named, copies, tmp_path, "fast", jobs=2) as work:
        found = work.findings()
    assert [f.path for f in found] == [c.folder.name for c in copies]
    workers = {f.message for f in found}
    assert len(workers) == 2 and f"rendered in {_PARENT}" not in workers


def test_a_worker_that_dies_loses_no_finding(tmp_path: Path) -> None:
    copies = _copies(tmp_path, 20)
    with RenderWork(_dies_in_a_worker, copies, tmp_path, "fast", jobs=2) as work:
        found = work.findings()
    assert [f.path for f in found] == [c.folder.name for c in copies]


# --- the compiled schema check agrees with kubernetes-validate ------------------------------

_ODD_VALUES: list[Any] = [None, True, False, 0, 7, -1, 1.0, 2.5, "", "x", "25%", "7", [], [1], {}]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


def _mutated(obj: dict[str, Any], path: tuple[Any, ...], how: str, value: Any) -> dict[str, Any]:
    copy = copying.deepcopy(obj)
    if not path:
        return copy
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last]["unexpected"] = value
    else:
        parent[last] = value
    return copy


class _Objects(list[dict[str, Any]]):
    def __repr__(self) -> str:
        return f"<{len(self)} objects of a real build>"


@pytest.fixture(scope="module")
def built_objects(pristine_fleet: Path) -> _Objects:
    objects = [o for c in CLUSTERS for o in kustomize_build(pristine_fleet / "clusters" / c)]
    return _Objects({k: v for k, v in o.items() if k != "sops"} for o in objects)


_VALIDATOR = SchemaValidator()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_compiled_schema_check_agrees_with_kubernetes_validate(
    built_objects: _Objects, data: st.DataObject
) -> None:
    """A valid object the compiled check rejected would only cost time; an invalid one it
    accepted would lose a finding. Neither happens, for any value anywhere in a real build:
    the compiled check says what jsonschema says, with the schema files kubernetes-validate
    ships."""
    obj = built_objects[data.draw(st.integers(0, len(built_objects) - 1))]
    paths = [p for p in _paths(obj) if p not in {("kind",), ("apiVersion",)}]
    path = data.draw(st.sampled_from(paths))
    how = data.draw(st.sampled_from(["replace", "delete", "add"]))
    value = data.draw(st.sampled_from(_ODD_VALUES))
    mutated = _mutated(obj, path, how, value)
    kind, api_version = mutated["kind"], mutated["apiVersion"]
    compiled = _VALIDATOR._check(kind, api_version)
    assert compiled is not None, kind
    reference = _VALIDATOR._validator(kind, api_version)
    assert compiled(mutated) == reference.is_valid(mutated), (path, how, value)


def test_the_schema_files_are_the_ones_kubernetes_validate_judges_with(
    built_objects: _Objects,
) -> None:
    bad = copying.deepcopy(next(o for o in built_objects if o["kind"] == "Deployment"))
    bad["spec"]["replicas"] = "three"
    for obj, valid in ((built_objects[0], True), (bad, False)):
        try:
            kubernetes_validate.validate(obj, _VALIDATOR.version, strict=True)
        except kubernetes_validate.ValidationError:
            assert not valid
        else:
            assert valid
        assert (_VALIDATOR.errors(obj) == []) is valid


def _check_in_a_daemon(queue: Any, root: Path) -> None:
    copies = _copies(root, 20)
    with RenderWork(_named, copies, root, "fast", jobs=2) as work:
        queue.put([f.path for f in work.findings()])


def test_a_check_where_no_worker_may_start_renders_on_one_core(tmp_path: Path) -> None:
    """A daemon process may not start processes: the check renders in it, on one core."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    daemon = context.Process(target=_check_in_a_daemon, args=(queue, tmp_path), daemon=True)
    daemon.start()
    paths = queue.get(timeout=120)
    daemon.join(timeout=60)
    assert paths == [f"c{at:02d}" for at in range(20)]


FLUX_SYNC = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {cluster}
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/{cluster}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""


def test_the_flux_files_read_once_still_judge_each_cluster_on_its_own(fleet: Path) -> None:
    """The repo's Flux files are read once for every cluster with encrypted Secrets; koala's
    Kustomization decrypts and iguana's does not, so only iguana is reported."""
    decrypting = FLUX_SYNC.format(cluster="koala").replace(
        "  interval: 10m0s\n",
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
        "  interval: 10m0s\n",
    )
    (fleet / "flux").mkdir()
    (fleet / "flux" / "koala.yaml").write_text(decrypting)
    (fleet / "flux" / "iguana.yaml").write_text(FLUX_SYNC.format(cluster="iguana"))
    flux = [f for f in check(fleet, offline=True).findings if f.check == "flux"]
    assert [(f.path, f.fix) for f in flux] == [
        ("clusters/iguana", "gitops-onboard flux enable-decryption --cluster iguana")
    ]
