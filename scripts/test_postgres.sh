#!/usr/bin/env bash
# The registry, job-queue and API tests again, on PostgreSQL (after the whole suite ran on SQLite).
# Called by `make test`; skipped, saying why, when no PostgreSQL server can be had (scripts/ensure_postgres.sh).
set -uo pipefail
PY=${PY:-.venv/bin/python}
if ! url=$(bash scripts/ensure_postgres.sh | tail -1) || [ -z "$url" ]; then
  echo "test_postgres: SKIPPED the PostgreSQL run: no server on loopback and none could be installed (see above)" >&2
  exit 0
fi
echo "test_postgres: running the registry, job-queue and API tests on $url"
# Not again here: the decomposition, build and training-heavy tests, whose database work is the same rows
# these cover and whose time is the engine's.
DATABASE_URL="$url" exec "$PY" -m pytest -p no:cacheprovider tests/api tests/registry/test_constraints.py \
  tests/registry/test_job_lifecycle.py tests/registry/test_task_path_migration.py tests/registry/test_visibility_migration.py tests/registry/test_blobs.py \
  tests/registry/test_dataset_import.py tests/registry/test_model_import.py tests/registry/test_many_workers.py \
  tests/registry/test_database_outage.py "$@"
