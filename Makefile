# Every target creates the virtual environment it needs from pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_VENV := .venv-tools
STAMP := $(VENV)/.installed
CHECKOV_VENV := $(TOOLS_VENV)/checkov
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed
# Directory holding python3.13 (with a trailing ':'), or empty when python3.13 works as is.
PY313_BIN = $(shell python3.13 --version >/dev/null 2>&1 || { v="$$(pyenv latest 3.13)" && [ -n "$$v" ] && echo "$$(pyenv prefix "$$v")/bin:"; } 2>/dev/null)

.PHONY: alarms browser constraints help venv test test-unit test-component test-e2e test-robustness test-browser lint format build validate local demo invoke events bench bench-mass bench-lateness clean

help:
	@echo "make demo   - start the local stack, run the multi-emergency and escalation scenes, stop"
	@echo "make local  - run the Docker-free local stack in the foreground (Ctrl-C stops it)"
	@echo "make test   - run the whole test suite (unit, component, robustness, end to end)"
	@echo "make test-unit | test-component | test-e2e | test-robustness | test-browser - one tier"
	@echo "make lint   - ruff (lint + format check), mypy --strict and the import contracts (lint-imports)"
	@echo "make validate - sam validate --lint, cfn-lint and checkov on template.yaml"
	@echo "make build  - sam build (no container needed)"
	@echo "make bench  - benchmarks (15-22 min), writes bench/results.json, bench/RESULTS.md and the plots"

# requirements/*.txt name what we depend on; requirements/*.constraints.txt pin everything
# those resolve to (transitive packages too), so every machine installs the same versions.
$(STAMP): requirements/dev.txt requirements/browser.txt requirements/dev.constraints.txt layers/shared/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/dev.constraints.txt
	touch $(STAMP)

venv: $(STAMP)

# The browser tier drives Debian's chromium through Playwright (requirements/browser.txt);
# Playwright's own browser download cannot reach its servers from here. As root, a missing
# chromium is installed with apt-get (package lists refreshed first when the install fails
# without them); anyone else is told what to install.
CHROMIUM := /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.browser

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
		echo "The browser tests need Debian's chromium at $@. Install it as root: apt-get install -y chromium" >&2; \
		exit 1; \
	fi; \
	log=$$(mktemp); echo "Installing Debian's chromium for the browser tests (apt-get)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	{ apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >$$log 2>&1 \
		|| { tail -n 20 $$log >&2; rm -f $$log; exit 1; }; \
	rm -f $$log; test -x $@ || { echo "$@ is still missing after apt-get install chromium" >&2; exit 1; }

$(BROWSER_STAMP): $(STAMP) $(CHROMIUM)
	touch $@

browser: $(BROWSER_STAMP)

test: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest

# The tiers (README "Tests"): pure and socket-free; handlers with moto and the stand-in;
# the local stack over HTTP; fault injection, races and fuzzing; pages in a real browser.
test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-component: $(STAMP)
	$(PY) -m pytest tests/component

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

test-robustness: $(STAMP)
	$(PY) -m pytest tests/robustness

test-browser: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest tests/browser

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	PYTHONPATH=layers/shared:. $(VENV)/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

$(TOOLS_VENV)/.installed: requirements/tools.txt requirements/tools.constraints.txt
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/tools.txt \
		-c requirements/tools.constraints.txt
	touch $@

# checkov cannot share a venv with aws-sam-cli (conflicting boto3 pins): its own venv,
# nested in .venv-tools so .gitignore, ruff and `make clean` already cover it.
$(CHECKOV_VENV)/.installed: requirements/checkov.txt requirements/checkov.constraints.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt \
		-c requirements/checkov.constraints.txt
	touch $@

