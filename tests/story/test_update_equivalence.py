"""The fast update gives what `copier update` gives, byte for byte.

A template is released as v1 and v2 (no migrations): v2 changes a line of deployment.yaml,
rewords the comment two lines above CD's `newTag` in kustomization.yaml, adds NOTES.md,
removes networkpolicy.yaml, and changes the infra README and the app's Dockerfile and CD
workflow. A world of repos is stamped at v1 — the update story (hand edits, CD tag bumps,
conflicts, files the user deleted or added, edits to a file v2 removes, a file the user
created where v2 adds one, secrets, the user's own Component `local/`, an app whose
Dockerfile is user-owned) and a fleet of services with seeded random answers and random
edits — then committed and copied twice. One copy is updated by `gitops-onboard update`'s
fast path, the other by `copier update --trust --defaults --skip-answered` run in each copy
in the same order, with what the fleet does between copies of one repo: conflicts and
deleted files parked out of the index (Copier diffs its old render against the whole
repo's index, so a file an earlier copy's update deleted would otherwise come back). Every
file, every file mode and the git index must be the same.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.copier_run import copying as copier_api
from generator.fleet import UpdateResult, plan, update_fleet
from generator.kustomization import set_image_tag
from generator.onboard import init_infra, onboard_service
from tests.app_world import APPS
from tests.helpers import AgeKey, commit_all, copier_cli, git, snapshot_template

TARGET = "v2.0.0"
OWNER = {"registry": "gitea.example.com", "owner": "team"}
# The command line of `copier update`, run by Copier's own CLI in this process (the answers
# and the files are what the `copier` executable makes of them; only the interpreter start
# is saved).
COPIER_UPDATE = ("update", "--trust", "--defaults", "--skip-answered", "--vcs-ref", TARGET)
# The random fleet: eight services, from a seed whose first eight draw every choice of
# `random_answers` and every edit (asserted when the world is built, so a change to either
# that the fleet no longer covers fails there). EQUIVALENCE_FLEET=14 (or more) draws more
# combinations of answers and edits.
FLEET_SIZE = int(os.environ.get("EQUIVALENCE_FLEET", "8"))
SEED = 20262810


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template at v1.0.0 and v2.0.0 (no `_migrations`)."""
    return two_releases(tmp_path_factory.mktemp("released") / "template")


def two_releases(destination: Path) -> Path:
    """The template tagged v1.0.0 as on disk and v2.0.0 as this module describes it."""
    repo = snapshot_template(destination, "v1.0.0")
    service = repo / "template/service"
    edit(service / "deployment.yaml.jinja", "revisionHistoryLimit: 3", "revisionHistoryLimit: 5")
    edit(
        service / "kustomization.yaml.jinja",
        "# CD owns newTag: it bumps this one field and nothing else.",
        "# CD owns newTag: it bumps that field and nothing else.",
    )
    edit(
        service / "kustomization.yaml.jinja",
        "{%- if network_policy %}\n  - networkpolicy.yaml\n{%- endif %}\n",
        "",
    )
    (service / "{% if network_policy %}networkpolicy.yaml{% endif %}.jinja").unlink()
    (service / "NOTES.md.jinja").write_text("# {{ service }}\n\nRun by {{ owner }}.\n")
    readme = repo / "template/infra/README.md.jinja"
    readme.write_text(readme.read_text() + "\nUpdated by the v2 template.\n")
    edit(repo / "template/app/Dockerfile.jinja", "FROM", "# v2\nFROM")
    cd = repo / "template/app/.gitea/workflows/cd.yml.jinja"
    cd.write_text(cd.read_text() + "# v2\n")
    commit_all(repo, "v2: five revisions, NOTES.md, no NetworkPolicy file")
    git("tag", TARGET, cwd=repo)
    return repo


# ── the edits a user or CD makes to a stamped service before the update ─────────────────

Edit = Callable[[Path, random.Random], None]


