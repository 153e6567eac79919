# Two commands on a fresh machine: `make synth` (set up + synthesize the example config) and
# `make test` (set up + whole test suite). Reruns skip the installs that are already done.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= projects.yaml
PORT ?= 8080
PYTEST_WORKERS ?= 2
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
# Synthesis needs no AWS account: don't probe EC2 instance metadata for credentials, send no telemetry.
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: synth test bench lint format lock lock-upgrade docs deploy-check clean setup serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per requirements set: the install reruns only when its files change.
$(VENV)/.app-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the claude-finops command
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt lambda/requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the claude-finops command
	touch $(VENV)/.app-installed $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.dev-installed node_modules/.installed

## synth: synthesize every stack of $(CONFIG) into cdk.out and print a summary per project.
synth: $(VENV)/.app-installed node_modules/.installed
	npx --no-install cdk synth --quiet --no-notices -c config=$(CONFIG)

## test: lint, then the whole offline test suite (template assertions, cfn-lint, cdk-nag, Lambda
## against a local Bedrock-compatible server, the real Lambda bundle).
test: $(VENV)/.dev-installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) tests

## bench: synthesis time for 1/50/300 projects, Lambda cold/warm latency and bundle size, ledger, key-limit and tracing cost, HTTPS endpoint streaming, guardrail latency and cost share.
bench: $(VENV)/.dev-installed node_modules/.installed
	$(BIN)/python bench/bench_synth.py
	$(BIN)/python bench/bench_lambda.py
	$(BIN)/python bench/bench_ledger.py
	$(BIN)/python bench/bench_limits.py
	$(BIN)/python bench/bench_tracing.py
	$(BIN)/python bench/bench_finops.py
	$(BIN)/python bench/bench_gateway.py
	$(BIN)/python bench/bench_guardrail.py

## lock: after editing lambda/requirements.txt, re-pin lambda/requirements.lock (every distribution
## of the Lambda bundle, with hashes, for python3.13 x86_64); current pins are kept where possible.
lock: | $(BIN)/python
	$(BIN)/python -m lambda_build lock

## lock-upgrade: re-resolve every pin of lambda/requirements.lock to the newest allowed version.
lock-upgrade: | $(BIN)/python
	$(BIN)/python -m lambda_build lock --upgrade

## docs: regenerate README's generated sections (config reference, names) from the code.
docs: $(VENV)/.app-installed
	$(BIN)/python -m claude_platform.docs

## serve: the HTTPS endpoint app locally for PROJECT of $(CONFIG) on 127.0.0.1:$(PORT), configured as
## the deployed function (your AWS credentials and AWS_ENDPOINT_URL_*; STAND_INS=1: local stand-ins).
serve: $(VENV)/.dev-installed
	@test -n "$(PROJECT)" || { echo "make serve: give PROJECT=<name> (a project of $(CONFIG))" >&2; exit 2; }
	$(BIN)/python -m devservers.serve --project "$(PROJECT)" --config "$(CONFIG)" --port "$(PORT)" $(if $(STAND_INS),--stand-ins)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf cdk.out .build .pytest_cache
