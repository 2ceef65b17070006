"""Real parts for the deploy job: a TLS registry behind nginx and an OpenSSH git server.

Each part runs on 127.0.0.1 on a free port, from a temporary folder, and stops with its
context manager:

- `RegistryStack`: Debian's `docker-registry` (the distribution registry) with filesystem
  storage, behind Debian's `nginx` (TLS from a throwaway CA, htpasswd auth with a bcrypt
  hash, a configurable `client_max_body_size`). Clients trust the CA through
  `SSL_CERT_FILE`, which Go's TLS (skopeo) and OpenSSL (Python) both read.
- `GitSshd`: Debian's OpenSSH `sshd` with its own host key; an authorised deploy key whose
  forced command is `git-shell`, and optionally a second key that may only fetch (the way
  a Git server's read-only deploy key behaves).

A missing binary fails the test with one line naming the Debian package (`make preflight`
installs them).
"""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["GitSshd", "RegistryStack", "free_port", "keypair", "require", "wait_for_port"]

BINARIES = {
    "docker-registry": ("/usr/bin/docker-registry", "docker-registry"),
    "nginx": ("/usr/sbin/nginx", "nginx"),
    "skopeo": ("/usr/bin/skopeo", "skopeo"),
    "sshd": ("/usr/sbin/sshd", "openssh-server"),
    "htpasswd": ("/usr/bin/htpasswd", "apache2-utils"),
}


def require(*names: str) -> None:
    """Fail (never skip) with one line naming the Debian packages that are missing."""
    missing = sorted({BINARIES[n][1] for n in names if not os.access(BINARIES[n][0], os.X_OK)})
    if missing:
        pytest.fail(
            f"missing Debian packages: {' '.join(missing)} (run `make preflight` as root, or "
            f"apt-get install -y --no-install-recommends {' '.join(missing)})",
            pytrace=False,
        )


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once 127.0.0.1:`port` accepts; fail with the process's log if it died."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log.read_text(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}: {log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def keypair(directory: Path, name: str) -> tuple[str, str]:
    """A fresh ed25519 key pair (private, public) made by ssh-keygen."""
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    private, public = key.read_text(), key.with_suffix(".pub").read_text()
    key.unlink()
    key.with_suffix(".pub").unlink()
    return private, public


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 it signed: (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-onboard test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(key))
    paths[2].chmod(0o600)
    return paths


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  relativeurls: true
  secret: {secret}
