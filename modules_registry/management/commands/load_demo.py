"""Makes sure the hub has its demo content; queues only what is missing, so it is safe to re-run.

Demo content: the built-in digits-32 data set and a handful of small models of different architectures
trained on it in the background worker — two of them deliberately weak (trained on a Dirichlet-skewed
quarter of the data), so that there is something to patch.
"""
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from modules_registry.models import BaseModel, Dataset, Job
from modules_registry.services.datasets import add_builtin_dataset
from modules_registry.services.models import start_training

DEMO_USER = "demo"
DEMO_DATASET = "digits-32"
GOOD = {"epochs": 8, "lr": 3e-3, "lr_schedule": "cosine", "seed": 0}
# Plain VGG-style stacks train poorly with Adam at this size; SGD with momentum reaches ~99 % in 8 epochs.
GOOD_SGD = {**GOOD, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
WEAK = {"epochs": 6, "lr": 3e-3, "seed": 1, "dirichlet_alpha": 0.3, "subsample": 0.25}
DEMO_MODELS = [
    ("demo-simcnn", "simcnn", {"width": 0.25}, GOOD_SGD, "SimCNN (VGG16-like), a quarter of the paper's width"),
    ("demo-rescnn", "rescnn", {"width": 0.25}, GOOD, "ResCNN (residual adds), a quarter of the paper's width"),
    ("demo-incecnn", "incecnn", {"width": 0.25}, GOOD, "InceCNN (inception blocks), a quarter of the paper's width"),
    ("demo-resnet18", "resnet18", {"width": 0.25}, {**GOOD, "epochs": 6}, "torchvision resnet18 at a quarter width"),
    ("demo-rescnn-weak", "rescnn", {"width": 0.25}, WEAK,
     "deliberately weak: trained on a Dirichlet(0.3)-skewed quarter of digits-32"),
    ("demo-simcnn-weak", "simcnn", {"width": 0.25}, {**WEAK, "seed": 2},
     "deliberately weak: trained on a Dirichlet(0.3)-skewed quarter of digits-32"),
]


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
        dataset = Dataset.objects.filter(owner=user, name=DEMO_DATASET).first()
        if dataset is None:
            dataset = add_builtin_dataset(owner=user, builtin=DEMO_DATASET)
            self.stdout.write(f"registered data set {DEMO_DATASET}")
        pending = set(Job.objects.filter(owner=user, kind=Job.Kind.TRAIN, status__in=[
            Job.Status.QUEUED, Job.Status.RUNNING]).values_list("params__name", flat=True))
        existing = set(BaseModel.objects.filter(owner=user).values_list("name", flat=True))
        for name, architecture, kwargs, config, description in DEMO_MODELS:
            if name in existing or name in pending:
                continue
            job = start_training(owner=user, dataset=dataset, name=name, architecture=architecture,
                                 arch_kwargs=kwargs, config=config, device="auto", description=description)
            self.stdout.write(f"queued job #{job.pk}: train {name}")
