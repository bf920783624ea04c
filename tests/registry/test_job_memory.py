"""#19: a job that outgrows the worker's memory fails with a message, and the worker lives on (instead of the kernel
killing it at 23 GB resident)."""
import subprocess
import sys
from pathlib import Path

import pytest

from modules_registry.job_runtime import running, worker_memory_cap
from modules_registry.models import Job

ROOT = Path(__file__).resolve().parents[2]

ALLOCATE_PAST_THE_CAP = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django.setup()
import numpy as np, torch
from modules_registry.job_runtime import apply_memory_cap, is_out_of_memory
assert apply_memory_cap(1024**3)
for allocate in (lambda: torch.ones(4 * 1024**3, dtype=torch.uint8), lambda: np.ones(4 * 1024**3, np.uint8)):
    try:
        allocate()
    except Exception as exc:
        assert is_out_of_memory(exc), repr(exc)
    else:
        raise SystemExit("allocated 4 GB under a 1 GB cap")
small = torch.ones(16 * 1024**2, dtype=torch.uint8)  # the process goes on
print("refused", int(small.sum()))
"""


def test_an_allocation_past_the_workers_cap_fails_instead_of_killing_the_worker():
    done = subprocess.run([sys.executable, "-c", ALLOCATE_PAST_THE_CAP], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith(f"refused {16 * 1024**2}")


def test_the_cap_is_the_setting_else_most_of_the_machine_for_cpu_workers(settings):
    settings.HUB_WORKER_MEMORY_BYTES = None
    assert 0 < worker_memory_cap(["default"]) < 10**15
    assert worker_memory_cap(["default", "gpu"]) == 0  # the CUDA driver maps host memory of its own
    settings.HUB_WORKER_MEMORY_BYTES = 3 * 1024**3
    assert worker_memory_cap(["gpu"]) == 3 * 1024**3
    settings.HUB_WORKER_MEMORY_BYTES = 0
    assert worker_memory_cap(["default"]) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("error", [MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:117] "
                                                               "DefaultCPUAllocator: can't allocate memory: you "
                                                               "tried to allocate 4294967296 bytes")])
def test_a_job_out_of_memory_fails_with_a_message_that_says_so(user, error):
    job = Job.objects.create(kind=Job.Kind.TRAIN, owner=user, params={}, device="cpu")
    with running(job.pk, worker_id="w") as claimed:
        assert claimed is not None
        raise error
    job.refresh_from_db()
    assert job.status == "failed" and job.message == "out of memory"
    assert job.error.startswith("the job ran out of memory") and "smaller network, batch or data set" in job.error
