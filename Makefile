# sentinel-drill — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
DRILL   := $(VENV)/bin/sentinel-drill
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PYTEST  := $(PY) -m pytest

# Under `make -n` these print what a run would do instead of doing it (a recipe line that calls $(MAKE) is
# run even then, so the checks on such lines must not act): `make -n --trace drill` shows the build order.
DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
DRY     := $(if $(DRY_RUN),echo )

# Every target that needs a Debian package depends on $(SYSTEM_PACKAGES); the parallel sub-make of
# real-node-parts gets it empty, so apt runs once, before anything runs side by side.
SYSTEM_PACKAGES ?= system-packages

-include mk/*.mk

.PHONY: help system-packages setup sandbox-bin helm-bin helm-if-configured node-bin test test-fast drill drill-all restore-test verify-backup coverage \
        sandbox-up sandbox-down sandbox-status bench bench-quick lint clean doctor

# run a drill, then always build the evidence bundle + its PDF and the report; exit with the drill's code,
# or 1 when the drill passed but its evidence (bundle or PDF) was not built: a pass without evidence is no proof
define run_drill
	@rc=0; DRILL_SANDBOX_NODES=$${DRILL_SANDBOX_NODES:-auto} $(DRILL) drill $(1) || rc=$$?; \
	$(MAKE) --no-print-directory evidence || { echo "evidence bundle/PDF not built (see above)" >&2; [ $$rc -ne 0 ] || rc=1; }; \
	$(MAKE) --no-print-directory report || echo "report not built (see above)" >&2; \
	echo "drill $(1) exited $$rc — report: reports/allure-report/index.html, evidence: reports/evidence/, PDF: reports/evidence-pdf/"; exit $$rc
endef

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

system-packages: ## install the missing Debian packages of tools/apt-packages.txt in one apt run (root or sudo)
	@tools/install-system-packages.sh

setup: $(SYSTEM_PACKAGES) $(STAMP) ## install what is missing: the Debian packages (tools/apt-packages.txt), the venv (editable), Allure
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

sandbox-bin: ## build the sandbox control plane (etcd, kube-*, kubectl, kwok) from Go modules, cached per version
	tools/build-sandbox-bin.sh

helm-bin: ## build helm (deploy_method: helm, deploy/chart's test) from its Go module, cached per version (~3 min cold)
	tools/build-helm-bin.sh

# helm only when the configuration (DRILL_CONFIG, DRILL_*) deploys with it; a config that does not load builds
# nothing here and the command after names the error. Read-only, so it also runs under `make -n`.
helm-if-configured: setup
	@if $(PY) -c 'import sys; from harness.config import load_settings; sys.exit(load_settings().deploy_method != "helm")' \
	  2>/dev/null; then $(MAKE) --no-print-directory helm-bin; fi

node-bin: $(SYSTEM_PACKAGES) ## build the real-node binaries (containerd, runc, kubelet, kube-proxy, kube-network-policies) from Go modules
	tools/build-node-bin.sh

test: setup sandbox-bin helm-bin real-node-parts ## every test: unit, integration, sandbox, and every drill scenario on the sandbox (what CI runs)
	$(PYTEST) tests -p no:allure_pytest_bdd -m "not slow"

drill: setup sandbox-bin helm-if-configured real-node-parts ## the monthly DR drill (backup coverage + backup verification + failover) on the configured target, sandbox by default
	$(call run_drill,monthly)

# Every drill runs on real sandbox nodes when this machine can (DRILL_SANDBOX_NODES=auto|real|kwok;
# docs/sandbox.md, "Real nodes"), and on kwok-only nodes with one line saying why when it cannot.
restore-test: setup sandbox-bin helm-if-configured real-node-parts ## the quarterly full restore (scenario 3: configuration, Redis, audit logs restored; Gateway smoke), timed against RTO/RPO
	$(call run_drill,quarterly)

drill-all: setup sandbox-bin helm-if-configured real-node-parts ## every scenario (coverage, 1–4 with scenario 2 drained and, on real nodes, stopped hard, smoke), monthly and daily
	$(call run_drill,all)

coverage: setup sandbox-bin helm-if-configured real-node-parts ## backup coverage: every row of the runbook's "What to Back Up" checked (docs/coverage.md)
	$(call run_drill,coverage)

verify-backup: setup sandbox-bin helm-if-configured real-node-parts ## the daily check: the newest pipeline backup is no older than the RPO + schedule slack, verifies at every level and holds ≥ min keys
	$(call run_drill,daily)

test-fast: setup ## unit tests only
	$(PYTEST) tests/unit -p no:allure_pytest_bdd

doctor: setup helm-if-configured ## read-only preflight of the configured target (DRILL_CONFIG): every setting and RBAC verb checked, scenario × can run (docs/doctor.md)
	$(DRILL) doctor

sandbox-up: setup sandbox-bin real-node-parts ## start the local sandbox target (kwok cluster, Redis, moto, health endpoint)
	$(DRILL) sandbox up

sandbox-down: setup ## stop every process of the local sandbox
	$(DRILL) sandbox down

sandbox-status: setup ## show the local sandbox (JSON)
	$(DRILL) sandbox status --json

BENCH_SIZE ?= 1m
bench: setup ## backup/verify/restore vs their floors (BENCH_SIZE=quick|1m|2g, ARGS=--profile/--runs N/--store s3|file/--strict) → reports/bench/
	@$(PY) -c 'import pyinstrument' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench --size $(BENCH_SIZE) $(ARGS)

bench-quick: setup ## the bench at ≈ 20 k keys (≈ 15 s; tests/integration/test_bench_quick.py runs it under make test)
	$(PY) -m bench --quick $(ARGS)

lint: setup ## ruff + mypy
	$(VENV)/bin/ruff check harness bench tests steps features conftest.py
	$(VENV)/bin/mypy harness

clean: ## remove generated reports and caches (not the venv, not the binary cache)
	rm -rf reports/allure-results reports/allure-report reports/allure-report-single reports/journals \
	  reports/drill-results.json .pytest_cache .mypy_cache
	@echo "kept reports/history (trends) and reports/evidence (the bundle chain)"
