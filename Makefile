# smartlic — one task runner; CI calls the same targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help up test lint fix db-upgrade serve bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

install: $(STAMP) ## install into .venv

up: $(STAMP) ## install, initialise the embedded authority (idempotent), seed a demo account and serve on 127.0.0.1
	$(BIN)/smartlic authority init
	$(BIN)/smartlic authority demo
	$(BIN)/smartlic authority serve

test: $(STAMP) ## install and run the whole default suite
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + format check + mypy strict on src/
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fix: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

db-upgrade: $(STAMP) ## migrate the configured authority database to head
	$(BIN)/smartlic authority db upgrade

serve: $(STAMP) ## serve the authority on 127.0.0.1:8000
	$(BIN)/smartlic authority serve

bench: $(STAMP) ## run every benchmark (prints tables, writes bench/results/*.json)
	$(BIN)/python bench/authority.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/collector.py

clean: ## remove the virtualenv
	rm -rf $(VENV)
