"""The one exception tree of gitops-onboard.

Library code raises these and never prints or exits; `exit_code` maps them to exit codes
and `generator.cli.main`, the one front door (the Copier task and migration included), is
the one place that uses it: `InputError` → 2 (bad input, nothing written), everything
else → 1.
Every message is redacted: an age private key in an answer or a tool's output never shows.
"""

from __future__ import annotations

from generator.redaction import redact

__all__ = [
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "InputError",
    "OnboardError",
    "ToolError",
    "ToolMissingError",
    "exit_code",
    "redact",
]

EXIT_FAILURE = 1  # a tool failed, a check found something
EXIT_USAGE = 2  # bad input: nothing was written


class OnboardError(Exception):
    """Base class of every error gitops-onboard raises on purpose."""

    def __str__(self) -> str:
        return redact(super().__str__())


class InputError(OnboardError):
    """An answer, flag or file that breaks a rule; the message names the field and the rule."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{field}: {rule}{shown}")


class ToolError(OnboardError):
    """An external tool exited with an unexpected code; carries the tool's own stderr."""

    def __init__(self, cmd: list[str], returncode: int, stderr: str, hint: str = "") -> None:
        self.cmd = cmd
        self.returncode = returncode
        self.stderr = stderr
        self.hint = hint
        detail = _last_meaningful_line(stderr) or "no output on stderr"
        message = f"{cmd[0]} failed (exit {returncode}): {detail}"
        if hint:
            message += f" — {hint}"
        super().__init__(message)


class ToolMissingError(OnboardError):
    """A required binary is not on PATH."""

    def __init__(self, tool: str, install_hint: str) -> None:
        self.tool = tool
        super().__init__(f"{tool}: not found on PATH — {install_hint}")


def exit_code(error: OnboardError) -> int:
    """The exit code of a command that stopped with `error`."""
    return EXIT_USAGE if isinstance(error, InputError) else EXIT_FAILURE


def _last_meaningful_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""
