"""Hostile folders handed to `gitops-onboard adopt`.

The attacker points `adopt` at the wrong thing: a folder outside `apps/` (the repo's own
cluster files, a parent folder), a folder that is not a kustomization, a service the
template already stamped (adopting it again would overwrite its answers), a name Kubernetes
refuses, a folder no cluster deploys. Each gets one line naming the field and the rule,
exit 2, and not one byte of the repo changes. A hand-written object the template cannot
keep as it was (a ConfigMap in another namespace, which the template's namespace moves) is
listed and refused unless the user accepts the difference explicitly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cli import main
from generator.clusters import cluster_file
from generator.kubectl import kustomize_build
from tests.adversarial._adopt import (
    FINISH,
    LEDGER_PASSWORD,
    LEDGER_SECRET,
    UNDO,
    adopt_argv,
    check_report,
    hand_written,
    holders,
    kill_adopt_round,
    reported,
)
from tests.adversarial._txn import UNREPORTED, _comparable, journal_file, race, run_cli
from tests.conftest import make_hermetic
from tests.helpers import commit_all, tree_bytes


def refused(
    root: Path, capsys: pytest.CaptureFixture[str], folder: str, *extra: str
) -> tuple[str, int]:
    before = tree_bytes(root)
    code = main(["adopt", "--infra", str(root), folder, "--yes", *extra])
    err = capsys.readouterr().err.strip()
    assert tree_bytes(root) == before
    assert len(err.splitlines()) == 1, err
    return err, code


@pytest.mark.parametrize("folder", ["clusters/koala", "apps", "apps/web/local", "..", "/etc"])
def test_a_path_outside_apps_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], folder: str
) -> None:
    hand_written(infra_repo, "web")
    err, code = refused(infra_repo, capsys, folder)
    assert code == 2 and "folder: must be a folder apps/<service> of the infra repo" in err


def test_a_folder_that_is_not_a_kustomization_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hand_written(infra_repo, "web", listed=False)
    (folder / "kustomization.yaml").unlink()
    commit_all(infra_repo, "no kustomization")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "folder: apps/web must be a kustomization" in err


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n", "kind: Kustomization"),
        ("resources: [deployment.yaml\n", "must be valid YAML"),
        ("- deployment.yaml\n", "must be a YAML mapping"),
    ],
)
def test_a_kustomization_file_that_is_not_a_kustomization_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], text: str, rule: str
) -> None:
    folder = hand_written(infra_repo, "web")
    (folder / "kustomization.yaml").write_text(text)
    commit_all(infra_repo, "not a kustomization")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "apps/web/kustomization.yaml: " in err and rule in err


def test_a_service_already_stamped_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = hand_written(infra_repo, "web")
    (folder / ".copier-answers.yml").write_text("_src_path: somewhere\nkind: service\n")
    commit_all(infra_repo, "stamped")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "folder: apps/web is already stamped (.copier-answers.yml)" in err


@pytest.mark.parametrize("name", ["Web", "web_1", "1web"])
def test_a_name_that_is_not_a_dns_1035_label_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    hand_written(infra_repo, name, listed=False)
    err, code = refused(infra_repo, capsys, f"apps/{name}")
    assert code == 2 and "service: must be a DNS-1035 label" in err and repr(name) in err


def test_a_folder_no_cluster_deploys_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_written(infra_repo, "web", listed=False)
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "clusters: no clusters/<c>/kustomization.yaml lists apps/web" in err


def test_accept_differences_without_yes_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_written(infra_repo, "web")
    before = tree_bytes(infra_repo)
    assert main(["adopt", "--infra", str(infra_repo), "apps/web", "--accept-differences"]) == 2
    assert "--accept-differences: only applies with --yes" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before


OTHER_NAMESPACE = """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shared, namespace: elsewhere}
data: {a: "1"}
"""


def test_a_difference_the_component_cannot_close_is_listed_and_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The template's kustomization sets one namespace: a hand-written object in another
    namespace would move. That must be shown, and written only when explicitly accepted."""
    hand_written(infra_repo, "web", extra=OTHER_NAMESPACE)
    assert main(["adopt", "--infra", str(infra_repo), "apps/web"]) == 0
    out = capsys.readouterr().out
    assert "the built output would still differ in" in out
    assert "ConfigMap elsewhere/shared: missing after adopting" in out
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "--accept-differences: the built output would change in" in err
    assert (
        main(["adopt", "--infra", str(infra_repo), "apps/web", "--yes", "--accept-differences"])
        == 0
    )
    assert (infra_repo / "apps/web/.copier-answers.yml").is_file()