# Each step exits non-zero on any finding. Plain `sam validate` runs the SAM transform
# (it catches event/auth errors that --lint alone lets through); --lint and cfn-lint fail
# on errors and warnings; checkov on any failed check (skips need a reason in the template).
validate: $(TOOLS_VENV)/.installed $(CHECKOV_VENV)/.installed
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=af-south-1 $(TOOLS_VENV)/bin/sam validate
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=af-south-1 $(TOOLS_VENV)/bin/sam validate --lint
	$(TOOLS_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download -f template.yaml --framework cloudformation

# sam build runs without a container: it needs a python3.13 interpreter on PATH (the
# Lambda runtime's version). With pyenv it is used even when not the active version.
build: $(TOOLS_VENV)/.installed
	PATH="$(PY313_BIN)$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS_VENV)/bin/sam build

local: $(STAMP)
	$(PY) -m local.stack

demo: $(STAMP)
	$(PY) -m local.demo

invoke: $(STAMP)
	$(PY) -m local.invoke $(ARGS)

events: $(STAMP)
	$(PY) -m local.make_events

# Every function's Errors and Throttles alarms in template.yaml, written from its list of functions.
alarms: $(STAMP)
	$(PY) -m local.alarms

# The benchmarks' plots need matplotlib, which nothing else does: a venv of its own, layered on
# .venv (a .pth file puts .venv's packages on its path, so nothing is installed twice), that
# only the bench targets create. make test and make lint never install matplotlib.
$(BENCH_STAMP): $(STAMP) requirements/bench.txt requirements/bench.constraints.txt
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
		> "$$($(BENCH_PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/dev-venv.pth"
	$(BENCH_PY) -m pip install --quiet --disable-pip-version-check -r requirements/bench.txt \
		-c requirements/bench.constraints.txt -c requirements/dev.constraints.txt
	touch $@

# Every benchmark always runs (15 minutes quiet, up to 22 under load; RESULTS.md says how long the last
# run took): the mass alarm three times (two quiet runs and one with a CPU hog on one core; the worst
# is the headline), then all at once (a stress run, reported only), the timed steps' lateness,
# then bench.run (cold imports, AWS calls, the webhook, cost), which writes RESULTS.md.
# make fails when the mass alarm or the step lateness missed a goal.
bench: $(BENCH_STAMP)
	started=$$(date +%s); \
	$(BENCH_PY) -m bench.mass --runs 3 --hog-run 3; mass=$$?; \
	$(BENCH_PY) -m bench.mass --spread-seconds 0 --key mass_alarm_at_once --report-only; \
	$(BENCH_PY) -m bench.lateness; lateness=$$?; \
	BENCH_STARTED=$$started $(BENCH_PY) -m bench.run && exit $$(( mass || lateness ))

# Mass alarms (SPEC 11): 100 alarms x 3 recipients through the local stack, ~2.5 minutes a run.
bench-mass: $(BENCH_STAMP)
	$(BENCH_PY) -m bench.mass

# Timed steps (SPEC 12): 50 alerts' reminders, unanswered marks and confirmation steps, ~5 minutes.
bench-lateness: $(BENCH_STAMP)
	$(BENCH_PY) -m bench.lateness

# After changing a requirements/*.txt: rebuild the venvs from it, then re-pin what they resolved.
# The bench venv's file pins only what it adds to .venv (pip freeze --path of its own packages).
constraints: $(STAMP) $(TOOLS_VENV)/.installed $(CHECKOV_VENV)/.installed $(BENCH_STAMP)
	for pair in $(VENV):dev $(TOOLS_VENV):tools $(CHECKOV_VENV):checkov; do \
		venv=$${pair%%:*}; name=$${pair##*:}; out=requirements/$$name.constraints.txt; \
		{ echo "# Every package requirements/$$name.txt resolves to, pinned (pip -c). Made by make constraints."; \
		  $$venv/bin/python -m pip freeze --exclude-editable; } > $$out; \
	done
	{ echo "# Every package requirements/bench.txt adds to .venv's, pinned (pip -c). Made by make constraints."; \
	  $(BENCH_PY) -m pip freeze --exclude-editable \
		--path "$$($(BENCH_PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
	} > requirements/bench.constraints.txt

clean:
	rm -rf $(VENV) $(TOOLS_VENV) $(BENCH_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
