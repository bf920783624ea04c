"""python manage.py reproduce: queue (or, with --here, run in this process) the papers' experiments."""
from __future__ import annotations

import contextlib

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from modules_registry import selectors
from modules_registry.errors import HubError
from modules_registry.experiments.profiles import EXPERIMENTS, PROFILES
from modules_registry.models import Dataset, Experiment, Job
from modules_registry.services.datasets import add_builtin_dataset
from modules_registry.services.experiments import start_experiment
from modules_registry.services.jobs import inline_jobs


class Command(BaseCommand):
    help = ("Reproduce the papers' experiments (methods side by side, patching, reuse, accuracy from modules, cost) "
            "as a background job; the report appears on the Experiments page")

    def add_arguments(self, parser):
        parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
        parser.add_argument("--dataset", default="digits-32",
                            help="a data set id, or the name of a built-in data set (registered if missing)")
        parser.add_argument("--experiments", default=",".join(EXPERIMENTS),
                            help=f"comma-separated subset of {','.join(EXPERIMENTS)}")
        parser.add_argument("--seeds", type=int, default=3, help="how many seeds (1, 2, ...)")
        parser.add_argument("--classes", type=int, default=0, help="only the data set's first N classes (0: all)")
        parser.add_argument("--user", default="demo", help="the owner of the run and of every row it makes")
        parser.add_argument("--name", default="")
        parser.add_argument("--device", default="", help="auto, cpu or cuda (default: the profile's)")
        parser.add_argument("--here", action="store_true",
                            help="run in this process and wait (no worker needed); prints the report's claims")

    def handle(self, *args, **options):
        user, _ = get_user_model().objects.get_or_create(username=options["user"])
        dataset = self._dataset(options["dataset"], user)
        try:
            with inline_jobs() if options["here"] else contextlib.nullcontext():
                job = start_experiment(owner=user, dataset=dataset, profile=options["profile"],
                                       experiments=options["experiments"], seeds=options["seeds"],
                                       classes=options["classes"], name=options["name"], device=options["device"])
        except HubError as exc:
            raise CommandError(f"{exc.field or 'request'}: {exc}") from exc
        if options["here"]:
            self._run_here(job)
        else:
            self.stdout.write(f"queued experiment job #{job.pk} ({job.queue_name} lane); a worker runs it")

    def _dataset(self, value: str, user) -> Dataset:
        if value.isdigit():
            row = Dataset.objects.filter(pk=int(value)).first()
            if row is None:
                raise CommandError(f"no data set #{value}")
            return row
        # the user's own or a shared data set of that name, never another user's private one
        row = selectors.datasets_visible_to(user).filter(name=value).order_by("pk").first()
        if row is not None:
            return row
        try:
            return add_builtin_dataset(owner=user, builtin=value)
        except HubError as exc:
            raise CommandError(str(exc)) from exc

    def _run_here(self, job: Job) -> None:
        from modules_registry.job_runtime import worker_id_for_this_process
        from modules_registry.tasks import run_here

        self.stdout.write(f"running experiment job #{job.pk} in this process")
        run_here(job.pk, worker_id=worker_id_for_this_process())
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"job #{job.pk} {job.status}: {job.error or job.message}")
        experiment = Experiment.objects.get(pk=job.result["experiment"])
        self.stdout.write(f"experiment #{experiment.pk}: {experiment.seconds / 60:.1f} min")
        for claim in experiment.report["claims"]:
            ours = claim["ours"]
            shown = f"{ours['mean']:+.2f} ± {ours['std']:.2f}" if ours else "—"
            self.stdout.write(f"  {claim['claim']}: paper {claim['paper']:+g}, ours {shown} -> {claim['verdict']}")
