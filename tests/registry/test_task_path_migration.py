"""Jobs queued under the bridge's old task path (``splitter_engine.tasks``) still run after the move."""
import importlib

import pytest
from django.apps import apps
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from modules_registry.models import Job
from modules_registry.services.datasets import import_builtin_dataset

moved = importlib.import_module("modules_registry.migrations.0002_task_path_moved_to_registry")


@pytest.mark.django_db(transaction=True)
def test_a_job_queued_under_the_old_task_path_is_rewritten_and_runs(user, drain_jobs):
    job = import_builtin_dataset(owner=user, builtin="digits-16")
    job.refresh_from_db()
    queued = DBTaskResult.objects.get(pk=job.task_id)
    DBTaskResult.objects.filter(pk=queued.pk).update(task_path=moved.OLD)

    moved.rename(apps, moved.OLD, moved.NEW)

    queued.refresh_from_db()
    assert queued.task_path == "modules_registry.tasks.run_job"
    assert import_string(queued.task_path) is import_string("modules_registry.tasks.run_job")
    drain_jobs()
    assert Job.objects.get(pk=job.pk).status == "succeeded"
