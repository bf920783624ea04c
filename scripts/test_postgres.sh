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
# these cover and whose time is the engine's; of the files below, the end-to-end concern and CNNSplitter runs
# through the API (their bad requests, refused with nothing written, do run here) and the training job's
# accuracy check (the many-workers drain runs trainings through real workers here). More than 2 workers on one
# queue: bench/many_workers.py.
DATABASE_URL="$url" exec "$PY" -m pytest -p no:cacheprovider tests/api tests/registry/test_constraints.py \
  tests/registry/test_job_lifecycle.py tests/registry/test_task_path_migration.py tests/registry/test_visibility_migration.py tests/registry/test_blobs.py \
  tests/registry/test_dataset_import.py tests/registry/test_model_import.py tests/registry/test_many_workers.py \
  tests/registry/test_database_outage.py \
  --deselect tests/api/test_api_concern.py::test_concern_through_the_api_pages_and_builds \
  --deselect tests/api/test_api_cnnsplitter.py::test_cnnsplitter_through_the_api_builds_and_patching \
  --deselect tests/registry/test_job_lifecycle.py::test_training_job_succeeds_and_registers_a_model_with_lineage "$@"
