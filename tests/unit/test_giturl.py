"""generator.giturl: the infra repo URL and the pip requirement of the template."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.requirements import Requirement

from generator.giturl import RULE, GitUrl, parse, pip_requirement, pip_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ssh://git@gitea.example.com:30022/platform/infra.git",
            GitUrl("ssh", "gitea.example.com", 30022, "/platform/infra.git", "git"),
        ),
        ("ssh://host/infra", GitUrl("ssh", "host", None, "/infra", "")),
        ("ssh://git@[::1]:22/o/infra.git", GitUrl("ssh", "::1", 22, "/o/infra.git", "git")),
        (
            "git@gitea.example.com:platform/infra.git",
            GitUrl("scp", "gitea.example.com", None, "platform/infra.git", "git"),
        ),
        ("file:///srv/git/infra.git", GitUrl("file", "", None, "/srv/git/infra.git")),
    ],
)
def test_the_three_forms(url: str, expected: GitUrl) -> None:
    parsed = parse(url)
    assert parsed == expected
    assert parsed.is_ssh == (expected.scheme != "file")


@pytest.mark.parametrize(
    "url",
    [
        "https://gitea.example.com/platform/infra.git",
        "http://host/infra.git",
        "ssh://host",
        "ssh://host/",
        "git@host:",
        "file://relative/path",
        "ssh://host/infra.git\n",
        "ssh://host/in fra.git",
        "",
        None,
        42,
    ],
)
def test_anything_else_is_refused_with_the_rule(url: object) -> None:
    with pytest.raises(ValueError, match="must be an SSH URL") as caught:
        parse(url)
    assert str(caught.value) == RULE


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_a_port_out_of_range_is_refused(port: str) -> None:
    with pytest.raises(ValueError, match="port in the URL must be from 1 to 65535"):
        parse(f"ssh://git@host:{port}/infra.git")


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_HOSTS = st.lists(_LABEL, min_size=1, max_size=3).map(".".join)
_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-.", min_size=1, max_size=10)
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + ".git")


@given(_HOSTS, st.integers(1, 65535), _PATHS)
def test_an_ssh_url_gives_back_its_parts(host: str, port: int, path: str) -> None:
    url = parse(f"ssh://git@{host}:{port}/{path}")
    assert (url.host, url.port, url.path, url.user) == (host, port, f"/{path}", "git")
    scp = parse(f"git@{host}:{path}")
    assert (scp.scheme, scp.host, scp.port, scp.path) == ("scp", host, None, path)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://gitea.example.com/p/t.git", "git+https://gitea.example.com/p/t.git"),
        ("git+https://gitea.example.com/p/t.git", "git+https://gitea.example.com/p/t.git"),
        ("gh:org/template", "git+https://github.com/org/template.git"),
        ("gl:org/template.git", "git+https://gitlab.com/org/template.git"),
        ("git@gitea.example.com:p/t.git", "git+ssh://git@gitea.example.com/p/t.git"),
        ("git@[::1]:p/t.git", "git+ssh://git@[::1]/p/t.git"),
        ("/srv/templates/t", "git+file:///srv/templates/t"),
    ],
)
def test_pip_url_of_each_source_copier_accepts(source: str, expected: str) -> None:
    assert pip_url(source) == expected


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("templates/t", "is a relative path"),
        ("~/t", "is a relative path"),
        ("", "is a relative path"),
        ("https://user:pw@host/t.git", "holds a password"),
        ("https://host/t.git?x=1", "holds a character a pip URL cannot carry"),
        ("https://host/t#frag", "holds a character a pip URL cannot carry"),
        ("/srv/my templates/t", "holds a character a pip URL cannot carry"),
        ("/srv/t@v1", "holds a character a pip URL cannot carry"),
        ("https:///t.git", "names no host"),
        ("https://host:99999/t.git", "out of range"),
    ],
)
def test_pip_url_refuses_what_no_runner_can_install(source: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        pip_url(source)


def test_pip_requirement_with_extras_and_a_tag() -> None:
    text = pip_requirement("git@gitea.example.com:p/gitops-onboard.git", "v1.2.0", ["infra"])
    assert text == (
        "gitops-onboard[infra] @ git+ssh://git@gitea.example.com/p/gitops-onboard.git@v1.2.0"
    )
    requirement = Requirement(text)
    assert requirement.name == "gitops-onboard" and requirement.extras == {"infra"}


def test_pip_requirement_sorts_and_dedupes_extras() -> None:
    text = pip_requirement("https://h/t.git", "v1", ["test", "infra", "infra"])
    assert text.startswith("gitops-onboard[infra,test] @ ")


def test_without_a_version_a_local_folder_is_installed_as_it_is() -> None:
    assert pip_requirement("/srv/t", "") == "gitops-onboard @ file:///srv/t"
    assert pip_requirement("https://h/t.git", None) == "gitops-onboard @ git+https://h/t.git"


@pytest.mark.parametrize("ref", ["v1 2", "v1@x", "v1#x", "v1~1"])
def test_a_version_pip_cannot_fetch_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="no git revision pip can fetch"):
        pip_requirement("https://h/t.git", ref)
