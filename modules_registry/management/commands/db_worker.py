"""django-tasks-db's worker, plus a memory cap, recovery of jobs whose worker died (at start and periodically), a
sweep of the files dead processes left behind, and a wait (not an exit) while the database is unreachable."""
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from modules_registry.job_runtime import (DATABASE_DOWN, StaleJobReaper, apply_memory_cap, recover_dead_workers_jobs,
                                          recover_stale_jobs, sweep_files, wait_for_database,
                                          worker_id_for_this_process, worker_memory_cap)


class Command(DbWorkerCommand):
    help = DbWorkerCommand.help + ", capping its memory and marking jobs of dead workers failed"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # The default worker id starts with this process's tag: a later worker on this machine tells at once that
        # this one is gone (and fails its job) instead of waiting for the heartbeat to time out.
        parser.set_defaults(worker_id=worker_id_for_this_process())

    def handle(self, *args, **options):
        cap = worker_memory_cap((options.get("queue_name") or "default").split(","))
        if apply_memory_cap(cap) and options.get("verbosity", 1):
            self.stdout.write(f"worker memory capped at {cap / 1024**3:.1f} GB (HUB_WORKER_MEMORY_BYTES)")
        recovered = recover_dead_workers_jobs() + recover_stale_jobs()
        if recovered:
            self.stdout.write(f"marked {recovered} job(s) of lost workers as failed")
        sweep_files()
        reaper = StaleJobReaper()
        reaper.start()
        try:
            while True:
                try:
                    return super().handle(*args, **options)
                except DATABASE_DOWN as exc:  # django-tasks-db's loop raises any error but a locked SQLite file
                    wait_for_database(options["worker_id"], exc)
        finally:
            reaper.stopped.set()
