# sentinel-drill — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
DRILL   := $(VENV)/bin/sentinel-drill
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST  := $(PY) -m pytest

-include mk/*.mk

.PHONY: help setup sandbox-bin test test-fast drill drill-all restore-test verify-backup \
        sandbox-up sandbox-down sandbox-status bench lint clean

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## install what is missing: redis-server/redis-tools (apt), the venv (editable)
$(STAMP): pyproject.toml
	@command -v redis-server >/dev/null && command -v redis-check-rdb >/dev/null || { \
	  echo "installing redis-server + redis-tools (apt)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools >/dev/null; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

sandbox-bin: ## build the sandbox control plane (etcd, kube-*, kubectl, kwok) from Go modules, cached per version
	tools/build-sandbox-bin.sh

test: setup sandbox-bin ## run the whole test suite (unit, integration, sandbox) — what CI runs
	$(PYTEST) tests -p no:allure_pytest_bdd

test-fast: setup ## unit tests only
	$(PYTEST) tests/unit -p no:allure_pytest_bdd

sandbox-up: setup sandbox-bin ## start the local sandbox target (kwok cluster, Redis, moto, health endpoint)
	$(DRILL) sandbox up

sandbox-down: setup ## stop every process of the local sandbox
	$(DRILL) sandbox down

sandbox-status: setup ## show the local sandbox (JSON)
	$(DRILL) sandbox status --json

bench: setup ## benchmarks: 100k-key backup/verify/restore timings
	$(PYTEST) tests -p no:allure_pytest_bdd -m slow -s -q

lint: setup ## ruff + mypy
	$(VENV)/bin/ruff check harness tests
	$(VENV)/bin/mypy harness

clean: ## remove generated reports and caches (not the venv, not the binary cache)
	rm -rf reports/allure-results reports/allure-report reports/evidence .pytest_cache .mypy_cache
