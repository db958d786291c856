# The two set-up commands of the README: `make install` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-chaos test-docker test-compose lint bench

install:
	@command -v bwrap >/dev/null && command -v git >/dev/null && command -v node >/dev/null && command -v chromium >/dev/null && command -v go >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq git bubblewrap nodejs chromium golang-go; } || \
	  { sudo apt-get update -qq && sudo apt-get install -y -qq git bubblewrap nodejs chromium golang-go; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'

lint:
	$(BIN)/ruff check bot webhooks tests benchmarks
	$(BIN)/ruff format --check bot webhooks tests benchmarks
	$(BIN)/mypy bot webhooks
	$(BIN)/mypy --strict tests/helpers/doubles.py tests/unit/run/test_ports.py  # doubles = ports

test: lint
	$(BIN)/python -m pytest -q

# The chaos test (tests/e2e/test_chaos.py, both variants) twice more, each pass with a kill schedule
# of its own: `make test` ran it once (seed 14); CI shows three passes in a row (issue 14).
CHAOS_SEEDS ?= 15 16
test-chaos:
	@for seed in $(CHAOS_SEEDS); do \
	  echo "chaos pass with CHAOS_SEED=$$seed"; \
	  CHAOS_SEED=$$seed $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/e2e/test_chaos.py || exit 1; \
	done

# The whole pipeline (`draftsmith run`'s path, the GitHub flow, a Go module) on the Docker sandbox;
# needs an engine and DRAFTSMITH_DOCKER_IMAGE (scripts/build_sandbox_image.sh). `make test` already runs
# the hostile suite and the setup-network tests on both backends.
test-docker:
	DRAFTSMITH_SANDBOX=docker $(BIN)/python -m pytest -q tests/e2e/test_pipeline_local.py tests/e2e/test_github_flow.py \
	  tests/e2e/test_pipeline_go.py

bench:
	$(BIN)/python benchmarks/webhook_intake.py

# compose.yaml for real (tests/e2e/test_compose.py, also part of `make test`): builds the bot image
# and a PostgreSQL/Redis image from Debian packages (cached by tag), brings the stack up, a labelled
# issue to a draft PR, a worker container SIGKILLed mid-run. Needs dockerd and Docker Compose v2
# (.ci/run installs both).
test-compose:
	$(BIN)/python -m pytest -q -s tests/e2e/test_compose.py
