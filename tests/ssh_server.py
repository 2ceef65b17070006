"""A real SSH server for git on 127.0.0.1, so the deploy job's ssh runs end to end.

It plays the Gitea SSH NodePort of the reference: one host key (the test pins it in the
INFRA_KNOWN_HOSTS secret), one authorised deploy key, and `git-upload-pack` /
`git-receive-pack` run for real on a bare repo. Started in a background thread with its own
event loop; `stop()` closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

GIT_COMMANDS = ("git-upload-pack", "git-receive-pack")


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free port on 127.0.0.1 that no one else can take until the block ends.

    The port is bound (with SO_REUSEADDR) but never listened on: a connection to it is
    refused, another program cannot bind it, and a `GitSshServer` started on it (asyncio binds
    with SO_REUSEADDR too) listens there. Each test run takes its own port, so two suites on
    one machine never wait for each other or collide.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]
    finally:
        holder.close()


@dataclass
class GitSshServer:
    """Serve `repos` (the path in the git URL → bare repo) over SSH on 127.0.0.1:`port`.

    Port 0 takes a free port; `port` holds the one taken once `start()` returns.
    """

    port: int
    repos: dict[str, Path]
    authorized_key: str  # an OpenSSH public key line
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    commands: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: asyncssh.SSHAcceptor | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def known_hosts_line(self) -> str:
        """The line an INFRA_KNOWN_HOSTS secret holds for this server."""
        public = self.host_key.export_public_key("openssh").decode().split()[:2]
        return f"[127.0.0.1]:{self.port} {' '.join(public)}\n"

    def start(self) -> GitSshServer:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"SSH server on 127.0.0.1:{self.port}: {self._error}")
        if self._server is not None:
            self.port = self._server.get_port()
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncssh.create_server(
                    asyncssh.SSHServer,
                    "127.0.0.1",
                    self.port,
                    server_host_keys=[self.host_key],
                    authorized_client_keys=asyncssh.import_authorized_keys(self.authorized_key),
                    process_factory=self._handle,
                    encoding=None,
                    allow_scp=False,
                )
            )
        except BaseException as error:  # reported by start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        self.commands.append(command)
        argv = shlex.split(command)
        repo = self.repos.get(argv[-1].strip("/")) if len(argv) == 2 else None
        if argv[:1] not in ([c] for c in GIT_COMMANDS) or repo is None:
            process.stderr.write(f"fatal: no such repository: {command}\n".encode())
            process.exit(128)
            return
        child = subprocess.Popen(
            [argv[0], str(repo)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        await process.redirect(stdin=child.stdin, stdout=child.stdout, stderr=child.stderr)
        await process.stdout.drain()
        await process.stderr.drain()
        code = await asyncio.get_running_loop().run_in_executor(None, child.wait)
        process.exit(code)
        await process.wait_closed()
