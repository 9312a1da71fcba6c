# Quick start: `make demo` and `make test`. Both create .venv on first use and reuse it after.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.normlab-installed
# The real data samples, when the checkout sits beside shared/ (CI and developer machines).
SHARED_DATA := $(abspath ../shared/data)
export NORMLAB_RAW_DIR ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)

.PHONY: install demo test test-all bench clean-venv

install: $(STAMP)

$(STAMP): requirements.lock requirements-fairseq.txt pyproject.toml scripts/install.sh
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	bash scripts/install.sh $(VPY)
	@touch $@

# Jobs go to ./outputs unless NORMLAB_OUTPUT says otherwise.
demo: $(STAMP)
	NORMLAB_OUTPUT=$${NORMLAB_OUTPUT:-$(CURDIR)/outputs} $(VPY) -m normlab.demo

test: $(STAMP)
	$(VPY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(VPY) -m pytest -q

bench: $(STAMP)
	$(VPY) scripts/bench_norms.py

clean-venv:
	rm -rf $(VENV)
