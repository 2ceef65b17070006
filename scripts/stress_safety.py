"""Stress run: concurrent writers and `kill -9` at any moment, at full count.

The adversarial tests (tests/adversarial/test_concurrency.py, test_kill.py) run a few rounds;
this runs the counts the promise is made for and prints the figures:

  concurrent `gitops-onboard onboard`   --rounds2 rounds of 2 and --rounds4 rounds of 4 at
                                        once into one infra repo: cluster entries lost
  concurrent `copier copy --trust`      --copier-rounds rounds of 2: cluster entries lost
  concurrent `secrets set`              --pairs pairs on one service: values lost
  kill -9                               --kills per path (gitops-onboard onboard, copier copy)
                                        at delays spread over the whole run, over its writing
                                        phase and over the first 30 ms of writing its plan;
                                        each state is as-before, fully-onboarded, detected
                                        (then repaired with the command offered) or UNREPORTED
  kill -9 of `gitops-onboard adopt`     --adopt-kills of a hand-written service holding a
                                        plaintext Secret, over its plan and the first 30 ms
                                        of its writes; as above, plus any file but the
                                        hand-written one that holds the secret value

Exit 1 when anything was lost, unreported or not repaired. Real tools throughout; a
throwaway HOME, git config and age key; nothing outside a temporary folder is touched.

    python scripts/stress_safety.py                 # 20x2, 6x4, 10 copier, 40 pairs, 2x60+30 kills
    python scripts/stress_safety.py --kills 10 --rounds2 3 --rounds4 1 --pairs 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from _bench import snapshot  # noqa: E402  (scripts/ is on sys.path when run as a script)

from generator.age import generate, write_key_file  # noqa: E402
from generator.cli import main as cli  # noqa: E402
from generator.onboard import init_infra  # noqa: E402
from tests.adversarial._adopt import LEDGER_SECRET as ADOPT_SECRET  # noqa: E402
from tests.adversarial._adopt import adopt_argv, hand_written, kill_adopt_round  # noqa: E402
from tests.adversarial._txn import (  # noqa: E402
    FIRST_FILE,
    GITOPS_ONBOARD,
    PLAN_WRITE,
    UNREPORTED,
    KillTally,
    decrypted_keys,
    fresh_copy,
    kill_round,
    onboarding_race,
    race,
    reference_onboarding,
)
from tests.helpers import commit_all, git, tree_bytes  # noqa: E402


def _hermetic(home: Path) -> None:
    home.mkdir()
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Stress\n\temail = stress@example.com\n[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    os.environ.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(config),
        GIT_CONFIG_NOSYSTEM="1",
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
    )
    for name in [n for n in os.environ if n.startswith("SOPS_")]:
        del os.environ[name]


def _pristine(tmp: Path, template: Path, key_path: Path) -> Path:
    pair = generate()
    write_key_file(key_path, pair.key_file_text)
    root = tmp / "pristine" / "infra"
    root.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root)
    init_infra(root, ["koala", "iguana"], str(template), extra={"age_recipients": [pair.public]})
    commit_all(root, "stamp infra")
    return root


def _onboard_races(pristine: Path, template: Path, tmp: Path, rounds: int, runs: int) -> int:
    lost_total = 0
    failed = 0
    started = time.monotonic()
    for index in range(rounds):
        services = [f"s{index}x{i}" for i in range(runs)]
        done, lost = onboarding_race(pristine, template, tmp / "race", services, plain_copier=False)
        failed += sum(run.returncode != 0 for run in done)
        lost_total += lost
    took = time.monotonic() - started
    print(
        f"onboard, {rounds} rounds x {runs} at once: {lost_total} cluster entries lost, "
        f"{failed} runs failed ({took:.0f} s)"
    )
    return lost_total + failed


def _copier_races(pristine: Path, template: Path, tmp: Path, rounds: int) -> int:
    lost_total = 0
    failed = 0
    started = time.monotonic()
    for index in range(rounds):
        done, lost = onboarding_race(
            pristine, template, tmp / "race", [f"a{index}", f"b{index}"], plain_copier=True
        )
        failed += sum(run.returncode != 0 for run in done)
        lost_total += lost
    took = time.monotonic() - started
    print(
        f"copier copy --trust, {rounds} rounds x 2 at once: {lost_total} cluster entries lost, "
        f"{failed} runs failed ({took:.0f} s)"
    )
    return lost_total + failed


def _secret_pairs(pristine: Path, template: Path, tmp: Path, pairs: int, key: Path) -> int:
    started = time.monotonic()
    os.environ["SOPS_AGE_KEY_FILE"] = str(key)  # setting a value needs the private key
    try:
        with fresh_copy(pristine, tmp / "secrets") as infra:
            args = ["--infra", str(infra), "--template", str(template)]
            web = ["--service", "web", "--clusters", "koala", "-d", "registry=r.example.com"]
            web += ["-d", "owner=o", "-d", "secret_keys=[API_KEY]"]
            with contextlib.redirect_stdout(io.StringIO()):
                if cli(["onboard", *args, *web]) != 0:
                    raise SystemExit("could not onboard the service for the secrets pairs")
            expected: dict[str, str] = {}
            failed = 0
            for pair in range(pairs):
                keys = [f"NEW_{pair}", "API_KEY"] if pair % 2 else [f"NEW_{pair}A", f"NEW_{pair}B"]
                values = [f"value-{pair}-{i}" for i in range(2)]
                argv = [GITOPS_ONBOARD, "secrets", "set", "web"]
                done = race([[*argv, k, "--infra", str(infra)] for k in keys], stdin=values)
                failed += sum(run.returncode != 0 for run in done)
                expected.update(zip(keys, values, strict=True))
            stored = decrypted_keys(infra, "web")
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]
    lost = sum(stored.get(k) != v for k, v in expected.items())
    took = time.monotonic() - started
    print(
        f"secrets set, {pairs} pairs at once: {lost} values lost, {failed} runs failed "
        f"({took:.0f} s)"
    )
    return lost + failed


def _kills(pristine: Path, template: Path, tmp: Path, count: int, plain_copier: bool) -> int:
    name = "copier copy --trust" if plain_copier else "gitops-onboard onboard"
    reference = reference_onboarding(pristine, template, tmp / "ref", plain_copier=plain_copier)
    # A third at delays spread over the whole run from its start; a third counted from
    # Copier's first file, spread over the writing phase; a third in the first 30 ms of
    # writing the plan (secrets, pull secret, registration).
    third = count // 3
    moments = [(delay, "") for delay in reference.spread(count - 2 * third)]
    moments += [(delay, FIRST_FILE) for delay in reference.spread_writing(third)]
    moments += [(0.03 * i / max(third, 1), PLAN_WRITE[plain_copier]) for i in range(third)]
    tally = KillTally()
    problems = []
    started = time.monotonic()
    for index, (delay, after) in enumerate(moments):
        outcome = kill_round(
            pristine,
            template,
            tmp / "kill",
            reference.tree,
            plain_copier=plain_copier,
            delay=delay,
            prefer="resume" if index % 2 else "offboard",
            rerun_as_before=index % 4 == 0,
            after=after,
        )
        tally.add(outcome.state, outcome.next_command or outcome.check_says)
        if outcome.repair_problem:
            where = f"after {after} appeared" if after else "after the start"
            problems.append(f"  {delay:.3f}s {where} ({outcome.state}): {outcome.repair_problem}")
    took = time.monotonic() - started
    print(
        f"kill -9 of {name} (a run takes {reference.took:.1f} s, first file at "
        f"{reference.first_write:.1f} s): {tally.summary()}; {len(problems)} repairs failed "
        f"({took:.0f} s)"
    )
    for line in tally.examples[:4]:
        print(f"  e.g. {line}")
    for line in problems:
        print(line)
    return tally.states.get(UNREPORTED, 0) + len(problems)


def _adopt_kills(pristine: Path, tmp: Path, count: int) -> int:
    base = tmp / "adopt-pristine" / "infra"
    shutil.copytree(pristine, base, symlinks=True)
    hand_written(base, "web", extra=ADOPT_SECRET)
    with fresh_copy(base, tmp / "adopt-ref") as infra:
        started = time.monotonic()
        done = subprocess.run(adopt_argv(infra), capture_output=True, text=True, check=False)
        run_took = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        reference = tree_bytes(infra)
    third = count // 3
    moments = [(run_took * (i + 0.5) / third, True) for i in range(third)]
    moments += [(0.03 * i / max(count - third, 1), False) for i in range(count - third)]
    tally = KillTally()
    problems = []
    started = time.monotonic()
    for index, (delay, from_start) in enumerate(moments):
        prefer = "rollback" if index % 2 else "resume"
        state, found = kill_adopt_round(
            base, tmp / "adopt-kill", reference, delay, prefer, from_start=from_start
        )
        tally.add(state, "; ".join(found))
        where = "after the start" if from_start else "after the first write"
        problems += [f"  {delay:.3f}s {where} ({state}): {problem}" for problem in found]
    took = time.monotonic() - started
    summary = f"{tally.kills} kills: " + ", ".join(
        f"{n} {state}" for state, n in sorted(tally.states.items())
    )
    print(
        f"kill -9 of gitops-onboard adopt (a run takes {run_took:.1f} s): {summary}; "
        f"{len(problems)} problems ({took:.0f} s)"
    )
    for line in problems:
        print(line)
    return tally.states.get(UNREPORTED, 0) + len(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds2", type=int, default=20, help="rounds of 2 onboardings")
    parser.add_argument("--rounds4", type=int, default=6, help="rounds of 4 onboardings")
    parser.add_argument("--copier-rounds", type=int, default=10, help="rounds of 2 copier copies")
    parser.add_argument("--pairs", type=int, default=40, help="pairs of secrets set")
    parser.add_argument("--kills", type=int, default=60, help="kills per path")
    parser.add_argument("--adopt-kills", type=int, default=30, help="kills of adopt")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-stress.") as scratch:
        tmp = Path(scratch)
        _hermetic(tmp / "home")
        template = snapshot(tmp)
        key = tmp / "keys.txt"
        pristine = _pristine(tmp, template, key)
        bad = 0
        bad += _onboard_races(pristine, template, tmp, args.rounds2, 2)
        bad += _onboard_races(pristine, template, tmp, args.rounds4, 4)
        bad += _copier_races(pristine, template, tmp, args.copier_rounds)
        bad += _secret_pairs(pristine, template, tmp, args.pairs, key)
        bad += _kills(pristine, template, tmp, args.kills, plain_copier=False)
        bad += _kills(pristine, template, tmp, args.kills, plain_copier=True)
        bad += _adopt_kills(pristine, tmp, args.adopt_kills)
    print("stress: all safe" if bad == 0 else f"stress: {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
