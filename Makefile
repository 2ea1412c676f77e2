# Casefile: `make run` serves the app, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test bench lint screenshots install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

install: $(VENV)/.installed

# The web app and the worker (outbox, SLA sweep, expiries, ledger shipping, retention) together.
run: install
	$(BIN)/casefile migrate --no-input
	$(BIN)/casefile run --host $(HOST) --port $(PORT)

test: install
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/run-tests

bench: install
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/run-bench

# The console's screenshots in docs/, retaken by its browser tests (needs /usr/bin/chromium).
screenshots: install
	CASEFILE_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/console/test_browser.py tests/documents/test_signing_browser.py tests/accounts/test_oidc_browser.py tests/events/test_issues_browser.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) var/test-* .pytest_cache
