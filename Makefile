# Every target sets itself up from nothing: a virtualenv in .venv with the pinned packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# waitress cuts off bodies past this before buffering them; the app itself refuses anything over
# MAX_CONTENT_LENGTH_BYTES (1 MiB by default) with its own 413 page or JSON error.
MAX_BODY_BYTES ?= 16777216
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# The browser tests drive Debian's chromium (Playwright's own browser download does not work here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run serve test test-sqlite test-postgres bench bench-scale lint clean translations stress

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

# Browser packages (diagram viewer, charts) from the lock file.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

translations: $(STAMP)
	$(BIN)/pybabel compile -d web/translations

run: $(STAMP) $(NPM_STAMP) translations
	$(BIN)/flask --app web init-db --demo
	@echo "Serving on http://127.0.0.1:$(PORT)/ (web + timer scheduler in one process)"
	SCHEDULER_ENABLED=1 $(BIN)/waitress-serve --listen=127.0.0.1:$(PORT) --threads=8 \
		--max-request-body-size=$(MAX_BODY_BYTES) --call web:create_app

# Several web processes for PostgreSQL (gunicorn, web/gunicorn_config.py): DATABASE_URL and SECRET_KEY (shared
# by the processes) come from the environment (run `flask --app web init-db` on the database first);
# WEB_PROCESSES (default: the CPUs), WEB_THREADS (8) and PORT may be overridden. These processes run no timers:
# start the sweep, deliveries, purge and reports separately with `.venv/bin/flask --app web worker` (one or
# more). SQLite stays on `make run`.
serve: $(STAMP) $(NPM_STAMP) translations
	SCHEDULER_ENABLED=0 PORT=$(PORT) $(if $(WEB_PROCESSES),WEB_PROCESSES=$(WEB_PROCESSES),) \
		$(if $(WEB_THREADS),WEB_THREADS=$(WEB_THREADS),) $(BIN)/gunicorn -c python:web.gunicorn_config 'web:create_app()'

# The suite on the embedded default (SQLite); set DATABASE_URL to run it on PostgreSQL.
test: $(STAMP) $(NPM_STAMP) $(CHROMIUM) translations
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# bench.pages: page timings at 100,000 applications, on SQLite and on PostgreSQL (a scratch
# database created beside PAGES_POSTGRES's and dropped afterwards; PAGES_POSTGRES= skips it).
PAGES_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)
	$(BIN)/python -m bench.pages --write $(if $(QUICK),--applications 10000 --runs 3,) $(if $(PAGES_POSTGRES),--postgres $(PAGES_POSTGRES),)

# bench.scale: the pages at 1,000,000 applications on PostgreSQL, filled by set-based SQL in a scratch
# database `bench_scale` created beside SCALE_POSTGRES's and dropped afterwards (takes about 10 minutes).
SCALE_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
SCALE_APPLICATIONS ?= 1000000
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale --write --applications $(SCALE_APPLICATIONS) --admin $(SCALE_POSTGRES)

# The race tests with many trials on PostgreSQL (CI runs a few per race): late steps, the sweep and
# withdrawals interleaved on one case must each end in success or a 409.
STRESS_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
STRESS_TRIALS ?= 200
stress: $(STAMP)
	STRESS_TRIALS=$(STRESS_TRIALS) DATABASE_URL=$(STRESS_DATABASE_URL) $(BIN)/python -m pytest -q \
		tests/engine/test_races.py tests/engine/test_concurrency.py

# mypy reads its settings (engine/, strictness, untyped libraries) from pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .mypy_cache
