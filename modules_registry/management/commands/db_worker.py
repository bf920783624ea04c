"""django-tasks-db's worker, plus recovery of jobs whose worker died (at start and periodically)."""
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from modules_registry import blobs
from modules_registry.job_runtime import StaleJobReaper, recover_stale_jobs


class Command(DbWorkerCommand):
    help = DbWorkerCommand.help + ", marking jobs of dead workers failed"

    def handle(self, *args, **options):
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
