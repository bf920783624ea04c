"""A real `manage.py db_worker` process on the test database and media, for tests that need one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def database_env() -> dict[str, str]:
    """What points another process at this test run's database (SQLite file or PostgreSQL test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return {"HUB_SQLITE_PATH": str(db["NAME"])}
    return {"DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


ALL_LANES = "fast,default,gpu"


def start_worker(media: Path, *, stdout=subprocess.DEVNULL, stderr=None, worker_id: str | None = None,
                 queues: str = ALL_LANES, **env: str) -> subprocess.Popen:
    environment = {**os.environ, **database_env(), "HUB_MEDIA_ROOT": str(media), **env}
    command = [sys.executable, "manage.py", "db_worker", "--queue-name", queues, "--no-reload",
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
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def wait_for(predicate, timeout: float, what: str):
    """``predicate()``'s first truthy value, polled every 0.1 s; AssertionError after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, env: dict, **popen) -> subprocess.Popen:
    """A real `manage.py runserver` on 127.0.0.1:``port`` with ``env``, once it answers."""
    import socket

    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, **{**quiet, **popen})

    def answers():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return sock.recv(12).startswith(b"HTTP/1")
        except OSError:
            return False

    wait_for(answers, 120, "the web process to answer")
    return server
