# Two commands: `make demo` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench browser redmine redmine-stop clean image image-test

$(STAMP): pyproject.toml setup.py slabridge/domain/_calendar_speedups.c
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	@# A C compiler and Python's headers build the due-time speedup (see README: the tests want it).
	@command -v cc >/dev/null 2>&1 && $(PYTHON) -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" 2>/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq gcc python3-dev)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m slabridge.demo

# Debian's Chromium and its driver, for the browser tests (tests/browser): never downloaded
# by a test tool, and checked on every run, not only when the virtualenv is made. Also
# systemd-analyze and systemd-sysusers, which check the units in deploy/systemd.
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver \
		|| (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	@command -v systemd-analyze >/dev/null && command -v systemd-sysusers >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq systemd)

test: $(STAMP) browser
	$(BIN)/pytest
	$(BIN)/ruff check slabridge tests benchmarks
	$(BIN)/mypy

# The container image: docker where a daemon answers, else buildah (deploy/docker/build.sh).
image:
	deploy/docker/build.sh

# The built image run as a user would (tests/image), against the local Redmine.
image-test: $(STAMP) image
	$(BIN)/pytest -m image tests/image

unit: $(STAMP)
	$(BIN)/pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check slabridge tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/due_times.py
	$(BIN)/python benchmarks/hours_ledger.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