"""

NGINX_CONFIG = """\
{user}
worker_processes 1;
pid {root}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    client_max_body_size {body_limit};
    chunked_transfer_encoding on;
    location /v2/ {{
      auth_basic "registry";
      auth_basic_user_file {htpasswd};
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_request_buffering off;
      proxy_read_timeout 900;
    }}
  }}
}}
"""


@dataclass
class RegistryStack:
    """docker-registry behind nginx (TLS + basic auth) on 127.0.0.1:`port`."""

    root: Path
    user: str = "cd-bot"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    body_limit: str = "0"  # nginx's client_max_body_size; 0 is no limit
    port: int = 0
    upstream: int = 0
    ca: Path = Path()
    _registry: subprocess.Popen[bytes] | None = None
    _nginx: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """The registry as image references name it."""
        return f"127.0.0.1:{self.port}"

    @property
    def creds(self) -> str:
        """`user:password`, the form of the REGISTRY_CREDS secret."""
        return f"{self.user}:{self.password}"

    def start(self) -> None:
        require("docker-registry", "nginx", "htpasswd")
        self.root.mkdir(parents=True, exist_ok=True)
        self.ca, self._cert, self._key = make_tls(self.root)
        htpasswd = subprocess.run(
            ["htpasswd", "-niB", self.user],
            input=self.password.encode(),
            capture_output=True,
            check=True,
        )
        (self.root / "htpasswd").write_bytes(htpasswd.stdout.strip() + b"\n")
        self.port, self.upstream = free_port(), free_port()
        self.start_registry()
        self.start_nginx()

    def start_registry(self) -> None:
        config = self.root / "registry.yml"
        storage = self.root / "storage"
        storage.mkdir(exist_ok=True)
        config.write_text(
            REGISTRY_CONFIG.format(
                storage=storage, port=self.upstream, secret=secrets.token_hex(16)
            )
        )
        log = self.root / "registry.log"
        self._registry = subprocess.Popen(
            ["/usr/bin/docker-registry", "serve", str(config)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.upstream, self._registry, log)

    def stop_registry(self) -> None:
        _stop(self._registry)
        self._registry = None

    def start_nginx(self, body_limit: str | None = None) -> None:
        if body_limit is not None:
            self.body_limit = body_limit
        prefix = self.root / "nginx"
        prefix.mkdir(exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(
            NGINX_CONFIG.format(
                # As root, workers would run as nobody, who cannot read the test's tmp folders.
                user="user root root;" if os.geteuid() == 0 else "",
                root=prefix,
                port=self.port,
                cert=self._cert,
                key=self._key,
                body_limit=self.body_limit,
                htpasswd=self.root / "htpasswd",
                upstream=self.upstream,
            )
        )
        log = prefix / "error.log"
        self._nginx = subprocess.Popen(
            [
                *("/usr/sbin/nginx", "-e", str(log), "-p", str(prefix), "-c", str(conf)),
                "-g",
                "daemon off;",
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self._nginx, log)

    def stop_nginx(self) -> None:
        _stop(self._nginx)
        self._nginx = None

    def stop(self) -> None:
        self.stop_nginx()
        self.stop_registry()

    @contextmanager
    def running(self) -> Iterator[RegistryStack]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_ed25519
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin forced-commands-only
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
LogLevel ERROR
"""

READ_ONLY = """#!/bin/sh
# A deploy key without write access: it may fetch, never push.
case "$SSH_ORIGINAL_COMMAND" in
  git-upload-pack\\ *) exec git-shell -c "$SSH_ORIGINAL_COMMAND" ;;
esac
echo "ERROR: this deploy key is not authorized to write to the repository" >&2
exit 1
"""


@dataclass
class GitSshd:
    """OpenSSH's sshd serving git on 127.0.0.1:`port` for `deploy_public_key`."""

    root: Path
    deploy_public_key: str
    read_only_public_key: str = ""
    port: int = 0
    user: str = field(default_factory=getpass.getuser)
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        require("sshd")
        self.root.mkdir(parents=True, exist_ok=True)
        host_key = self.root / "host_ed25519"
        if not host_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
            )
        read_only = self.root / "read-only.sh"
        read_only.write_text(READ_ONLY)
        read_only.chmod(0o755)
        lines = [
            f'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",restrict {self.deploy_public_key}'
        ]
        if self.read_only_public_key:
            lines.append(f'command="{read_only}",restrict {self.read_only_public_key}')
        (self.root / "authorized_keys").write_text("\n".join(k.strip() for k in lines) + "\n")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        self.port = self.port or free_port()
        config = self.root / "sshd_config"
        config.write_text(SSHD_CONFIG.format(port=self.port, root=self.root))
        log = self.root / "sshd.log"
        self._process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self._process, log)

    def stop(self) -> None:
        _stop(self._process)
        self._process = None

    def url(self, repo: Path) -> str:
        """The ssh:// URL of the bare repo at `repo` (an absolute path)."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo}"

    def known_hosts_line(self) -> str:
        """The host key as INFRA_KNOWN_HOSTS pins it."""
        public = (self.root / "host_ed25519.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {' '.join(public)}\n"

    @contextmanager
    def running(self) -> Iterator[GitSshd]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def have_all() -> bool:
    """Whether every binary of the real parts is installed."""
    return all(os.access(path, os.X_OK) for path, _ in BINARIES.values()) and bool(
        shutil.which("git-shell")
    )
