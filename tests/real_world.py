"""The real parts running together: an app repo stamped to deploy through them.

`running_world` starts `RegistryStack` and `GitSshd` (tests/realparts.py), onboards the
service `hello` (image `127.0.0.1:<port>/team/hello`) into a copy of the stamped infra repo
served as a bare repo over SSH, and stamps the app repo with those addresses as its answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app_world import _render_app
from tests.conftest import make_hermetic
from tests.helpers import commit_all, git
from tests.realparts import GitSshd, RegistryStack, keypair, require

__all__ = ["OWNER", "SERVICE", "RealWorld", "running_world"]

SERVICE, OWNER = "hello", "team"


@dataclass
class RealWorld:
    """The running parts, the infra remote sshd serves, and the app repo stamped for them."""

    registry: RegistryStack
    sshd: GitSshd
    remote: Path
    app: Path
    deploy_key: str
    read_only_key: str  # a deploy key that may fetch, not push

    @property
    def image(self) -> str:
        """The image the app's deploy job pushes."""
        return f"{self.registry.host}/{OWNER}/{SERVICE}"


@contextmanager
def running_world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Iterator[RealWorld]:
    """Start the registry stack and sshd; onboard `hello` for them; stamp its app repo."""
    require("docker-registry", "nginx", "skopeo", "sshd", "htpasswd")
    from generator.onboard import onboard_service

    root = tmp_path_factory.mktemp("realparts")
    private, public = keypair(root, "deploy")
    read_only, read_only_public = keypair(root, "read-only")
    registry = RegistryStack(root / "registry")
    sshd = GitSshd(root / "sshd", public, read_only_public)
    with registry.running(), sshd.running(), pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("realparts-home"), mp)
        remote = root / "remote.git"
        answers = {
            "service": SERVICE,
            "registry": registry.host,
            "owner": OWNER,
            "port": 8080,
            "clusters": ["koala"],
            "language": "python",
            "infra_repo": sshd.url(remote),
            "infra_ssh_host": "127.0.0.1",
            "infra_ssh_port": sshd.port,
        }
        infra = root / "infra"
        git("clone", "-q", str(pristine_infra), str(infra), cwd=root)
        onboard_service(infra, answers, str(template_repo))
        commit_all(infra, f"onboard {SERVICE}")
        git("clone", "-q", "--bare", str(infra), str(remote), cwd=root)
        app = _render_app(template_repo, root / "app", answers)
        yield RealWorld(registry, sshd, remote, app, private, read_only)