# ── links, odd Secret values, two adopts at once ─────────────────────────────


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_symbolic_link_inside_the_folder_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    """A link inside the folder is followed by the build and by the writes: a folder `local`
    linked to another service made adopt write the Component into that other service."""
    other = hand_written(infra_repo, "other")
    folder = hand_written(infra_repo, "web")
    if link == "file":
        (folder / "service.yaml").symlink_to("../other/deployment.yaml")
    else:
        (folder / "local").symlink_to("../other", target_is_directory=True)
    commit_all(infra_repo, "a link")
    before_other = tree_bytes(other)
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2, err
    where = "service.yaml" if link == "file" else "local"
    assert f"apps/web/{where}: is a symbolic link" in err
    assert tree_bytes(other) == before_other


MULTILINE = "-----BEGIN KEY-----\nline-two-of-the-key\n-----END KEY-----\n"
BINARY = bytes(range(256)) + b"\xff\xfe-binary-tail"


def odd_secret() -> str:
    import base64

    return f"""\
---
apiVersion: v1
kind: Secret
metadata: {{name: web-odd, namespace: web}}
type: Opaque
data:
  blob: {base64.b64encode(BINARY).decode()}
  shared: {base64.b64encode(b"from-data").decode()}
stringData:
  pem: {json.dumps(MULTILINE)}
  shared: "from-string-data"
"""


def decrypted_objects(folder: Path) -> dict[tuple[str, str, str, str], Any]:
    """The cluster's built objects, each Secret decrypted in memory with the test's key."""
    from generator import sops
    from generator.adopt_diff import key_of

    out = {}
    for obj in kustomize_build(folder):
        if obj.get("kind") == "Secret" and "sops" in obj:
            plain = yaml.safe_load(sops.decrypt_text(yaml.safe_dump(obj)))
            obj = {k: v for k, v in plain.items() if k != "sops"}
        out[key_of(obj)] = obj
    return out


