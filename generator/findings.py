"""One finding: something in one file that is not as it should be, and the fix.

`check` reports them for every rule it runs; `secrets audit` reports the findings of its
rule (`check="secret"`), read there as `file` and `problem`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding"]


@dataclass(frozen=True)
class Finding:
    """One thing that is not current or not safe.

    `check` names the rule (source, answers, conflict, interrupted, drift, stale, render,
    cluster, missing-path, unstamped, build, schema, secret, flux); `path` is relative to the
    checked folder; `fix` says what to run or edit when it is specific to the problem; `diff`
    is a unified diff for drift (template on the left, disk on the right).
    """

    check: str
    path: str
    message: str
    fix: str = ""
    diff: str = ""

    @property
    def file(self) -> str:
        """The file the finding is about (the audit's word for `path`)."""
        return self.path

    @property
    def problem(self) -> str:
        """What is wrong (the audit's word for `message`)."""
        return self.message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f" (fix: {self.fix})" if self.fix else "")
