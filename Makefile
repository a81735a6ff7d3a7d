# Two commands on a fresh clone: `make dev` serves the API, `make test` checks everything.
# Every target bootstraps .venv from the pinned requirements first, so nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.ready
# SAM CLI pins boto3 and click at versions the dev environment does not use: it gets a venv of its own.
SAM_VENV  ?= .venv-sam
SAM_READY := $(SAM_VENV)/.ready
# checkov pins boto3 and networkx at versions the dev environment does not use: a venv of its own too.
CHECKOV_VENV  ?= .venv-checkov
CHECKOV_READY := $(CHECKOV_VENV)/.ready

.PHONY: dev test lint scan lock build-check view token invoke bench rotate import-hosted-threads clean

$(READY): requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt >&2
	@touch $@

$(SAM_READY): local/build/requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $< >&2
	@touch $@

$(CHECKOV_READY): local/build/requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $< >&2
	@touch $@

dev: $(READY)
	@$(BIN)/python -m local.emulator.dev

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml

# checkov's security checks over what SAM deploys; every finding fixed or suppressed with its reason.
scan: $(READY) $(CHECKOV_READY)
	@$(BIN)/python -m local.build.scan --checkov $(CHECKOV_VENV)/bin/checkov

# Every requirements.txt SAM builds, from the requirements.in files and constraints.txt (uv pip
# compile for Python 3.13 on Lambda arm64): run it after changing either.
lock: $(READY)
	@$(BIN)/python -m local.build.lock

# sam validate --lint (dev and prod), then sam build and each handler imported from its artifact
# with only its layers, as Lambda would (needs a python3.13: PATH or pyenv; CI=true insists on it).
build-check: $(READY) $(SAM_READY)
	@$(BIN)/python -m local.build.build_check --sam $(SAM_VENV)/bin/sam

# The task view MCP clients render (docs/mcp.md), built from layers/shared/views/tasks and its
# package-lock.json into the one HTML document McpFunction serves; commit the result. `make test`
# rebuilds it and fails if the committed one differs (needs Node.js 20+).
view:
	cd layers/shared/views/tasks && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# pytest's workers (pytest-xdist): the suite mostly waits on `make dev` stacks and stand-ins, so
# more workers than the two cores pay; each worker also imports and collects the whole suite.
TEST_WORKERS ?= 4

# Lint, then the whole suite with the least-privilege check's full form (every grant used), with
# the template scan and build-check (and SAM CLI's install, when due) beside it: the tests mostly
# wait, these mostly compute. Their report is printed after pytest's, and either failing fails
# `make test`. checkov's venv comes first: the scan's own tests run checkov.
test: lint $(CHECKOV_READY)
	@mkdir -p .local
	@$(MAKE) --no-print-directory scan build-check >.local/build-check.log 2>&1 & build=$$!; \
	trap 'kill $$build 2>/dev/null' INT TERM; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --least-privilege=full; tests=$$?; \
	wait $$build; built=$$?; cat .local/build-check.log; \
	if [ $$built -ne 0 ]; then echo "make scan or make build-check failed (their output is above)" >&2; fi; \
	[ $$tests -eq 0 ] && [ $$built -eq 0 ]

# `make token USER=alice`: USER is also the shell's login name, so insist it comes from the command line.
token: $(READY)
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=<user_id>" >&2; exit 2; fi
	@$(BIN)/python -m local.emulator.token "$(USER)"

invoke: $(READY)
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then echo "usage: make invoke FN=<LogicalId> EVENT=<file>" >&2; exit 2; fi
	@$(BIN)/python -m local.emulator.invoke "$(FN)" "$(EVENT)"

# One full rotation of the running stack's TokenSigningSecret through RotationFunction's handler.
rotate: $(READY)
	@$(BIN)/python -m local.emulator.rotate

# Hosted ChatKit threads into the running stack's ChatKitTable (docs/migration.md). As for
# `make token`, USER counts only when given on the command line (it is also the login name).
import-hosted-threads: $(READY)
	@$(BIN)/python -m local.emulator.import_hosted_threads $(if $(filter command line,$(origin USER)),--user "$(USER)") $(if $(filter-out 0,$(DRY_RUN)),--dry-run)

bench: $(READY)
	@$(BIN)/python -m local.bench $(if $(ONLY),--only "$(ONLY)")

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .local .aws-sam .pytest_cache