def _service_yaml(folder: Path, rng: random.Random) -> None:
    edit(folder / "service.yaml", "spec:\n", 'spec:\n  sessionAffinity: "ClientIP"\n')


def _conflicting_line(folder: Path, rng: random.Random) -> None:
    edit(folder / "deployment.yaml", "revisionHistoryLimit: 3", "revisionHistoryLimit: 4")


def _tail_comment(folder: Path, rng: random.Random) -> None:
    path = folder / "deployment.yaml"
    path.write_text(path.read_text() + f"# reviewed {rng.randrange(1000)}\n")


def _cd_bump(folder: Path, rng: random.Random) -> None:
    path = folder / "kustomization.yaml"
    text = path.read_text()
    image = text.split("- name: ", 1)[1].splitlines()[0].strip().strip('"')
    path.write_text(set_image_tag(text, image, f"{rng.getrandbits(28):07x}"))


def _delete_namespace(folder: Path, rng: random.Random) -> None:
    (folder / "namespace.yaml").unlink()


def _delete_deployment(folder: Path, rng: random.Random) -> None:
    (folder / "deployment.yaml").unlink()


def _own_component(folder: Path, rng: random.Random) -> None:
    path = folder / "local/kustomization.yaml"
    path.write_text(path.read_text() + "# my patches go here\n")


def _drop_own_component(folder: Path, rng: random.Random) -> None:
    (folder / "local/kustomization.yaml").unlink()


def _own_file(folder: Path, rng: random.Random) -> None:
    (folder / "extra").mkdir(exist_ok=True)
    (folder / "extra/notes.txt").write_text(f"mine {rng.randrange(100)}\n")


def _notes_where_v2_adds(folder: Path, rng: random.Random) -> None:
    (folder / "NOTES.md").write_text(rng.choice(["", "my notes\n", f"# {folder.name}\n"]))


def _edit_removed_file(folder: Path, rng: random.Random) -> None:
    path = folder / "networkpolicy.yaml"
    if path.exists():
        path.write_text(path.read_text() + "# tuned by hand\n")


def _resource_by_hand(folder: Path, rng: random.Random) -> None:
    edit(folder / "kustomization.yaml", "  - service.yaml\n", "  - service.yaml\n  - extra.yaml\n")


EDITS: dict[str, Edit] = {
    "service.yaml hand edit": _service_yaml,
    "line v2 changes": _conflicting_line,
    "comment at the end": _tail_comment,
    "CD tag bump": _cd_bump,
    "namespace.yaml deleted": _delete_namespace,
    "deployment.yaml deleted": _delete_deployment,
    "local/ edited": _own_component,
    "local/ deleted": _drop_own_component,
    "own file": _own_file,
    "NOTES.md made by hand": _notes_where_v2_adds,
    "file v2 removes edited": _edit_removed_file,
    "resource added by hand": _resource_by_hand,
}

STORY: dict[str, tuple[str, ...]] = {
    "web": ("service.yaml hand edit", "CD tag bump"),
    "api": ("line v2 changes",),
    "worker": ("deployment.yaml deleted", "namespace.yaml deleted"),
    "own": ("local/ edited", "own file"),
    "gone": ("local/ deleted",),
    "notes": ("NOTES.md made by hand", "file v2 removes edited"),
    "tail": ("comment at the end", "resource added by hand", "CD tag bump"),
    "plain": (),
}


def random_answers(rng: random.Random, index: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        **OWNER,
        "service": f"svc{index:02d}-{rng.choice(['alpha', 'beta', 'gamma'])}",
        "port": rng.choice([80, 3000, 8080, 9000]),
        "replicas": rng.randint(1, 3),
        "network_policy": rng.random() < 0.7,
        "probe_path": rng.choice(["", "/healthz"]),
        "image_tag": rng.choice(["latest", "1.2.3"]),
        "clusters": [rng.choice(["koala", "iguana"])],
    }
    if rng.random() < 0.3:
        answers.update(autoscaling=True, max_replicas=rng.randint(2, 5))
    if rng.random() < 0.3:
        answers.update(volume_type="pvc", volume_size=rng.choice(["1Gi", "5Gi"]))
    if rng.random() < 0.25:
        answers["env"] = {"LOG_LEVEL": rng.choice(["info", "debug"])}
    return answers


