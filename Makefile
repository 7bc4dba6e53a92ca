# What people type. Everything bootstraps from a bare Python 3.11: `make test` and `make demo`
# work on a fresh clone with nothing installed by hand.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAMVENV := .venv-sam
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
SAM := $(SAMVENV)/bin/sam
ENV ?= dev
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt layers/git/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv==0.13.9
	@# Bytecode compiled now, as pip would: imports (and the cold-start bench's baseline) never pay for it.
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt
	@# The layer is importable as Lambda's /opt/python is, and the sandbox from the repo root.
	printf '%s\n' "$(CURDIR)/layers/shared" "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/codereflex-dev.pth"
	@# The `codereflex` command (operator CLI); its dependencies are already installed above.
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(SAMVENV)/.installed: requirements-sam.txt | $(VENV)/.installed
	$(UV) venv --quiet --clear --python $(PYTHON) $(SAMVENV)
	$(UV) pip install --quiet --python $(SAMVENV)/bin/python -r requirements-sam.txt
	touch $@

setup: $(VENV)/.installed $(SAMVENV)/.installed browser ## Create .venv (dev) and .venv-sam (SAM CLI); install the browser

# The approval page's browser tests drive Debian's chromium through chromium-driver (selenium is in
# requirements-dev.txt). Installed only when missing and only as root; otherwise say what to do, and
# those tests skip with the same sentence.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y --no-install-recommends chromium chromium-driver \
	  || { apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver; }; \
	else echo "browser tests will skip: chromium and chromium-driver are missing; run 'sudo apt-get install -y chromium chromium-driver'"; fi

format: $(VENV)/.installed ## Rewrite code to house style
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

lint: $(VENV)/.installed ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers functions sandbox packaging tests bench

validate: $(SAMVENV)/.installed ## sam validate --lint
	$(SAM) validate --lint --template template.yaml

build: $(SAMVENV)/.installed ## sam build (arm64), then check native libraries are aarch64 and bytecode ships
	$(SAM) build --template template.yaml --parallel
	$(PY) packaging/buildcheck.py .aws-sam/build

unit: $(VENV)/.installed ## Unit and contract tests only
	$(PY) -m pytest tests/unit tests/contract

pytest: $(VENV)/.installed browser ## All hermetic tests (unit, contract, integration), on two workers
	@# A test module stays on one worker (--dist loadfile): its module-scoped sandboxes and fixtures are shared.
	$(PY) -m pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

test: lint validate build pytest ## Everything CI runs: lint, types, sam validate, sam build, arch check, tests

demo: $(VENV)/.installed ## Run the end-to-end demo against the local sandbox
	$(PY) -m sandbox demo

up: $(VENV)/.installed ## Start the local sandbox in the foreground
	$(PY) -m sandbox up

invoke: $(VENV)/.installed ## make invoke F=RepoActivityFunction E=events/repo_activity/force_push_main.json
	$(PY) -m sandbox invoke $(F) -e $(E)

bench: build ## Benchmarks (print tables; never part of the tests); cold start measures the build
	$(PY) -m bench

deploy: build ## sam deploy with the samconfig.toml environment ENV
	$(SAM) deploy --config-env $(ENV)

clean: ## Remove build output and virtualenvs
	rm -rf .aws-sam $(VENV) $(SAMVENV) .sandbox

.PHONY: help setup browser format lint validate build unit pytest test demo up invoke bench deploy clean
