"""The awk program the CD workflow uses to set `newTag`, checked against the library's
round-trip YAML editor (`generator.kustomization.set_image_tag`) as the oracle.

The runner may have neither Python nor yq, so the workflow edits with POSIX awk; these
tests run that very program (the file the workflow template includes) with the system awk.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.kubectl import kustomize_build
from generator.kustomization import image_tag, set_image_tag
from tests.helpers import PROJECT

AWK = PROJECT / "template/shared/bump-newtag.awk"
IMAGE = "gitea.example.com/team/web"


def bump(path: Path, image: str, tag: str, *options: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["awk", "-v", f"image={image}", "-v", f"tag={tag}", *options, "-f", str(AWK), *[path] * 2],
        capture_output=True,
        check=False,
    )
    # Decoded by hand: text mode would turn CRLF into LF.
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def _load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


QUOTES = st.sampled_from(["plain", "double", "single"])


def _scalar(value: str, style: str) -> str:
    return {"plain": value, "double": f'"{value}"', "single": f"'{value}'"}[style]


@st.composite
def kustomizations(draw: st.DrawFn) -> tuple[str, str]:
    """A kustomization with one entry named IMAGE among others; returns (text, old tag)."""
    dash = draw(st.sampled_from(["  - ", "- ", "    - ", "  -   "]))
    key_pad = " " * (len(dash))
    old = draw(st.sampled_from(["latest", "v1.2.3", "0123", "1e10", "yes", "abc123"]))
    entries = []
    others = draw(
        st.lists(
            st.sampled_from(
                [IMAGE + "-worker", "docker.io/library/redis", "team/web", "gitea.example.com/team"]
            ),
            max_size=3,
            unique=True,
        )
    )
    for name in others:
        entries.append(
            [
                f"name: {_scalar(name, draw(QUOTES))}",
                f"newTag: {_scalar(draw(st.sampled_from(['7', 'x'])), draw(QUOTES))}",
            ]
        )
    ours = [
        f"name: {_scalar(IMAGE, draw(QUOTES))}",
        f"newTag: {_scalar(old, draw(QUOTES))}"
        + draw(st.sampled_from(["", "  # CD owns this", " #x"])),
    ]
    if draw(st.booleans()):
        ours.append("newName: " + _scalar(IMAGE, "double"))
    if draw(st.booleans()):
        ours.reverse()
    entries.insert(draw(st.integers(0, len(entries))), ours)
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        'namespace: "web"',
        "resources:",
        "  - deployment.yaml",
    ]
    lines.append("images:" + draw(st.sampled_from(["", "  # tags set by CD"])))
    for entry in entries:
        lines.append(dash + entry[0])
        for key in entry[1:]:
            if draw(st.booleans()):
                lines.append(key_pad + "# a comment inside the entry")
            lines.append(key_pad + key)
    if draw(st.booleans()):
        # A later section whose keys look like an images entry must not be touched.
        lines += ["labels:", f"  - name: {IMAGE}", "    newTag: keep", "    pairs: {}"]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + newline, old


TAGS = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=7, max_size=40),
    st.sampled_from(["1e10", "0777", "123", "v2.0.0", "true"]),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # counts: the profile
@given(case=kustomizations(), tag=TAGS)
def test_awk_bump_matches_the_yaml_editor_and_changes_one_line(
    tmp_path: Path, case: tuple[str, str], tag: str
) -> None:
    text, old = case
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(text.encode())

    # show=1 reports the tag as written (YAML would read an unquoted 0123 as a number).
    shown = bump(path, IMAGE, tag, "-v", "show=1")
    assert (shown.returncode, shown.stdout) == (0, f"{old}\n"), shown.stderr

    done = bump(path, IMAGE, tag)

    if tag == old:
        assert (done.returncode, done.stdout) == (3, "")
        return
    assert done.returncode == 0, done.stderr
    out = done.stdout
    expected = set_image_tag(text, IMAGE, tag)
    assert _load(out) == _load(expected)
    assert image_tag(out, IMAGE) == tag
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert f'newTag: "{tag}"' in changed[0][1]
    assert out.count("\r\n") == text.count("\r\n")


def test_awk_bump_of_the_stamped_file(app_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stamped = (app_world.root / "infra/apps/supervisor/kustomization.yaml").read_text()
    image = "gitea.d-ma.be/mathias/supervisor"
    tag = "0123456789abcdef0123456789abcdef01234567"
    path = tmp_path / "kustomization.yaml"
    path.write_text(stamped)
    done = bump(path, image, tag)
    assert done.returncode == 0, done.stderr
    assert _load(done.stdout) == _load(set_image_tag(stamped, image, tag))
    changed = [
        (a, b)
        for a, b in zip(stamped.splitlines(), done.stdout.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [('    newTag: "latest"', f'    newTag: "{tag}"')]


def test_awk_bump_refuses_what_it_cannot_edit_surely(tmp_path: Path) -> None:
    path = tmp_path / "kustomization.yaml"
    cases = {
        "no images: entry named": "images:\n  - name: other\n    newTag: x\n",
        "2 images: entries named": (
            f"images:\n- name: {IMAGE}\n  newTag: a\n- name: {IMAGE}\n  newTag: b\n"
        ),
        "has no newTag": f"images:\n  - name: {IMAGE}\n    digest: sha256:00\n",
        "no images: entry named ": f"images: [{{name: {IMAGE}, newTag: x}}]\n",
        "no images: entry named  ": "",
    }
    path.write_text(f"images:\n  - name: {IMAGE}\n    newTag: abc  # set\n")
    assert (bump(path, IMAGE, "abc").returncode, bump(path, IMAGE, "abc").stdout) == (3, "")
    for message, text in cases.items():
        path.write_text(text)
        for show in ([], ["-v", "show=1"]):
            done = bump(path, IMAGE, "abc", *show)
            assert done.returncode == 2, text
            assert done.stdout == ""
            assert message.strip() in done.stderr


DIGEST = "sha256:" + "0a" * 32
NEWER = "sha256:" + "1b" * 32


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (  # no digest yet: one is added right after newTag, at its indentation
            f"images:\n  - name: {IMAGE}\n    newTag: latest # CD\n",
            f'images:\n  - name: {IMAGE}\n    newTag: "v2" # CD\n    digest: "{DIGEST}"\n',
        ),
        (  # newTag first on the dash line
            f"images:\n- newTag: 'latest'\n  name: {IMAGE}\n",
            f'images:\n- newTag: "v2"\n  digest: "{DIGEST}"\n  name: {IMAGE}\n',
        ),
        (  # a digest already pinned, before newTag: replaced in place, comment kept
            f"images:\n  - name: {IMAGE}\n    digest: {NEWER}  # pinned\n    newTag: v1\n",
            f'images:\n  - name: {IMAGE}\n    digest: "{DIGEST}"  # pinned\n    newTag: "v2"\n',
        ),
        (  # CRLF stays CRLF on the added line too
            f"images:\r\n  - name: {IMAGE}\r\n    newTag: v1\r\n",
            f'images:\r\n  - name: {IMAGE}\r\n    newTag: "v2"\r\n    digest: "{DIGEST}"\r\n',
        ),
    ],
    ids=["added", "dash-line", "replaced", "crlf"],
)
def test_awk_bump_pins_the_digest_next_to_the_tag(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(before.encode())
    done = bump(path, IMAGE, "v2", "-v", f"digest={DIGEST}")
    assert (done.returncode, done.stdout) == (0, after), done.stderr
    path.write_bytes(after.encode())
    assert bump(path, IMAGE, "v2", "-v", f"digest={DIGEST}").returncode == 3  # nothing to do
    assert bump(path, IMAGE, "v2", "-v", f"digest={NEWER}").returncode == 0  # a rebuild


def test_awk_bump_without_a_digest_drops_a_stale_one(tmp_path: Path) -> None:
    """A tag with another build's digest would run that other build: the pin goes."""
    path = tmp_path / "kustomization.yaml"
    path.write_text(f"images:\n  - name: {IMAGE}\n    newTag: v1\n    digest: {DIGEST}\n")
    done = bump(path, IMAGE, "v2")
    assert (done.returncode, done.stdout) == (0, f'images:\n  - name: {IMAGE}\n    newTag: "v2"\n')


def test_kustomize_runs_the_pinned_digest(app_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(app_world.root / "infra", tmp_path / "infra", symlinks=True)
    folder = tmp_path / "infra/apps/supervisor"
    path = folder / "kustomization.yaml"
    image = "gitea.d-ma.be/mathias/supervisor"
    done = bump(path, image, "abc123", "-v", f"digest={DIGEST}")
    assert done.returncode == 0, done.stderr
    path.write_text(done.stdout)
    built = kustomize_build(folder)
    (deployment,) = [o for o in built if o["kind"] == "Deployment"]
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [f"{image}:abc123@{DIGEST}"]
