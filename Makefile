# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint setup database translations serve screenshots

setup: $(STAMP) translations

# Reinstall whenever the package metadata changes.
$(STAMP): setup.cfg setup.py pyproject.toml $(wildcard plugins/*/setup.cfg)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

translations: $(STAMP)
	@for dir in $(wildcard shopbuilder/translations/*) $(wildcard plugins/*/translations) $(wildcard plugins/*/*/translations); do \
	  [ -d $$dir ] && ls $$dir/*/LC_MESSAGES/*.po >/dev/null 2>&1 && $(BIN)/pybabel compile --use-fuzzy -d $$dir >/dev/null || true; \
	done

database: setup
	$(FLASK) shopbuilder init --demo

run: database
	@echo "Serving the demo shop at http://$(HOST):$(PORT)/s/west-lake/"
	@# The deadline worker runs beside gunicorn and stops when gunicorn stops.
	$(FLASK) shopbuilder worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - wsgi:app

# Lint first: it takes a second and names the line, where a test failure would not.
test: setup lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Retake the phone screenshots in docs/screenshots (README shows them).
screenshots: setup
	SHOPBUILDER_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/browser plugins/shopbuilder_pickup/tests/test_browser.py

lint: setup
	$(BIN)/ruff check .