# Every (question, value) `random_answers` can draw.
ALL_CHOICES = {
    *(("service", suffix) for suffix in ("alpha", "beta", "gamma")),
    *(("port", port) for port in (80, 3000, 8080, 9000)),
    *(("replicas", n) for n in (1, 2, 3)),
    *(("network_policy", on) for on in (True, False)),
    *(("probe_path", path) for path in ("", "/healthz")),
    *(("image_tag", tag) for tag in ("latest", "1.2.3")),
    *(("clusters", name) for name in ("koala", "iguana")),
    *(("autoscaling", on) for on in (True, False)),
    *(("max_replicas", n) for n in (2, 3, 4, 5)),
    *(("volume_type", kind) for kind in ("none", "pvc")),
    *(("volume_size", size) for size in ("1Gi", "5Gi")),
    *(("LOG_LEVEL", level) for level in (None, "info", "debug")),
}


def choices(answers: dict[str, Any]) -> set[tuple[str, Any]]:
    """The (question, value) pairs of ALL_CHOICES that `answers` drew."""
    drawn = {
        ("service", answers["service"].split("-", 1)[1]),
        ("clusters", answers["clusters"][0]),
        ("autoscaling", answers.get("autoscaling", False)),
        ("volume_type", answers.get("volume_type", "none")),
        ("LOG_LEVEL", answers.get("env", {}).get("LOG_LEVEL")),
    }
    for name in ("port", "replicas", "network_policy", "probe_path", "image_tag"):
        drawn.add((name, answers[name]))
    for name in ("max_replicas", "volume_size"):
        if name in answers:
            drawn.add((name, answers[name]))
    return drawn


@pytest.fixture(scope="module")
def world_v1(
    tmp_path_factory: pytest.TempPathFactory, released: Path, age_key: AgeKey
) -> tuple[Path, Counter[str]]:
    """The infra repo (story services and a random fleet) and an app repo, stamped at v1."""
    world = tmp_path_factory.mktemp("world-v1")
    infra = world / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(infra, ["koala", "iguana"], str(released), vcs_ref="v1.0.0", extra=recipients)
    cases: Counter[str] = Counter()
    edits: dict[str, tuple[str, ...]] = {}
    for name, chosen in STORY.items():
        answers = {**OWNER, "service": name, "clusters": ["koala"]}
        secrets = None
        if name == "web":
            answers["secret_keys"] = ["API_KEY"]
            secrets = {"API_KEY": "s3cr3t-value"}
        onboard_service(infra, answers, vcs_ref="v1.0.0", secret_values=secrets)
        edits[name] = chosen
    rng = random.Random(SEED)
    drawn: set[tuple[str, Any]] = set()
    for index in range(FLEET_SIZE):
        answers = random_answers(rng, index)
        drawn |= choices(answers)
        onboard_service(infra, answers, vcs_ref="v1.0.0")
        edits[answers["service"]] = tuple(n for n in EDITS if rng.random() < 0.25)
    # The random fleet alone draws every choice and every edit (the story services add theirs).
    assert drawn == ALL_CHOICES, ALL_CHOICES - drawn
    fleet_edits = {label for name, chosen in edits.items() if name not in STORY for label in chosen}
    assert fleet_edits == set(EDITS), set(EDITS) - fleet_edits
    commit_all(infra, "fleet at v1")
    for name, chosen in edits.items():
        for label in chosen:
            EDITS[label](infra / "apps" / name, rng)
            cases[label] += 1
    commit_all(infra, "hand edits and deployments")

    app = world / "app"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    data = {**APPS["portal"], "kind": "app", "user_owned": ["Dockerfile"]}
    copier_api.copy(str(released), app, data, vcs_ref="v1.0.0")
    commit_all(app, "stamp the app at v1")
    (app / "Dockerfile").write_text((app / "Dockerfile").read_text() + "# ours now\n")
    cd = app / ".gitea/workflows/cd.yml"
    cd.write_text(cd.read_text().replace("\n", "\n# reviewed\n", 1))
    commit_all(app, "take over the Dockerfile; a note in CD")
    cases["user-owned Dockerfile edited"] += 1
    return world, cases


