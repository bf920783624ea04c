"""A real `manage.py db_worker` process on the test database and media, for tests that need one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def start_worker(media: Path, *, stdout=subprocess.DEVNULL, stderr=None, worker_id: str | None = None,
                 **env: str) -> subprocess.Popen:
    environment = {**os.environ, "HUB_SQLITE_PATH": str(settings.DATABASES["default"]["NAME"]),
                   "HUB_MEDIA_ROOT": str(media), **env}
    command = [sys.executable, "manage.py", "db_worker", "--queue-name", "default,gpu", "--no-reload",
               "--no-startup-delay", "--interval", "0.2", "-v", "0"]
    if worker_id:
        command += ["--worker-id", worker_id]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr)


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
