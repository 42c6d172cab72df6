# smartlic — one task runner; CI calls the same targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
PYTEST_ARGS ?=
# `make up` runs the demo on the shared lab clock, so `smartlic lab advance 30d` moves it
LAB_CLOCK := $(CURDIR)/var/lab-clock.json
# (a variable: a comma written inside $(call ...) would split its argument)
EVERYTHING := .[test,dev]
# pip with one line per package as progress; the full log stays in .venv/pip.log for a failure
PIP_INSTALL = { $(BIN)/python -m pip install --progress-bar off $(1) 2>&1; echo $$? > $(VENV)/.pip-rc; } \
	| tee $(VENV)/pip.log | grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' ; \
	rc=$$(cat $(VENV)/.pip-rc); [ "$$rc" = 0 ] || { tail -n 30 $(VENV)/pip.log; exit $$rc; }

.PHONY: help up test lint fix db-upgrade serve bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	@echo "==> creating the virtual environment $(VENV)"
	$(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip

# what serving needs: the package and its runtime dependencies only
$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	@echo "==> installing smartlic and its runtime dependencies into $(VENV) (a minute or two)"
	@$(call PIP_INSTALL,-e .)
	@touch $(RUNTIME)

# everything: runtime, the test tools (pyATS/Genie, pytest...) and the dev tools (ruff, mypy)
$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "==> installing smartlic with its test and development tools into $(VENV) (several minutes)"
	@$(call PIP_INSTALL,-e '$(EVERYTHING)')
	@touch $(STAMP) $(RUNTIME)

install: $(STAMP) ## install everything (runtime, test and dev tools) into .venv

up: $(RUNTIME) ## install what serving needs, initialise the embedded authority, seed a demo account and serve on 127.0.0.1 (lab clock)
	@echo "==> initialising the authority in var/authority"
	@SMARTLIC_LAB_CLOCK=$(LAB_CLOCK) $(BIN)/smartlic authority init
	@echo "==> seeding the demo account"
	@SMARTLIC_LAB_CLOCK=$(LAB_CLOCK) $(BIN)/smartlic authority demo
	@echo "==> serving on http://127.0.0.1:8000 (Ctrl-C stops it)"
	@SMARTLIC_LAB_CLOCK=$(LAB_CLOCK) $(BIN)/smartlic authority serve

test: $(STAMP) ## install and run the whole default suite
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check + format check + mypy strict on src/
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fix: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

db-upgrade: $(RUNTIME) ## migrate the configured authority database to head
	$(BIN)/smartlic authority db upgrade

serve: $(RUNTIME) ## serve the authority on 127.0.0.1:8000
	$(BIN)/smartlic authority serve

bench: $(STAMP) ## run every benchmark (prints tables, writes bench/results/*.json)
	$(BIN)/python bench/authority.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/collector.py
	$(BIN)/python bench/attack.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/cssm.py

clean: ## remove the virtualenv
	rm -rf $(VENV)
