"""The runner of documentation pages: what it runs, what it skips, and that failures fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.doc_runner import Directive, Fence, Page, Shell, ShellError, parse

PAGE = """\
# A page

<!-- test: before -->
```console
$ kubectl apply -f x.yaml
```

```sh
cd sub
GREETING=hello
```

```yaml title="conf/app.yaml"
a: 1
```

```sh
printf '%s from %s\\n' "$GREETING" "$(basename "$PWD")"
```
"""


def _shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path, dict(os.environ), tmp_path / "blocks")


def test_fences_and_directives_come_out_in_page_order() -> None:
    tokens = parse(PAGE)
    assert tokens == [
        Directive("before"),
        Fence("console", None, "$ kubectl apply -f x.yaml\n"),
        Fence("sh", None, "cd sub\nGREETING=hello\n"),
        Fence("yaml", "conf/app.yaml", "a: 1\n"),
        Fence("sh", None, 'printf \'%s from %s\\n\' "$GREETING" "$(basename "$PWD")"\n'),
    ]


def test_sh_blocks_share_one_session_and_directives_run_in_between(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    seen: list[str] = []
    page = Page(
        parse(PAGE),
        _shell(tmp_path),
        {"before": lambda p, i: seen.append(p.next_fence(i).lang)},
    )
    page.run()
    page.shell.close()
    assert seen == ["console"]
    assert page.ran == ["<before>", "sh", "sh"]
    assert page.outputs == ["", "hello from sub"]


def test_a_failing_command_ends_the_session_and_shows_the_block(tmp_path: Path) -> None:
    shell = _shell(tmp_path)
    shell.run("echo one")
    with pytest.raises(ShellError, match=r"(?s)block failed \(exit 3\):\nfalse_step\(\).*oops"):
        shell.run("false_step() { echo oops; return 3; }\nfalse_step\necho never")
    assert "never" not in "".join(shell.transcript)


def test_a_failure_inside_a_pipe_fails_too(tmp_path: Path) -> None:
    shell = _shell(tmp_path)
    with pytest.raises(ShellError, match="exit 1"):
        shell.run("false | cat")


def test_a_page_with_a_directive_nobody_handles_is_refused(tmp_path: Path) -> None:
    page = Page(parse(PAGE), _shell(tmp_path), {})
    with pytest.raises(AssertionError, match=r"no handler for directives \['before'\]"):
        page.run()
    page.shell.close()
