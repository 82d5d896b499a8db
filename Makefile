# Protocol Advisor: `make run` serves the app, `make test` runs every test.
# Both set up everything they need on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000

# The first interpreter that is Python 3.12 or newer (.python-version asks pyenv for 3.12).
PYTHON ?= $(shell for candidate in python3.12 python3.13 python3.14 python3; do \
	command -v $$candidate >/dev/null 2>&1 && \
	$$candidate -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && \
	{ echo $$candidate; break; }; done)

# Debian packages: Pango and fonts for WeasyPrint; Chromium for the browser tests; the servers whose
# own offline checks validate the bundle's configuration files (nginx -t, apache2 -t, haproxy -c,
# postconf, doveconf).
RUN_DEBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
TEST_DEBS := $(RUN_DEBS) chromium chromium-driver openssl nginx-light apache2 haproxy postfix dovecot-core postgresql

# $(call debs,PACKAGES): install what is missing as root, or say exactly what to install. Servers
# installed only for their configuration checks must not start, so a policy-rc.d refuses that while
# apt-get runs (unless the machine has its own).
define debs
	if command -v dpkg-query >/dev/null 2>&1; then \
		missing=""; \
		for package in $(1); do \
			dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
		done; \
		if [ -n "$$missing" ]; then \
			if [ "$$(id -u)" = 0 ]; then \
				echo "Installing Debian packages:$$missing"; \
				guard=""; \
				if [ ! -e /usr/sbin/policy-rc.d ]; then \
					printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1; \
				fi; \
				status=0; \
				{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || status=$$?; \
				if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
				[ "$$status" = 0 ] || { echo "Could not install:$$missing (apt-get failed; see above)." >&2; exit 1; }; \
			else \
				echo "Missing Debian packages:$$missing. Install them with: sudo apt-get install$$missing" >&2; exit 1; \
			fi; \
		fi; \
	fi
endef

PG_DEBS := postgresql
PG_PORT ?= 54329

.PHONY: help install run serve worker test test-postgres lint format lock clean

help:
	@echo "make run      set up, load the knowledge base and serve http://$(HOST):$(PORT) (SQLite)"
	@echo "make test     set up and run the whole test suite"
	@echo "make test-postgres  the same suite against a throwaway PostgreSQL cluster on 127.0.0.1"
	@echo "make serve    production serving: gunicorn, DEBUG off, static files by WhiteNoise (needs SECRET_KEY)"
	@echo "make worker   the task worker that renders report PDFs (with TASK_BACKEND=database)"
	@echo "make install  set up the virtual environment with the packages that run the app (make test adds the test tools)"

$(RUN_STAMP): pyproject.toml requirements/run.lock
	@if [ -z "$(PYTHON)" ]; then \
		echo "Python 3.12 or newer is required and was not found. Install it with: sudo apt-get install python3 python3-venv (Ubuntu 24.04+), or pyenv install 3.12 (Debian 12)." >&2; \
		exit 1; \
	fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV) || { \
		echo "Could not create a virtual environment. Install venv with: sudo apt-get install python3-venv" >&2; \
		rm -rf $(VENV); exit 1; }
	@echo "Installing the packages that run the app into $(VENV) ..."
	@$(PY) -m pip install -qq --disable-pip-version-check --require-hashes -r requirements/run.lock
	@touch $(RUN_STAMP)

# The test lock holds every package of the run lock at the same version, plus the test, type-checking
# and benchmark tools.
$(TEST_STAMP): $(RUN_STAMP) requirements/test.lock
	@echo "Installing the test tools into $(VENV) ..."
	@$(PY) -m pip install -qq --disable-pip-version-check --require-hashes -r requirements/test.lock
	@touch $(TEST_STAMP)

install: $(RUN_STAMP)
	@$(call debs,$(RUN_DEBS))
	@$(PY) -c 'import weasyprint' >/dev/null 2>&1 || { \
		echo "WeasyPrint cannot load Pango. Install it with: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0" >&2; \
		exit 1; }

run: install
	@DEBUG=1 $(PY) manage.py migrate --no-input
	@DEBUG=1 $(PY) manage.py load_knowledge_base
	@echo
	@echo "Admin: create your own account with: DEBUG=1 $(PY) manage.py createsuperuser"
	@echo "       then sign in at http://$(HOST):$(PORT)/admin/ (there is no default account)."
	@echo
	@DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# Production: settings come from the environment (README, "Deployment"). Every server of one site runs
