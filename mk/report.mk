# Evidence: the Allure HTML report, the evidence bundle, and workflow linting.
# Included by the Makefile (`-include mk/*.mk`); targets with `## ...` show in `make help`.

# Tools are cached outside the repo, one directory per version, so a warm `make setup` is instant.
# SENTINEL_DRILL_CACHE (read by the build scripts and the harness too) moves every cache
DRILL_CACHE       ?= $(or $(SENTINEL_DRILL_CACHE),$(HOME)/.cache/sentinel-drill)
ALLURE_VERSION    ?= 2.46.1
ALLURE_HOME       := $(DRILL_CACHE)/npm/allure-commandline-$(ALLURE_VERSION)
ALLURE            := $(ALLURE_HOME)/node_modules/allure-commandline/dist/bin/allure
ACTIONLINT_VERSION ?= v1.7.12
ACTIONLINT_DIR    := $(DRILL_CACHE)/bin/actionlint-$(ACTIONLINT_VERSION)
ACTIONLINT        := $(ACTIONLINT_DIR)/actionlint
GO                ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

export ALLURE_NO_ANALYTICS := true
export SENTINEL_DRILL_CACHE := $(DRILL_CACHE)

.PHONY: allure-cli report evidence evidence-verify actionlint lint-workflows

# `make setup` also installs the Allure command line (adds a prerequisite, no recipe).
setup: allure-cli

allure-cli: $(ALLURE) ## install the Allure 2 command line (npm allure-commandline, pinned, cached per version)
$(ALLURE): | $(SYSTEM_PACKAGES)
	@command -v npm >/dev/null || { echo "npm is missing (Debian package npm, or Node.js 20); fix: make system-packages" >&2; exit 2; }
	@command -v java >/dev/null || echo "warning: java is missing; the report needs Java ≥ 17 (Debian package default-jre-headless); fix: make system-packages" >&2
	@mkdir -p $(ALLURE_HOME)
	npm install --prefix $(ALLURE_HOME) --no-audit --no-fund --no-save --loglevel=error allure-commandline@$(ALLURE_VERSION)
	@test -x $@ && touch $@

report: setup ## build the HTML report (reports/allure-report + a single file), trends carried between runs
	$(DRILL) report --results reports/allure-results --out reports/allure-report

evidence: setup ## build the evidence bundle reports/evidence/<run-id>/ from reports/drill-results.json, and its PDF in reports/evidence-pdf/
	$(DRILL) evidence bundle --results reports/drill-results.json --out reports/evidence $(if $(RUN_ID),--run-id $(RUN_ID))

evidence-verify: setup ## verify the local chain under reports/evidence (every bundle, link, signature; no locked heads here: truncation is checked against the store: evidence verify --chain s3://…)
	$(DRILL) evidence verify --chain reports/evidence --allow-unanchored

actionlint: $(ACTIONLINT) ## build actionlint from its Go module (cached per version)
$(ACTIONLINT):
	@test -x $(GO) || command -v $(GO) >/dev/null || { echo "go is missing: install Go 1.26" >&2; exit 2; }
	@mkdir -p $(ACTIONLINT_DIR)
	GOBIN=$(ACTIONLINT_DIR) GOFLAGS=-buildvcs=false $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

lint-workflows: actionlint ## lint .github/workflows with actionlint
	$(ACTIONLINT) -no-color .github/workflows/*.yml