def test_a_secret_with_binary_multiline_and_doubled_keys_is_kept_exactly(
    infra_repo: Path, age_private_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Secret with `data` and `stringData` both (one key in each), a binary value and a
    value with newlines: after adopting, the cluster applies the very same Secret, and none
    of its values is left in the clear anywhere in the repo."""
    hand_written(infra_repo, "web", extra=odd_secret())
    cluster = cluster_file(infra_repo, "koala").parent
    built = decrypted_objects(cluster)
    assert main(["adopt", "--infra", str(infra_repo), "apps/web", "--yes"]) == 0, (
        capsys.readouterr()
    )
    assert decrypted_objects(cluster) == built
    for needle in secret_needles():
        assert holders(infra_repo, needle) == [], needle
    # The comparison is not blind to values: change one and it differs.
    secret = infra_repo / "apps/web/local/secret-web-odd.enc.yaml"
    from generator import sops

    sops.set_value(secret, ["stringData", "shared"], "changed", root=infra_repo)
    assert decrypted_objects(cluster) != built


def secret_needles() -> list[bytes]:
    import base64

    return [
        MULTILINE.splitlines()[1].encode(),
        base64.b64encode(BINARY)[:40],
        BINARY[:64],
        b"from-string-data",
        LEDGER_PASSWORD.encode(),
        base64.b64encode(LEDGER_PASSWORD.encode()),
    ]


@pytest.fixture(scope="module")
def adopted_web(tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path) -> Path:
    """The infra repo with web written by hand (its Secret too), then adopted uninterrupted:
    what two racing adoptions and a resumed one must end with. Built once; read only."""
    root = tmp_path_factory.mktemp("adopted") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("adopted-home"), mp)
        hand_written(root, "web", extra=LEDGER_SECRET)
        assert run_cli(*adopt_argv(root)[1:]).returncode == 0
    return root


def test_two_adopts_at_once_are_serialised(infra_repo: Path, adopted_web: Path) -> None:
    """Two `adopt --yes` of one folder at the same moment: one adopts, the other is told the
    folder is stamped now; the result is one adoption, not a mix of two."""
    hand_written(infra_repo, "web", extra=LEDGER_SECRET)
    runs = race([adopt_argv(infra_repo), adopt_argv(infra_repo)])
    assert sorted(run.returncode for run in runs) == [0, 2], runs
    loser = next(run for run in runs if run.returncode == 2)
    said = [line for line in loser.stderr.splitlines() if "waiting for the lock" not in line]
    assert len(said) == 1 and "folder: apps/web is already stamped" in said[0], said
    assert _comparable(tree_bytes(infra_repo)) == _comparable(tree_bytes(adopted_web))
    assert not journal_file(infra_repo).exists()


# ── no plaintext in the scratch render ───────────────────────────────────────

OTHER_PASSWORD = "other-service-plaintext-pw"


class _Watch:
    """Looks at the temp folder each time adopt starts a tool or removes a folder."""

    def __init__(self, tmp: Path, needles: list[bytes]) -> None:
        self.tmp, self.needles, self.looks, self.found = tmp, needles, 0, set[str]()

    def look(self) -> None:
        self.looks += 1
        for needle in self.needles:
            self.found.update(holders(self.tmp, needle))


_WATCH: list[_Watch] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH and event in ("subprocess.Popen", "shutil.rmtree", "os.rename"):
        _WATCH[-1].look()


sys.addaudithook(_audit)


def _adopt_web_watching_the_temp_folder(
    infra_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    needles: list[str],
) -> None:
    """Adopt apps/web with the temp folder looked at each time adopt runs a tool (kubectl,
    sops, git, Copier) or removes a folder: no needle is ever in it, and the clusters build
    the same objects as before."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    watch = _Watch(scratch, [needle.encode() for needle in needles])
    _WATCH.append(watch)
    try:
        assert main(["adopt", "--infra", str(infra_repo), "apps/web", "--yes"]) == 0, (
            capsys.readouterr()
        )
    finally:
        _WATCH.clear()
    assert watch.looks > 10
    assert sorted(watch.found) == []
    assert "every cluster builds the same objects as before" in capsys.readouterr().out


def test_the_scratch_render_never_holds_a_plaintext_secret(
    infra_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The plan renders the template in a scratch copy of the repo under the temp folder.
    It copied the hand-written plaintext Secret there, and every other hand-written
    service's plaintext Secret too (a team adopts one service at a time). The temp folder is
    looked at each time adopt runs a tool (kubectl, sops, git, Copier) or removes a folder."""
    hand_written(
        infra_repo,
        "other",
        extra=LEDGER_SECRET.replace("web", "other").replace(LEDGER_PASSWORD, OTHER_PASSWORD),
    )
    hand_written(infra_repo, "web", extra=LEDGER_SECRET)
    _adopt_web_watching_the_temp_folder(
        infra_repo, tmp_path, monkeypatch, capsys, [LEDGER_PASSWORD, OTHER_PASSWORD]
    )


GENERATED_LITERAL = "generated-literal-pw-adversarial"
GENERATED_FILE = "generated-file-token-adversarial"
GENERATED_ENV = "generated-env-pw-adversarial"
GENERATED_OLD_ENV = "generated-old-env-pw-adversarial"


def test_the_scratch_render_holds_no_secret_generator_value(
    infra_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another hand-written service makes its Secret with a `secretGenerator`: a literal in
    its kustomization, a file, an env file in the list form and the old single `env` form,
    the Deployment reading the Secret by name (kustomize appends a hash of the values). The
    scratch copy held them all as written; now it holds none, and the clusters still compare
    equal (the hash of a Secret built from placeholders is not a difference)."""
    other = hand_written(infra_repo, "gen")
    (other / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - deployment.yaml\n"
        "secretGenerator:\n"
        "  - name: gen-creds\n"
        "    namespace: gen\n"
        "    literals:\n"
        f"      - PASSWORD={GENERATED_LITERAL}\n"
        f"      - 'QUOTED=\"{GENERATED_LITERAL}-2\"'\n"
        "    files: [token.txt, renamed=conf/raw.bin]\n"
        "    envs:\n      - db.env\n"
        "  - name: gen-old\n"
        "    namespace: gen\n"
        "    env: old.env\n"
    )
    (other / "token.txt").write_text(GENERATED_FILE + "\n")
    (other / "conf").mkdir()
    (other / "conf/raw.bin").write_bytes(b"\x00\xff" + GENERATED_FILE.encode())
    (other / "db.env").write_text(f"# the database\nDB_PASSWORD={GENERATED_ENV}\n\nDB_USER=gen\n")
    (other / "old.env").write_text(f"OLD_PASSWORD={GENERATED_OLD_ENV}\n")
    deployment = other / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "ports: [{containerPort: 80}]",
            "ports: [{containerPort: 80}], envFrom: [{secretRef: {name: gen-creds}}, "
            "{secretRef: {name: gen-old}}]",
        )
    )
    commit_all(infra_repo, "gen with a secretGenerator")
    built = kustomize_build(other)
    hashed = {o["metadata"]["name"][: -len("-1234567890")] for o in built if o["kind"] == "Secret"}
    assert hashed == {"gen-creds", "gen-old"}
    hand_written(infra_repo, "web", extra=LEDGER_SECRET)
    needles = [GENERATED_LITERAL, GENERATED_FILE, GENERATED_ENV, GENERATED_OLD_ENV]
    _adopt_web_watching_the_temp_folder(
        infra_repo, tmp_path, monkeypatch, capsys, [LEDGER_PASSWORD, *needles]
    )
    assert kustomize_build(other) == built  # the other service is as it was


