"""Run the `sh` blocks of a documentation page, in order, in one bash session.

A page is a sequence of tokens: fenced code blocks and test directives.

- A ```` ```sh ```` block is run. Every other fence (`console`, `text`, `yaml`, ...) is shown
  to the reader only; `console` is for commands that happen elsewhere (on a cluster, in a web
  page) and are never run.
- `<!-- test: NAME -->` (an HTML comment: invisible on the site) calls the page test's
  handler NAME at that point, for what happens outside the reader's machine (Flux bootstrap,
  a CI runner, Gitea's settings). A handler may read the fences that follow it.

All blocks run in one `bash --noprofile --norc` process with `set -euo pipefail`, so `cd` and
variables carry over from block to block as they do for a reader who pastes them into one
terminal. A failing command ends the session, and the test fails showing the block and its
output. Each block's stdin is `/dev/null`: nothing waits for a terminal.
"""

from __future__ import annotations

import queue
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = re.compile(
    r"^<!-- test: (?P<directive>[a-z][a-z0-9-]*) -->[ \t]*$"
    r"|^```(?P<info>[^`\n]*)\n(?P<body>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
TITLE = re.compile(r'title="([^"]+)"')


@dataclass(frozen=True)
class Fence:
    """A fenced code block: its language, its `title="..."` if any, and its text."""

    lang: str
    title: str | None
    text: str


@dataclass(frozen=True)
class Directive:
    """`<!-- test: NAME -->`: the page test does NAME here."""

    name: str


Token = Fence | Directive


def parse(markdown: str) -> list[Token]:
    """The fences and directives of a page, in page order."""
    tokens: list[Token] = []
    for match in TOKEN.finditer(markdown):
        if match["directive"]:
            tokens.append(Directive(match["directive"]))
            continue
        info = match["info"].strip()
        lang = info.split()[0] if info else ""
        title = TITLE.search(info)
        tokens.append(Fence(lang, title.group(1) if title else None, match["body"]))
    return tokens


class ShellError(AssertionError):
    """A block failed: the session ended."""


@dataclass
class Shell:
    """One bash session that runs blocks like a reader's terminal."""

    cwd: Path
    env: dict[str, str]
    scripts: Path
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scripts.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.run("set -euo pipefail")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, script: str, timeout: float = 120) -> str:
        """Run one block in the session; return its output (stdout and stderr)."""
        self._count += 1
        path = self.scripts / f"block-{self._count:02d}.sh"
        path.write_text(script)
        marker = f"__block_{self._count}_done__"
        assert self._proc.stdin is not None
        self._proc.stdin.write(
            f"source {shlex.quote(str(path))} </dev/null\nprintf '\\n%s\\n' {marker}\n"
        )
        self._proc.stdin.flush()
        output: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise ShellError(f"block timed out after {timeout} s:\n{script}") from None
            if line is None:
                code = self._proc.wait()
                shown = "".join(output)
                self.transcript.append(shown)
                raise ShellError(f"block failed (exit {code}):\n{script}\n--- output ---\n{shown}")
            if line.rstrip("\n") == marker:
                break
            output.append(line)
        text = "".join(output).rstrip("\n")  # with the newline printed before the marker
        self.transcript.append(text)
        return text

    def pwd(self) -> Path:
        """The session's current folder."""
        return Path(self.run("pwd").strip().splitlines()[-1])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


Handler = Callable[["Page", int], None]


@dataclass
class Page:
    """A page being run: its tokens, the session, and the handlers of its directives."""

    tokens: list[Token]
    shell: Shell
    handlers: dict[str, Handler]
    ran: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def next_fence(self, index: int, lang: str | None = None) -> Fence:
        """The first fence after token `index` (of language `lang`, if given)."""
        for token in self.tokens[index + 1 :]:
            if isinstance(token, Fence) and (lang is None or token.lang == lang):
                return token
        raise AssertionError(f"no {lang or ''} fence after token {index}")

    def run(self) -> None:
        """Run every `sh` block and call every directive's handler, in page order."""
        unknown = {t.name for t in self.directives()} - set(self.handlers)
        assert not unknown, f"no handler for directives {sorted(unknown)}"
        for index, token in enumerate(self.tokens):
            if isinstance(token, Directive):
                self.handlers[token.name](self, index)
                self.ran.append(f"<{token.name}>")
            elif token.lang == "sh":
                self.outputs.append(self.shell.run(token.text))
                self.ran.append("sh")

    def directives(self) -> Iterator[Directive]:
        return (t for t in self.tokens if isinstance(t, Directive))

    def fences(self, lang: str) -> list[Fence]:
        return [t for t in self.tokens if isinstance(t, Fence) and t.lang == lang]
