import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from worker_process import start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "client") not in sys.path:  # the client need not be pip-installed to be tested
    sys.path.insert(0, str(ROOT / "client"))


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()


@pytest.fixture
def worker(live_server, isolated_media):
    """A real background worker process on the live server's database and media."""
    process = start_worker(isolated_media, stderr=subprocess.PIPE)
    yield process
    stop_worker(process)