PATCHED_SMP = "patched-smp-pw-adversarial"
PATCHED_JSON6902 = "patched-json6902-token-adversarial"
PATCHED_OLD_SMP = "patched-old-smp-pw-adversarial"
PATCHED_OPS_FILE = "patched-ops-file-pw-adversarial"
PATCHED_OLD_OPS = "patched-old-ops-pw-adversarial"


def test_the_scratch_render_holds_no_value_a_kustomization_patches_into_a_secret(
    infra_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another hand-written service sets its Secret's values with kustomize patches: a
    strategic-merge patch and a JSON 6902 patch written in its kustomization, the old
    `patchesStrategicMerge` and `patchesJson6902` fields, and a JSON 6902 patch file aimed at
    the Secret by `target` (the file itself names no Secret). The scratch copy held them as
    written; now it holds none, and the clusters still compare equal."""
    other = hand_written(infra_repo, "patched")
    (other / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: patched-creds, namespace: patched}\n"
        "type: Opaque\n"
    )
    (other / "ops.yaml").write_text(
        f"- op: add\n  path: /stringData/FILE_PASSWORD\n  value: {PATCHED_OPS_FILE}\n"
    )
    (other / "old-ops.json").write_text(
        f'[{{"op": "add", "path": "/stringData/OLD_OPS", "value": "{PATCHED_OLD_OPS}"}}]'
    )
    (other / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - deployment.yaml\n  - secret.yaml\n"
        "patches:\n"
        "  - patch: |-\n"
        "      apiVersion: v1\n      kind: Secret\n"
        "      metadata: {name: patched-creds, namespace: patched}\n"
        f"      stringData:\n        PASSWORD: {PATCHED_SMP}\n"
        "  - target: {kind: Secret, name: patched-creds}\n"
        "    patch: |-\n"
        f"      - {{op: add, path: /stringData/TOKEN, value: {PATCHED_JSON6902}}}\n"
        "  - target: {kind: Secret, name: patched-creds}\n"
        "    path: ops.yaml\n"
        "patchesStrategicMerge:\n"
        "  - |-\n"
        "    apiVersion: v1\n    kind: Secret\n"
        "    metadata: {name: patched-creds, namespace: patched}\n"
        f"    stringData: {{OLD_PASSWORD: {PATCHED_OLD_SMP}}}\n"
        "patchesJson6902:\n"
        "  - target: {version: v1, kind: Secret, name: patched-creds, namespace: patched}\n"
        "    path: old-ops.json\n"
    )
    commit_all(infra_repo, "patched sets its Secret with patches")
    built = kustomize_build(other)
    [secret] = [o for o in built if o["kind"] == "Secret"]
    assert sorted(secret["stringData"]) == [
        "FILE_PASSWORD",
        "OLD_OPS",
        "OLD_PASSWORD",
        "PASSWORD",
        "TOKEN",
    ]
    hand_written(infra_repo, "web", extra=LEDGER_SECRET)
    needles = [PATCHED_SMP, PATCHED_JSON6902, PATCHED_OLD_SMP, PATCHED_OPS_FILE, PATCHED_OLD_OPS]
    _adopt_web_watching_the_temp_folder(
        infra_repo, tmp_path, monkeypatch, capsys, [LEDGER_PASSWORD, *needles]
    )
    assert kustomize_build(other) == built  # the other service is as it was


# ── kill -9 while adopting ───────────────────────────────────────────────────


def test_kill_9_while_adopting_leaves_nothing_unreported_and_no_plaintext(
    infra_repo: Path, tmp_path: Path
) -> None:
    """adopt wrote its files one by one, then deleted the hand-written ones: killed half-way,
    the folder was a mix no command reported, and a second adopt refused it as stamped.
    Most kills here land a few milliseconds after adopt's first write, three in its plan; the
    state each leaves is as before, fully adopted, or reported by `check` and by a second
    adopt with the command that finishes it or rolls it back (both tried), and no plaintext
    secret value is in any file but the hand-written one itself (in the repo or the temp
    folder)."""
    hand_written(infra_repo, "web", extra=LEDGER_SECRET)  # beside the Deployment
    pristine = tmp_path / "pristine"
    shutil.copytree(infra_repo, pristine, symlinks=True)
    started = time.monotonic()
    assert run_cli(*adopt_argv(infra_repo)[1:]).returncode == 0
    took = time.monotonic() - started
    reference = tree_bytes(infra_repo)
    # Most kills in the few milliseconds of writing; three in the plan (the scratch render).
    moments = [(delay, False) for delay in (0.0, 0.002, 0.005, 0.01, 0.02, took * 0.05)]
    moments += [(took * share, True) for share in (0.3, 0.6, 0.85)]
    outcomes = []
    problems = []
    for index, (delay, from_start) in enumerate(moments):
        prefer = "rollback" if index % 2 else "resume"
        state, found = kill_adopt_round(
            pristine, tmp_path / f"k{index}", reference, delay, prefer, from_start=from_start
        )
        outcomes.append(state)
        problems += [f"{delay:.3f}s: {problem}" for problem in found]
    print(outcomes)
    assert UNREPORTED not in outcomes, problems
    assert problems == []


def test_a_secret_value_copied_into_an_annotation_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sops encrypts `data` and `stringData` only: a Secret applied once with `kubectl apply`
    and exported carries its values again in `last-applied-configuration`, which adopt
    wrote in the clear into the "encrypted" file."""
    applied = json.dumps({"stringData": {"password": LEDGER_PASSWORD}})
    secret = LEDGER_SECRET.replace(
        "metadata: {name: web-db, namespace: web}",
        "metadata:\n  name: web-db\n  namespace: web\n  annotations:\n"
        f"    kubectl.kubernetes.io/last-applied-configuration: {json.dumps(applied)}",
    )
    hand_written(infra_repo, "web", extra=secret)
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2, err
    assert "Secret web-db" in err and "last-applied-configuration" in err
    assert LEDGER_PASSWORD not in err
    assert holders(infra_repo, LEDGER_PASSWORD.encode()) == ["apps/web/deployment.yaml"]


def test_a_stray_folder_where_adopt_writes_is_refused(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leftover `apps/.web.adopt-new` (its journal deleted by hand) would be taken for the
    new folder, or block its writing half-way; adopt refuses before writing anything."""
    hand_written(infra_repo, "web")
    (infra_repo / "apps/.web.adopt-new").write_text("in the way\n")
    err, code = refused(infra_repo, capsys, "apps/web")
    assert code == 2 and "apps/.web.adopt-new: " in err and "remove it" in err, err


def interrupted_adoption(infra: Path, tries: int = 8) -> None:
    """Kill `adopt --yes` the moment its new folder appears, until a journal is left with
    the hand-written folder still in place (on a loaded machine the kill may land later, in
    the swap, which the tests that need it make exactly)."""
    pristine = infra.parent / "pristine-interrupted"
    shutil.copytree(infra, pristine, symlinks=True)
    for _ in range(tries):
        proc = subprocess.Popen(
            adopt_argv(infra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        new = infra / "apps/.web.adopt-new"
        while proc.poll() is None and not new.exists():
            time.sleep(0.0005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if (
            journal_file(infra).exists()
            and new.exists()
            and (infra / "apps/web").is_dir()
            and not (infra / "apps/.web.adopt-old").exists()
        ):
            return
        shutil.rmtree(infra)
        shutil.copytree(pristine, infra, symlinks=True)
    pytest.fail("adopt always finished before it could be killed")


@pytest.fixture(scope="module")
def interrupted_web(
    tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path
) -> tuple[Path, dict[str, bytes]]:
    """The infra repo with web written by hand (its Secret too) and an adoption of it killed
    after its new folder appeared, with the tree as it was before. Built once; read only:
    each test copies it (`as_interrupted`)."""
    root = tmp_path_factory.mktemp("interrupted") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("interrupted-home"), mp)
        hand_written(root, "web", extra=LEDGER_SECRET)
        before = tree_bytes(root)
        interrupted_adoption(root)
    return root, before


def as_interrupted(infra: Path, interrupted: tuple[Path, dict[str, bytes]]) -> dict[str, bytes]:
    """Make `infra` a copy of the interrupted adoption; the tree before it was interrupted."""
    shutil.rmtree(infra)
    shutil.copytree(interrupted[0], infra, symlinks=True)
    return interrupted[1]


def test_an_interrupted_adoption_is_not_taken_for_an_onboarding(
    infra_repo: Path, interrupted_web: tuple[Path, dict[str, bytes]]
) -> None:
    """`offboard web` accepted the journal of an interrupted adoption (it has a way back)
    and `onboard --resume web` took it for an onboarding's; each must refuse in one line
    naming adopt's own ways out, and leave everything as it was."""
    as_interrupted(infra_repo, interrupted_web)
    state = tree_bytes(infra_repo)
    for argv in (
        ["offboard", "web", "--yes", "--infra", str(infra_repo)],
        ["onboard", "--infra", str(infra_repo), "--resume", "web"],
    ):
        done = run_cli(*argv)
        assert done.returncode == 1, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert UNDO in done.stderr and FINISH in done.stderr
        assert tree_bytes(infra_repo) == state
    assert run_cli("adopt", "--infra", str(infra_repo), "apps/web", "--rollback").returncode == 0
    assert not journal_file(infra_repo).exists()
    assert not [p for p in (infra_repo / "apps").iterdir() if p.name.startswith(".")]


STEPS = ["journaled", "writing", "set-aside", "swapped", "deleting", "deleted"]
PAST_UNDOING = ("deleting", "deleted")  # the hand-written files are (being) deleted


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("way", ["resume", "rollback"])
def test_killed_at_each_step_of_the_swap_it_is_finished_or_rolled_back(
    infra_repo: Path,
    adopted_web: Path,
    interrupted_web: tuple[Path, dict[str, bytes]],
    step: str,
    way: str,
) -> None:
    """The renames of the swap take microseconds, so kills rarely land between them: here the
    state right after each step is made exactly, from a real interrupted adoption. Each is
    reported; `--resume` ends fully adopted and `--rollback` byte for byte as before (or,
    once the hand-written files are being deleted, is refused naming `--resume`)."""
    from generator import adopt_write
    from generator.transaction import read_journal

    before = as_interrupted(infra_repo, interrupted_web)
    journal = read_journal(infra_repo)
    assert journal is not None and journal.kind == "adopt"
    apps = infra_repo / "apps"
    if step == "journaled":  # killed after the journal, before the new folder's first file
        shutil.rmtree(apps / ".web.adopt-new")
    if step not in ("journaled", "writing"):
        adopt_write._write_new(infra_repo, journal)
        os.rename(apps / "web", apps / ".web.adopt-old")
    if step in ("swapped", *PAST_UNDOING):
        os.rename(apps / ".web.adopt-new", apps / "web")
    if step in PAST_UNDOING:
        os.rename(apps / ".web.adopt-old", apps / ".web.adopt-done")
        (apps / ".web.adopt-done/kustomization.yaml").unlink()
    if step == "deleted":  # killed after the delete, before the journal went
        shutil.rmtree(apps / ".web.adopt-done")
    in_check, next_says = reported(infra_repo)
    assert FINISH in in_check and FINISH in next_says, (in_check, next_says)
    assert (UNDO in next_says) == (step not in PAST_UNDOING), next_says
    done = run_cli("adopt", "--infra", str(infra_repo), "apps/web", f"--{way}")
    if way == "rollback" and step in PAST_UNDOING:
        assert done.returncode == 2 and FINISH in done.stderr, done.stderr
        done = run_cli("adopt", "--infra", str(infra_repo), "apps/web", "--resume")
        way = "resume"
    assert done.returncode == 0, done.stderr
    if way == "rollback":
        assert tree_bytes(infra_repo) == before
    else:
        assert _comparable(tree_bytes(infra_repo)) == _comparable(tree_bytes(adopted_web))
    assert not journal_file(infra_repo).exists()
    assert not [p.name for p in apps.iterdir() if p.name.startswith(".")]
    assert check_report(infra_repo) == ""
