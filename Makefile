# Every target creates the virtual environment it needs from pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
STAMP := $(VENV)/.installed

.PHONY: help venv test test-unit test-integration lint format build validate local demo invoke events bench clean

help:
	@echo "make demo   - start the local stack, run the multi-emergency scenario, stop"
	@echo "make local  - run the Docker-free local stack in the foreground (Ctrl-C stops it)"
	@echo "make test   - run the whole test suite (unit, integration, end to end)"
	@echo "make lint   - ruff (lint + format check) and mypy --strict on the layer"
	@echo "make validate - sam validate --lint, cfn-lint and checkov on template.yaml"
	@echo "make build  - sam build (no container needed)"
	@echo "make bench  - benchmarks, writes bench/results.json and bench/RESULTS.md"

$(STAMP): requirements/dev.txt layers/shared/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

$(TOOLS_VENV)/.installed: requirements/tools.txt
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/tools.txt
	touch $@

validate: $(TOOLS_VENV)/.installed
	AWS_DEFAULT_REGION=af-south-1 $(TOOLS_VENV)/bin/sam validate --lint
	$(TOOLS_VENV)/bin/cfn-lint template.yaml
	$(TOOLS_VENV)/bin/checkov --quiet --compact -f template.yaml --framework cloudformation

build: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/sam build

local: $(STAMP)
	$(PY) -m local.stack

demo: $(STAMP)
	$(PY) -m local.demo

invoke: $(STAMP)
	$(PY) -m local.invoke $(ARGS)

events: $(STAMP)
	$(PY) -m local.make_events

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
