# Two commands: `make demo` serves the portal, `make test` runs the whole suite.
# Everything is installed into .venv; Redis is started here if nothing answers on 127.0.0.1:6379.

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
REDIS_PORT := 6379
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

help:
	@echo "make demo   set everything up and serve the portal on http://127.0.0.1:$(PORT)/"
	@echo "make test   run the whole test suite (lint included)"
	@echo "make lint   ruff check and format check"

$(VENV)/.installed: requirements.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Prints the PID of a redis-server it started, or nothing when one was already answering.
define ensure_redis
	if ! $(PY) -c 'import redis; redis.Redis(port=$(REDIS_PORT), socket_connect_timeout=1).ping()' 2>/dev/null; then
		if ! command -v redis-server >/dev/null; then
			echo "No Redis on 127.0.0.1:$(REDIS_PORT) and no redis-server binary: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)." >&2
			exit 1
		fi
		mkdir -p .demo
		redis-server --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no --daemonize no >.demo/redis.log 2>&1 &
		REDIS_PID=$$!
		for _ in $$(seq 50); do $(PY) -c 'import redis; redis.Redis(port=$(REDIS_PORT)).ping()' 2>/dev/null && break; sleep 0.1; done
		echo "Started redis-server (pid $$REDIS_PID) on 127.0.0.1:$(REDIS_PORT)"
	fi
endef

# The end-to-end tests drive Debian's Chromium through Playwright (Playwright cannot download browsers here).
define ensure_chromium
	if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			echo "Installing Chromium for the end-to-end tests (apt-get install chromium)…"
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
		else
			echo "The end-to-end tests need Chromium: sudo apt-get install chromium (or your system's package)." >&2
		fi
	fi
endef

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	REDIS_PID=""
	$(ensure_chromium)
	$(ensure_redis)
	trap '[ -n "$$REDIS_PID" ] && kill $$REDIS_PID' EXIT
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest
	# Again on PostgreSQL when one answers locally (and DATABASE_URL does not already choose a database).
	if [ -z "$${DATABASE_URL:-}" ] && $(PY) -c 'import psycopg; psycopg.connect("$(PG_TEST_URL)", connect_timeout=2)' 2>/dev/null; then
		echo "PostgreSQL answers on 127.0.0.1:5432: running the suite on it too"
		DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest -q
	else
		echo "PostgreSQL not reachable on 127.0.0.1:5432 (or DATABASE_URL set): ran on one database only"
	fi

demo: install
	export DJANGO_DEBUG=1
	export JIT_BASE_URL="$${JIT_BASE_URL:-http://127.0.0.1:$(PORT)}"
	REDIS_PID=""; WORKER_PID=""
	$(ensure_redis)
	mkdir -p .demo
	cleanup() { echo; echo "Stopping…"; for pid in $$WORKER_PID $$REDIS_PID; do kill $$pid 2>/dev/null || true; done; wait 2>/dev/null || true; }
	trap cleanup EXIT INT TERM
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	$(VENV)/bin/celery -A jitportal worker --beat --loglevel=INFO --concurrency=2 --schedule=.demo/celerybeat-schedule >.demo/worker.log 2>&1 &
	WORKER_PID=$$!
	echo
	echo "JIT Access Portal: http://127.0.0.1:$(PORT)/   (Ctrl-C stops the web server, the worker and any Redis started here)"
	echo "Logins: requester, reviewer, auditor, admin — password: \$$JIT_DEMO_PASSWORD, or the one printed above when first generated."
	echo "Worker log: .demo/worker.log"
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

.PHONY: help install lint test demo
