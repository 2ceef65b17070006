"""The registry: TLS, a login with the job's credentials, and a large upload through the proxy.

The upload is a blob of random bytes pushed the way skopeo pushes a layer (POST an upload,
PUT it with its digest), then deleted. A reverse proxy that limits request bodies answers
413, which is the reference's "large layers refused" failure.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import select
import ssl
import urllib.parse
from collections.abc import Iterator

from generator.preflight.model import Check, Credentials, Options, Target

__all__ = ["check_registry"]

CHUNK = 1024 * 1024
TLS_FIX = (
    "serve the registry over TLS with a certificate for {host} from a CA the runner trusts "
    "(add the CA to the runner's store: /usr/local/share/ca-certificates/ and "
    "update-ca-certificates)"
)
UNREACHABLE_FIX = (
    "start the registry (or the proxy in front of it) and check the registry answer "
    "({host}) names where the runner reaches it"
)
UPSTREAM_FIX = "start the registry behind the proxy and check the proxy's upstream address"
CREDS_FIX = (
    "set the REGISTRY_CREDS secret to user:token of a user that may push to {repo} "
    "(Gitea: an access token with the write:package scope)"
)
BODY_FIX = (
    "raise the reverse proxy's request body limit for the registry: nginx "
    "`client_max_body_size 0;` in its server block (Nginx Proxy Manager: the proxy host's "
    "Advanced tab, `client_max_body_size 0;`), then reload the proxy"
)


class _Refused(Exception):
    """A request got an HTTP status that ends the checks; carries the status."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}")
        self.status = status


