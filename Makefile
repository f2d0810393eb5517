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
# Debian packages: slapd and its tools for the directory, headers to build python-ldap,
# Chromium for the browser tests.
APT_PACKAGES := slapd ldap-utils libldap2-dev libsasl2-dev chromium

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
test: deps lint ## Run everything CI runs: lint, types, and the whole test suite against a real slapd
	$(BIN)/pytest

.PHONY: lint
lint: deps ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: deps ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