# this with the same SECRET_KEY and DATABASE_URL; migrate and the knowledge-base load are idempotent.
serve: install
	@[ -n "$${SECRET_KEY:-}" ] || { \
		echo "SECRET_KEY is not set. Set the same long random value on every server, for example:" >&2; \
		echo "  export SECRET_KEY=\"\$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')\"" >&2; \
		exit 1; }
	@[ -n "$${ALLOWED_HOSTS:-}" ] || { \
		echo "ALLOWED_HOSTS is not set: list the host names this site answers to, e.g. ALLOWED_HOSTS=advisor.example.org" >&2; \
		exit 1; }
	@DEBUG=0 $(PY) manage.py collectstatic --no-input -v 0
	@DEBUG=0 $(PY) manage.py migrate --no-input -v 0
	@DEBUG=0 $(PY) manage.py clearsessions
	@DEBUG=0 $(PY) manage.py load_knowledge_base
	@DEBUG=0 HOST=$(HOST) PORT=$(PORT) exec $(VENV)/bin/gunicorn -c python:advisor.gunicorn_conf advisor.wsgi

# Renders report PDFs queued by servers running with TASK_BACKEND=database; run one or more anywhere
# that shares the database and the media storage.
worker: install
	@[ -n "$${SECRET_KEY:-}" ] || { echo "SECRET_KEY is not set (see make serve)." >&2; exit 1; }
	@DEBUG=0 TASK_BACKEND=database exec $(PY) manage.py db_worker

test: install $(TEST_STAMP)
	@$(call debs,$(TEST_DEBS))
	@$(VENV)/bin/ruff check --quiet .
	@$(VENV)/bin/ruff format --check --quiet .
	@$(VENV)/bin/mypy
	@$(PY) manage.py makemigrations --check --dry-run --settings=tests.settings >/dev/null || { \
		echo "Model changes without a migration: run $(PY) manage.py makemigrations" >&2; exit 1; }
	@$(VENV)/bin/pytest

# A throwaway PostgreSQL cluster, owned by an unprivileged user (postgres when run as root), listening
# on 127.0.0.1 only; stopped and deleted when the tests end, whatever their outcome.
test-postgres: install $(TEST_STAMP)
	@$(call debs,$(TEST_DEBS) $(PG_DEBS))
	@bin=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); \
	data=$$(mktemp -d /tmp/advisor-postgres.XXXXXX); \
	as_owner() { if [ "$$(id -u)" = 0 ]; then runuser -u postgres -- "$$@"; else "$$@"; fi; }; \
	if [ "$$(id -u)" = 0 ]; then chown postgres "$$data"; fi; \
	as_owner "$$bin/initdb" -D "$$data/db" -A trust -U advisor >/dev/null; \
	as_owner "$$bin/pg_ctl" -D "$$data/db" -o "-k $$data -p $(PG_PORT) -h 127.0.0.1" -l "$$data/log" -w start >/dev/null; \
	trap 'as_owner "$$bin/pg_ctl" -D "$$data/db" -m fast -w stop >/dev/null; rm -rf "$$data"' EXIT; \
	as_owner "$$bin/createdb" -h 127.0.0.1 -p $(PG_PORT) -U advisor advisor; \
	echo "PostgreSQL $$("$$bin/postgres" --version | awk '{print $$3}') on 127.0.0.1:$(PG_PORT)"; \
	DATABASE_URL=postgres://advisor@127.0.0.1:$(PG_PORT)/advisor $(VENV)/bin/pytest

lint: $(TEST_STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: $(TEST_STAMP)
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

# Re-resolve both locks from pyproject.toml, keeping every pin that still fits (uv is needed for this
# only). The test lock is resolved within the run lock, so both hold the same versions.
lock:
	uv pip compile -q pyproject.toml --extra postgres --extra redis --python-version 3.12 --generate-hashes \
		--custom-compile-command "make lock" -o requirements/run.lock
	uv pip compile -q pyproject.toml --extra postgres --extra redis --extra test --extra bench \
		-c requirements/run.lock --python-version 3.12 --generate-hashes \
		--custom-compile-command "make lock" -o requirements/test.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