class _Session:
    """HTTPS requests to one registry, logged in with Basic or a Bearer token."""

    def __init__(self, host: str, creds: str, repository: str, timeout: float) -> None:
        self.host, self.creds, self.repository, self.timeout = host, creds, repository, timeout
        self.context = ssl.create_default_context()
        self.authorization = ""

    def connect(self) -> http.client.HTTPSConnection:
        connection = http.client.HTTPSConnection(
            self.host, timeout=self.timeout, context=self.context
        )
        connection.connect()
        return connection

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = self.connect()
        try:
            sent = {"Authorization": self.authorization} if self.authorization else {}
            connection.request(method, path, headers={**sent, **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def login(self) -> int:
        """GET /v2/ and answer its challenge (Basic, or a Bearer token for push)."""
        status, headers, _ = self.request("GET", "/v2/")
        if status != 401:
            return status
        challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
        basic = "Basic " + base64.b64encode(self.creds.encode()).decode()
        if challenge.lower().startswith("bearer"):
            self.authorization = "Bearer " + self._token(challenge, basic)
        else:
            self.authorization = basic
        status, _, _ = self.request("GET", "/v2/")
        return status

    def _token(self, challenge: str, basic: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = urllib.parse.urlsplit(params.pop("realm", ""))
        query = urllib.parse.urlencode(
            {**params, "scope": f"repository:{self.repository}:push,pull"}
        )
        connection = http.client.HTTPSConnection(
            realm.netloc, timeout=self.timeout, context=self.context
        )
        try:
            connection.request("GET", f"{realm.path}?{query}", headers={"Authorization": basic})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise _Refused(response.status, "the token endpoint refused the credentials")
        data = json.loads(body)
        return str(data.get("token") or data.get("access_token") or "")


def _blob(size: int) -> tuple[str, Iterator[bytes]]:
    block = os.urandom(min(size, CHUNK))
    digest = hashlib.sha256()
    for start in range(0, size, CHUNK):
        digest.update(block[: min(CHUNK, size - start)])

    def chunks() -> Iterator[bytes]:
        for start in range(0, size, CHUNK):
            yield block[: min(CHUNK, size - start)]

    return "sha256:" + digest.hexdigest(), chunks()


def _put(session: _Session, path: str, size: int, chunks: Iterator[bytes]) -> int:
    """PUT the blob; stop sending as soon as the server answers early (a 413)."""
    connection = session.connect()
    try:
        connection.putrequest("PUT", path, skip_accept_encoding=True)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(size))
        if session.authorization:
            connection.putheader("Authorization", session.authorization)
        connection.endheaders()
        sock = connection.sock
        assert sock is not None
        try:
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered before reading the whole body
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return connection.getresponse().status
    finally:
        connection.close()


def _size(size: int) -> str:
    return f"{size / CHUNK:g} MiB" if size >= CHUNK else f"{size} bytes"


def _upload(session: _Session, target: Target, size: int) -> Check:
    name = target.repository
    status, headers, _ = session.request("POST", f"/v2/{name}/blobs/uploads/")
    if status != 202:
        fix = CREDS_FIX.format(repo=target.image) if status in (401, 403) else UPSTREAM_FIX
        return Check("registry.upload", "fail", f"starting an upload: HTTP {status}", fix)
    location = next((v for k, v in headers.items() if k.lower() == "location"), "")
    if not location:
        return Check("registry.upload", "fail", "the upload got no Location header", UPSTREAM_FIX)
    url = urllib.parse.urlsplit(urllib.parse.urljoin(f"https://{session.host}/", location))
    digest, chunks = _blob(size)
    query = f"{url.query}&" if url.query else ""
    status = _put(session, f"{url.path}?{query}digest={digest}", size, chunks)
    if status == 413:
        detail = f"the proxy refused a {_size(size)} upload with HTTP 413 (its request body limit)"
        return Check("registry.upload", "fail", detail, BODY_FIX)
    if status != 201:
        return Check(
            "registry.upload", "fail", f"a {_size(size)} upload: HTTP {status}", UPSTREAM_FIX
        )
    status, _, _ = session.request("DELETE", f"/v2/{name}/blobs/{digest}")
    note = "" if status == 202 else " (the registry does not delete blobs; garbage collection will)"
    return Check("registry.upload", "ok", f"a {_size(size)} upload was accepted and removed{note}")


def check_registry(target: Target, creds: Credentials, options: Options) -> list[Check]:
    """TLS to the registry, the login, then the test upload."""
    host = target.registry
    session = _Session(host, creds.registry_creds, target.repository, options.timeout)
    try:
        session.connect().close()
    except ssl.SSLCertVerificationError as error:
        detail = f"TLS to {host} is not trusted: {error.verify_message}"
        return [Check("registry.tls", "fail", detail, TLS_FIX.format(host=host)), *_skipped()]
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        detail = f"cannot reach {host} over TLS: {reason}"
        return [
            Check("registry.tls", "fail", detail, UNREACHABLE_FIX.format(host=host)),
            *_skipped(),
        ]
    checks = [Check("registry.tls", "ok", f"{host} answers over trusted TLS")]
    if ":" not in creds.registry_creds:
        fix = CREDS_FIX.format(repo=target.image)
        return [
            *checks,
            Check("registry.login", "fail", "REGISTRY_CREDS is not set to user:token", fix),
            *_skipped()[1:],
        ]
    try:
        status = session.login()
    except _Refused as refused:
        status = refused.status
    except (OSError, ssl.SSLError, ValueError, http.client.HTTPException) as error:
        detail = f"{host}: {type(error).__name__}: {error}"
        checks.append(Check("registry.login", "fail", detail, UPSTREAM_FIX))
        return [*checks, *_skipped()[1:]]
    if status in (401, 403):
        detail = f"{host} refuses the REGISTRY_CREDS credentials (HTTP {status})"
        return [
            *checks,
            Check("registry.login", "fail", detail, CREDS_FIX.format(repo=target.image)),
            *_skipped()[1:],
        ]
    if status in (502, 503, 504):
        detail = f"the proxy at {host} answers, the registry behind it does not (HTTP {status})"
        return [*checks, Check("registry.login", "fail", detail, UPSTREAM_FIX), *_skipped()[1:]]
    if status != 200:
        detail = f"{host}/v2/ answers HTTP {status}, not a registry's 200"
        return [*checks, Check("registry.login", "fail", detail, UPSTREAM_FIX), *_skipped()[1:]]
    checks.append(Check("registry.login", "ok", f"REGISTRY_CREDS log in to {host}"))
    try:
        checks.append(_upload(session, target, options.upload_size))
    except (OSError, ssl.SSLError, http.client.HTTPException) as error:
        detail = f"the {_size(options.upload_size)} upload broke off: {error}"
        checks.append(Check("registry.upload", "fail", detail, BODY_FIX))
    return checks


def _skipped() -> list[Check]:
    return [
        Check("registry.login", "skip", "needs the check above"),
        Check("registry.upload", "skip", "needs the checks above"),
    ]
