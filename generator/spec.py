"""Typed, frozen models built once from Copier answers.

`ServiceSpec.from_answers` and `InfraSpec.from_answers` apply every field rule of
`generator.rules` plus the rules that span fields, and raise `InputError` naming the field,
the rule and the value. Everything downstream takes these models, never raw dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from generator import cluster_overrides, giturl, rules
from generator.cluster_overrides import ClusterOverride
from generator.errors import InputError
from generator.production import Extras

__all__ = ["AppSpec", "InfraSpec", "ServiceSpec", "Volume"]

VolumeType = Literal["none", "hostPath", "pvc"]


_NOT_ECHOED = frozenset({"env", "extra_ports", "secret_keys"})


def _field(answers: Mapping[str, Any], name: str, rule: str, default: Any = None) -> Any:
    value = answers.get(name, default)
    if problem := rules.check(value, rule):
        # Mapping rules name the offending entry themselves; echoing the whole value would be noise.
        raise InputError(name, problem, None if name in _NOT_ECHOED else value)
    return value


@dataclass(frozen=True)
class Volume:
    """The one state volume a service may mount."""

    type: VolumeType
    mount_path: str
    host_path: str = ""
    init_image: str = ""
    size: str = ""
    storage_class: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    """A service as onboarded into an infra repo (`kind=service`)."""

    service: str
    namespace: str
    registry: str
    owner: str
    port: int
    replicas: int
    env: tuple[tuple[str, str], ...]
    secret_keys: tuple[str, ...]
    clusters: tuple[str, ...]
    volume: Volume | None = None
    node_hostname: str = ""
    probe_path: str = ""
    image_pull_secret: str = ""
    run_as_user: int = 10001
    extra_ports: tuple[tuple[str, int], ...] = ()
    extras: Extras = field(default_factory=Extras)
    image_tag: str = "latest"
    overrides: tuple[tuple[str, ClusterOverride], ...] = ()

    @property
    def image(self) -> str:
        """The image repository, without a tag: `<registry>/<owner>/<service>`."""
        return f"{self.registry}/{self.owner}/{self.service}"

    def override(self, cluster: str) -> ClusterOverride:
        """What differs on `cluster` (nothing when the answers name no override for it)."""
        return dict(self.overrides).get(cluster, ClusterOverride())

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> ServiceSpec:
        """Validate Copier answers for `kind=service` and build the spec."""
        service = _field(answers, "service", "dns1035_label")
        namespace = _field(answers, "namespace", "dns1123_label", service)
        env = _field(answers, "env", "env", {}) or {}
        secret_keys = _field(answers, "secret_keys", "env_names", []) or []
        for name in secret_keys:
            if name in env:
                raise InputError(
                    "secret_keys", f"{name} is also in env; a name is either plain or secret"
                )
        extra_ports = _field(answers, "extra_ports", "ports_map", {}) or {}
        port = _field(answers, "port", "port", 8080)
        for name in ("cpu_request", "memory_request", "cpu_limit", "memory_limit"):
            _field(answers, name, "quantity", "")
        image_tag = _field(answers, "image_tag", "image_tag", "latest")
        if "http" in extra_ports:
            raise InputError("extra_ports", "'http' is the name of the main port", "http")
        if port in extra_ports.values():
            raise InputError("extra_ports", f"{port} is already the main port", port)
        return cls(
            service=service,
            namespace=namespace,
            registry=_field(answers, "registry", "registry"),
            owner=_field(answers, "owner", "owner"),
            port=port,
            replicas=_field(answers, "replicas", "replicas", 1),
            env=tuple((str(k), str(v)) for k, v in env.items()),
            secret_keys=tuple(secret_keys),
            clusters=tuple(_field(answers, "clusters", "cluster_list")),
            volume=_volume(answers),
            node_hostname=_field(answers, "node_hostname", "label_value", "") or "",
            probe_path=_field(answers, "probe_path", "http_path", "") or "",
            image_pull_secret=_field(
                answers, "image_pull_secret", "secret_name", "registry-credentials"
            )
            or "",
            run_as_user=_field(answers, "run_as_user", "user_id", 10001),
            extra_ports=tuple((str(k), int(v)) for k, v in extra_ports.items()),
            extras=Extras.from_answers(answers),
            image_tag=image_tag,
            overrides=cluster_overrides.parse(answers),
        )


def _volume(answers: Mapping[str, Any]) -> Volume | None:
    kind = answers.get("volume_type", "none") or "none"
    if kind == "none":
        return None
    if kind not in ("hostPath", "pvc"):
        raise InputError("volume_type", "must be one of none, hostPath, pvc", kind)
    mount_path = _field(answers, "volume_mount_path", "absolute_path", "/data")
    if kind == "hostPath":
        default = f"/var/lib/{answers.get('service', '')}"
        host_path = _field(answers, "volume_host_path", "absolute_path", default)
        init_image = ""
        if answers.get("run_as_user", 10001) != 0:
            init_image = _field(answers, "volume_init_image", "image_ref", "busybox:1.37")
        return Volume("hostPath", mount_path, host_path=host_path, init_image=init_image)
    size = _field(answers, "volume_size", "quantity", "1Gi")
    if not size:
        raise InputError("volume_size", "a PVC needs a size such as 1Gi", size)
    storage_class = _field(answers, "volume_storage_class", "storage_class", "") or ""
    return Volume("pvc", mount_path, size=size, storage_class=storage_class)


@dataclass(frozen=True)
class InfraSpec:
    """An infra repo root (`kind=infra`)."""

    clusters: tuple[str, ...]
    age_recipients: tuple[str, ...] = ()

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> InfraSpec:
        """Validate Copier answers for `kind=infra` and build the spec."""
        recipients = answers.get("age_recipients")
        # The value is not echoed: a private key pasted by mistake must not reach a log.
        if problem := rules.check(recipients, "age_recipients"):
            raise InputError("age_recipients", problem)
        return cls(
            clusters=tuple(_field(answers, "clusters", "cluster_list")),
            age_recipients=tuple(str(r) for r in recipients or ()),
        )


@dataclass(frozen=True)
class AppSpec:
    """An app repo (`kind=app`): its image build and its CD workflow.

    Built from a complete set of answers (an answers file, or Copier's resolved answers),
    so every default has already been applied by `copier.yml`.
    """

    service: str
    registry: str
    owner: str
    port: int
    env: tuple[tuple[str, str], ...]
    language: str
    language_version: str
    builder_image: str
    builder_tag: str
    runtime_image: str
    runtime_tag: str
    runtime_setup: tuple[str, ...]
    entrypoint: tuple[str, ...]
    state_dir: str
    test_command: str
    infra_repo: giturl.GitUrl
    infra_branch: str
    infra_ssh_host: str
    infra_ssh_port: int
    go_package: str = "."
    runtime_copy: tuple[str, ...] = ()
    deploy_cluster: str = ""

    @property
    def image(self) -> str:
        """The image repository, without a tag: `<registry>/<owner>/<service>`."""
        return f"{self.registry}/{self.owner}/{self.service}"

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> AppSpec:
        """Validate the answers of an app repo and build the spec."""
        runtime_image = _field(answers, "runtime_image", "image_repository")
        setup = _field(answers, "runtime_setup", "commands", []) or []
        if problem := rules.check([runtime_image, setup], "runtime_setup"):
            raise InputError("runtime_setup", problem, setup)
        infra_repo = _field(answers, "infra_repo", "infra_repo")
        url = giturl.parse(infra_repo)
        ssh_host = _field(answers, "infra_ssh_host", "ssh_host", url.host) or ""
        if url.is_ssh and not ssh_host:
            raise InputError("infra_ssh_host", "is required for an SSH infra_repo", ssh_host)
        for name, rule in (
            ("app_branch", "branch"),
            ("runner", "runner_label"),
            ("buildkit_host", "buildkit_host"),
            ("git_author_name", "display_name"),
            ("git_author_email", "email"),
            ("dockerignore_extra", "ignore_patterns"),
        ):
            _field(answers, name, rule)
        env = _field(answers, "env", "app_env", {}) or {}
        language = _field(answers, "language", "language")
        is_go = language == "go"
        return cls(
            service=_field(answers, "service", "dns1035_label"),
            registry=_field(answers, "registry", "registry"),
            owner=_field(answers, "owner", "owner"),
            port=_field(answers, "port", "port"),
            env=tuple((str(k), str(v)) for k, v in env.items()),
            language=language,
            language_version=_field(answers, "language_version", "version"),
            builder_image=_field(answers, "builder_image", "image_repository"),
            builder_tag=_field(answers, "builder_tag", "image_tag"),
            runtime_image=runtime_image,
            runtime_tag=_field(answers, "runtime_tag", "image_tag"),
            runtime_setup=tuple(setup),
            entrypoint=tuple(_field(answers, "entrypoint", "exec_form")),
            state_dir=_field(answers, "state_dir", "optional_absolute_path", "") or "",
            test_command=_field(answers, "test_command", "command"),
            infra_repo=url,
            infra_branch=_field(answers, "infra_branch", "branch"),
            infra_ssh_host=ssh_host,
            infra_ssh_port=_field(answers, "infra_ssh_port", "port", url.port or 22),
            go_package=_field(answers, "go_package", "go_package", ".") if is_go else ".",
            runtime_copy=tuple(
                (_field(answers, "runtime_copy", "relative_paths", []) or []) if is_go else ()
            ),
            deploy_cluster=_field(answers, "deploy_cluster", "optional_cluster", "") or "",
        )
