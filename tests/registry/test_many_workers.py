"""#19.2: many `db_worker` processes share one queue. Two workers on SQLite and two on PostgreSQL drain 40 mixed jobs
(imports, trainings, decompositions, builds): every job runs exactly once, none is lost, none is run twice, which
the job rows, the task rows and the workers' own logs each show. More workers than cores (4 on PostgreSQL) is timed
by bench/many_workers.py, on this same queue and checks."""
import pytest
from django.db import connection

from mixed_queue import check_each_job_ran_once, describe, drain_with_workers, queue_mixed_jobs, row_counts
from tiny_lineage import Lineage, make_tiny_lineage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lineage(user, drain_jobs) -> Lineage:
    return make_tiny_lineage(user, drain_jobs)


def on(database: str):
    return pytest.mark.skipif(
        connection.vendor != database,
        reason=f"a {database} run: this run's database is {connection.vendor} (the PostgreSQL runs are in "
               "scripts/test_postgres.sh, with DATABASE_URL=postgres://...; it skips them when no server is reachable)")


@pytest.mark.parametrize("database, workers", [pytest.param("sqlite", 2, marks=on("sqlite")),
                                               pytest.param("postgresql", 2, marks=on("postgresql"))])
def test_workers_drain_a_mixed_queue_running_each_job_exactly_once(database, workers, user, lineage, isolated_media,
                                                                   tmp_path, settings):
    settings.HUB_QUOTA_JOBS = 0  # one user queues all 40
    before = row_counts()
    queued = queue_mixed_jobs(user, lineage)
    drain = drain_with_workers(queued, workers, isolated_media, tmp_path)
    per_worker = check_each_job_ran_once(queued, drain, before)
    print(f"\n{describe(queued, drain, per_worker, workers, database)}")
    assert len(per_worker) >= 2  # the queue was shared, not drained by one worker while the others idled