def _park(repo: Path, folder: str) -> list[str]:
    entries = git("ls-files", "-u", "--", folder, cwd=repo).splitlines()
    paths = sorted({line.split("\t", 1)[1] for line in entries})
    if paths:
        git("reset", "-q", "--", *paths, cwd=repo)
    return entries


def _restore(repo: Path, entries: list[str]) -> None:
    paths = sorted({line.split("\t", 1)[1] for line in entries})
    lines = [f"0 {'0' * 40}\t{p}" for p in paths] + entries
    if lines:
        subprocess.run(
            ["git", "update-index", "--index-info"],
            input="\n".join(lines) + "\n",
            cwd=repo,
            check=True,
            text=True,
        )


def copier_update_each(world: Path) -> None:
    """`copier update --trust --defaults --skip-answered` in every copy, in the fleet's order.

    Between copies of one repo, conflicts and deletions leave the index until the repo is
    done, as `gitops-onboard update` does."""
    for repo_plan in plan(world):
        parked: list[str] = []
        deleted: list[str] = []
        for folder in repo_plan.folders:
            code = copier_cli(*COPIER_UPDATE, cwd=repo_plan.repo / folder)
            assert code == 0, f"copier update in {folder} exited {code}"
            parked += _park(repo_plan.repo, folder)
            gone = git("ls-files", "--deleted", "-z", "--", folder, cwd=repo_plan.repo)
            deleted += [path for path in gone.split("\0") if path]
            if deleted:
                git("update-index", "--force-remove", "--", *deleted, cwd=repo_plan.repo)
        if deleted:
            git("reset", "-q", "--", *deleted, cwd=repo_plan.repo)
        _restore(repo_plan.repo, parked)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below `root` outside `.git`: its mode and bytes."""
    return {
        p.relative_to(root).as_posix(): (p.lstat().st_mode, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_fast_update_is_byte_identical_to_copier_update(
    tmp_path: Path, world_v1: tuple[Path, Counter[str]]
) -> None:
    pristine, cases = world_v1
    fast, reference = tmp_path / "fast", tmp_path / "reference"
    shutil.copytree(pristine, fast, symlinks=True)
    shutil.copytree(pristine, reference, symlinks=True)

    start = time.perf_counter()
    results: list[UpdateResult] = update_fleet(plan(fast), to=TARGET, fast=True, jobs=2)
    fast_seconds = time.perf_counter() - start
    copier_update_each(reference)
    copier_seconds = time.perf_counter() - start - fast_seconds

    assert [r.note for r in results] == [""] * len(results), "the fast path fell back"
    outcomes = Counter(r.outcome for r in results)
    assert outcomes["updated"] > 0 and outcomes["conflicts"] > 0, outcomes
    for repo in ("infra", "app"):
        left, right = snapshot(fast / repo), snapshot(reference / repo)
        assert sorted(left) == sorted(right), repo
        differing = [path for path in left if left[path] != right[path]]
        assert differing == [], repo
        assert git("ls-files", "-s", cwd=fast / repo) == git("ls-files", "-s", cwd=reference / repo)
    secrets = "apps/web/secrets.enc.yaml"
    assert (fast / "infra" / secrets).read_bytes() == (pristine / "infra" / secrets).read_bytes()
    print(
        f"\nequivalence: {len(results)} copies, cases {dict(cases)}, outcomes {dict(outcomes)}; "
        f"fast {fast_seconds:.1f}s, copier update {copier_seconds:.1f}s"
    )
