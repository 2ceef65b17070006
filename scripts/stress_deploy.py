"""Stress: many services deploying at once into one infra repo, round after round.

Stamps a throwaway infra repo with --services services (clusters koala and iguana), one app
repo per service, and serves the infra repo over SSH on a free port of 127.0.0.1. Each round
commits once to every app repo and runs every rendered deploy job at the same time (the
workflow harness of the tests: real bash, git, awk and ssh; buildctl and skopeo stood in),
with the retry settings the template ships. Prints landed/total, lost deploys, whether the
history stayed linear, clusters that no longer build, and the wall time; exits 1 unless every
deploy landed, none was lost, history is linear and every cluster builds.

    .venv/bin/python scripts/stress_deploy.py --services 10 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from _bench import snapshot  # noqa: E402  (scripts/ is on sys.path when run as a script)

from generator.age import generate  # noqa: E402
from generator.onboard import init_infra  # noqa: E402
from tests.cd_burst import SERVICES, burst_world, run_bursts  # noqa: E402
from tests.helpers import commit_all, git  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10, help="deploys at once (1-10)")
    parser.add_argument("--rounds", type=int, default=5, help="bursts, one after the other")
    args = parser.parse_args()
    if not 1 <= args.services <= len(SERVICES):
        parser.error(f"--services must be 1 to {len(SERVICES)}")
    with tempfile.TemporaryDirectory(prefix="stress-deploy-") as name:
        tmp = Path(name)
        home = tmp / "home"
        home.mkdir()
        gitconfig = home / ".gitconfig"
        gitconfig.write_text(
            "[user]\n\tname = Stress\n\temail = stress@example.com\n"
            "[init]\n\tdefaultBranch = main\n"
        )
        os.environ.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1")
        template = snapshot(tmp)
        infra = tmp / "stamped"
        infra.mkdir()
        git("init", "-q", "-b", "main", cwd=infra)
        init_infra(
            infra, ["koala", "iguana"], str(template), extra={"age_recipients": [generate().public]}
        )
        commit_all(infra, "stamp infra")
        print(f"{args.services} services, {args.rounds} rounds: setting up", flush=True)
        with burst_world(tmp / "world", template, infra, SERVICES[: args.services]) as world:
            tally = run_bursts(world, args.rounds, lambda line: print(line, flush=True))
        for failure in tally.failures:
            print(f"failed: {failure}")
        for lost in tally.lost:
            print(f"lost: {lost}")
        for cluster in tally.unbuildable:
            print(f"does not build: {cluster}")
        print(tally.line())
        ok = (
            tally.landed == tally.total
            and not tally.lost
            and tally.linear
            and not tally.unbuildable
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
