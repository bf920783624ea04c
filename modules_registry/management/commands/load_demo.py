"""Makes sure the hub has its demo content; queues only what is missing, so it is safe to re-run."""
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from modules_registry.models import Dataset, Job
from modules_registry.services.datasets import import_builtin_dataset

DEMO_USER = "demo"
DEMO_DATASET = "digits-32"


def demo_user():
    User = get_user_model()
    user, created = User.objects.get_or_create(username=DEMO_USER)
    password = None
    if created:
        password = os.environ.get("HUB_DEMO_PASSWORD") or ("demo-password" if settings.DEBUG else None)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user, password


class Command(BaseCommand):
    help = "Queue the demo content (built-in digits data set, small demo models) that the hub lacks"

    def handle(self, *args, **options):
        user, password = demo_user()
        if password:
            self.stdout.write(f"created the local demo account: user {DEMO_USER!r}, password {password!r}")
        pending = Job.objects.filter(owner=user, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        if Dataset.objects.filter(owner=user, name=DEMO_DATASET).exists():
            self.stdout.write(f"demo data set {DEMO_DATASET!r} is present")
        elif pending.filter(kind=Job.Kind.IMPORT_DATASET).exists():
            self.stdout.write(f"demo data set {DEMO_DATASET!r} is being imported")
        else:
            job = import_builtin_dataset(owner=user, builtin=DEMO_DATASET)
            self.stdout.write(f"queued job #{job.pk}: import {DEMO_DATASET}")
