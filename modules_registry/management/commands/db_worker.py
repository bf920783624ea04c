"""django-tasks-db's worker, plus a memory cap and recovery of jobs whose worker died (at start and periodically)."""
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from modules_registry import blobs
from modules_registry.job_runtime import (StaleJobReaper, apply_memory_cap, recover_stale_jobs,
                                          worker_memory_cap)


class Command(DbWorkerCommand):
    help = DbWorkerCommand.help + ", capping its memory and marking jobs of dead workers failed"

    def handle(self, *args, **options):
        cap = worker_memory_cap((options.get("queue_name") or "default").split(","))
        if apply_memory_cap(cap) and options.get("verbosity", 1):
            self.stdout.write(f"worker memory capped at {cap / 1024**3:.1f} GB (HUB_WORKER_MEMORY_BYTES)")
        recovered = recover_stale_jobs()
        if recovered:
            self.stdout.write(f"marked {recovered} job(s) of lost workers as failed")
        blobs.remove_stale_temp_files()
        reaper = StaleJobReaper()
        reaper.start()
        try:
            return super().handle(*args, **options)
        finally:
            reaper.stopped.set()
