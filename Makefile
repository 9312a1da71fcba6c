# Quick start: `make demo` and `make test`. Both create .venv on first use and reuse it after.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.normlab-installed
# The real data samples, when the checkout sits beside shared/ (CI and developer machines).
SHARED_DATA := $(abspath ../shared/data)
export NORMLAB_RAW_DIR ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)

.PHONY: help install demo test test-all bench findings clean-venv
.DEFAULT_GOAL := help

help: ## List the targets (this text)
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with the pinned environment (once; about 5 minutes)

$(STAMP): requirements.lock requirements-fairseq.txt pyproject.toml scripts/install.sh
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	bash scripts/install.sh $(VPY)
	@touch $@

# Jobs go to ./outputs unless NORMLAB_OUTPUT says otherwise.
demo: $(STAMP) ## The quick grid (40 tiny jobs, no download), then its report
	NORMLAB_OUTPUT=$${NORMLAB_OUTPUT:-$(CURDIR)/outputs} $(VPY) -m normlab.demo

test: $(STAMP) ## The test suite without the slow tests
	$(VPY) -m pytest -q -m "not slow"

test-all: $(STAMP) ## Every test, the slow ones included
	$(VPY) -m pytest -q

# The committed reports are rebuilt from the committed jobs, and README's findings block from the summary of
# the widest one (the offline grid, with the modern-norm study beside it once that is committed).
STUDY := $(wildcard results/offline_modern_norms/jobs)
findings: $(STAMP) ## Rebuild the committed reports from their committed jobs and refresh README's findings
	$(VPY) -m normlab.report results/offline_grid/jobs --out results/offline_grid $(if $(STUDY),,--readme README.md)
	$(if $(STUDY),$(VPY) -m normlab.report results/offline_grid/jobs results/offline_modern_norms/jobs \
		--out results/offline_modern_norms --readme README.md)

bench: $(STAMP) ## Forward+backward time of each norm against nn.LayerNorm
	$(VPY) scripts/bench_norms.py

clean-venv: ## Remove .venv
	rm -rf $(VENV)
