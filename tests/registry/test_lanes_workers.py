"""#18.4 with real worker processes, as `make run` starts them: one per lane. A short job submitted while a
decomposition runs starts within 10 s (it waited 14 minutes behind one when `make run` had a single worker)."""
import pytest
from django_tasks_db.models import DBTaskResult

from modules_registry.models import Decomposition, Job
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.jobs import request_cancel
from modules_registry.services.models import start_evaluation
from worker_process import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_short_job_starts_within_10_s_while_a_decomposition_runs(user, small_model, isolated_media):
    workers = {lane: start_worker(isolated_media, queues=lane, worker_id=f"lane-{lane}")
               for lane in ("fast", "default")}
    try:
        warm_up = start_evaluation(owner=user, model=small_model)  # the fast worker is up once this has run
        wait_for(lambda: Job.objects.get(pk=warm_up.pk).is_terminal, 120, "the fast worker to start")
        decomposition = start_decomposition(owner=user, model=small_model, preset="paper")  # minutes on its own
        # Claimed and running on the default worker is enough: its first epoch alone takes tens of seconds here.
        wait_for(lambda: Job.objects.filter(pk=decomposition.pk, status="running").exists(), 120,
                 "the decomposition to run")
        evaluation = start_evaluation(owner=user, model=small_model)
        wait_for(lambda: Job.objects.get(pk=evaluation.pk).is_terminal, 60, "the evaluation to end")
        assert Job.objects.get(pk=decomposition.pk).status == "running"  # still running all along
        request_cancel(job=decomposition, user=user)
        wait_for(lambda: Job.objects.get(pk=decomposition.pk).is_terminal, 60, "the decomposition to stop")
    finally:
        for process in workers.values():
            stop_worker(process)
    evaluation.refresh_from_db()
    task = DBTaskResult.objects.get(id=evaluation.task_id)
    waited = (task.started_at - task.enqueued_at).total_seconds()
    print(f"\nfast lane: the evaluation waited {waited:.2f} s (job row: "
          f"{(evaluation.started_at - evaluation.created_at).total_seconds():.2f} s) behind a running decomposition")
    assert evaluation.status == "succeeded", evaluation.error
    assert waited < 10 and (evaluation.started_at - evaluation.created_at).total_seconds() < 10
    assert evaluation.worker_id == "lane-fast" and Job.objects.get(pk=decomposition.pk).worker_id == "lane-default"
    assert Job.objects.get(pk=decomposition.pk).status == "cancelled" and not Decomposition.objects.exists()
