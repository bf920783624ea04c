# Two commands: `make run` serves the hub with a background worker; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv migrate demo worker serve bench-quick clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# Server and worker together; Ctrl-C stops both (see scripts/run_hub.sh).
run: demo
	$(PY) manage.py collectstatic --noinput -v 0
	HOST=$(HOST) PORT=$(PORT) PY=$(PY) bash scripts/run_hub.sh

# The whole suite on SQLite, then the registry, job-queue and API tests on PostgreSQL (scripts/test_postgres.sh).
test: $(STAMP)
	bash scripts/ensure_test_deps.sh
	$(PY) -m pytest
	PY=$(PY) bash scripts/test_postgres.sh

bench-quick: $(STAMP)
	$(PY) bench/decompose.py --quick

clean:
	rm -rf $(VENV) var
