# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: plain-copier bytecode demo test lint typecheck pytest test-unit test-story test-adversarial test-file-seconds preflight test-tools bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs,infra]'
	touch $@

# checkov in a venv of its own: it pins packaging<24, which would hold the test venv back.
CHECKOV_VENV ?= .venv-checkov
$(CHECKOV_VENV)/bin/checkov: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --group checkov
	touch $@

# Plain Copier (tests/unit/test_copier_contract.py): Copier alone, and Copier with
# gitops-onboard injected, in .venv-copier/. Rebuilt when pyproject.toml's requirements
# change, reused otherwise; the tests build them on first use when make did not.
plain-copier: $(BIN)/.installed
	$(BIN)/python -m tests.plain_copier

preflight:
	@command -v git >/dev/null 2>&1 || { echo "error: git is required (install git)" >&2; exit 1; }
	@command -v kubectl >/dev/null 2>&1 || { echo "error: kubectl is required for 'kubectl kustomize' (install kubectl)" >&2; exit 1; }

# What only the tests need beyond preflight: the real registry, nginx, skopeo and sshd of
# the deploy harness (installed as root, else one line naming the packages).
test-tools: preflight
	@scripts/ensure_debian_packages.sh

demo: $(BIN)/.installed preflight
	$(BIN)/python scripts/demo.py

lint: $(BIN)/.installed
	$(BIN)/ruff check generator gitops_onboard tests scripts
	$(BIN)/ruff format --check generator gitops_onboard tests scripts

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Property tests (hypothesis) take their example counts from a profile that
# tests/conftest.py loads: HYPOTHESIS_PROFILE when set, else "ci" when CI is set (the CI
# runner runs `make test` with CI=true): 300 derandomized examples per property, the same
# inputs on every run. Otherwise "dev": 150 random ones. `make pytest HYPOTHESIS_PROFILE=ci`
# reproduces a CI run; HYPOTHESIS_PROFILE=thorough tries 2000 random ones.
# One worker per core. `make test PYTEST_WORKERS=3` runs one more, to fill the suite's waits
# on the processes, servers and retry pauses it starts: on one 2-core machine that took 6-7%
# less time in two of three back-to-back pairs of runs, on another about 20% more. A test file
# stays in one worker so its module fixtures are built once, and files are dealt out
# heaviest first (tests/conftest.py, tests/file_seconds.json).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# The tests' temp folders (their repos, checkouts, servers) in memory where the machine has
# a tmpfs: the suite spends much of its time creating and deleting small files.
TEST_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp})
# The project's modules compiled before the tests run: where PYTHONDONTWRITEBYTECODE is set,
# each of the suite's hundreds of `gitops-onboard` and Copier task processes would compile
# them from source again (about 40 ms of each one's start).
bytecode: $(BIN)/.installed
	$(BIN)/python -m compileall -q generator gitops_onboard tests scripts

pytest: $(BIN)/.installed $(CHECKOV_VENV)/bin/checkov plain-copier test-tools bytecode
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(PYTEST_PARALLEL)

test: lint typecheck pytest

# One tier at a time (tests/unit, tests/story, tests/adversarial), in parallel as above.
test-unit test-story test-adversarial: test-%: $(BIN)/.installed $(CHECKOV_VENV)/bin/checkov plain-copier test-tools bytecode
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(PYTEST_PARALLEL) tests/$*

# Runs the whole suite and records each file's seconds, for the order above.
test-file-seconds: $(BIN)/.installed $(CHECKOV_VENV)/bin/checkov plain-copier test-tools bytecode
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest $(PYTEST_PARALLEL) --record-file-seconds

bench: $(BIN)/.installed preflight
	$(BIN)/python scripts/bench_onboard.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-copier build .pytest_cache .mypy_cache .ruff_cache
