"""#19.3: PostgreSQL stops for a few seconds while jobs run; the worker and the web process recover when it returns.

Run on a throw-away PostgreSQL server of this test's own (Debian's binaries, initdb in a temporary directory, another
port), never on a shared one: it is stopped mid-test. The worker waits for the database instead of exiting, fails
the job whose run the outage broke (the user starts it again) and drains the rest of the queue; the web process
answers 503 database_unavailable meanwhile and 200 at once when the server is back."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from worker_process import ROOT, free_port, start_server, wait_for

pytestmark = pytest.mark.slow


def postgres_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres` then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def why_no_server() -> str:
    if connection.vendor != "postgresql":
        return ("a PostgreSQL test: it runs in the PostgreSQL run (scripts/test_postgres.sh), on a throw-away server "
                "of its own")
    if postgres_bin() is None:
        return "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or subprocess.run(
            ["id", "postgres"], capture_output=True).returncode):
        return "running as root without a `postgres` user to run a throw-away server as"
    return ""


class ThrowAwayServer:
    def __init__(self):
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="hub-pg-outage-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "hub")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/hub"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*as_server_user(), str(self.bin / tool), *args], check=True, capture_output=True,
                       timeout=120, cwd=self.dir)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")  # ends every open connection

    def remove(self) -> None:
        subprocess.run([*as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def api(port: int, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method="POST" if body else "GET",
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


MAKE_USER = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django.setup()
from django.contrib.auth import get_user_model
from accounts.services import create_token
user = get_user_model().objects.create_user("alice", password="alice-password-1")
print(create_token(user=user, name="outage", scope="write")[1])
"""


@pytest.mark.skipif(bool(why_no_server()), reason=why_no_server() or "-")
def test_the_worker_and_the_web_process_recover_when_postgresql_returns(tmp_path):
    server = ThrowAwayServer()
    processes = []
    try:
        env = {**os.environ, "DATABASE_URL": server.url, "HUB_MEDIA_ROOT": str(tmp_path / "media"),
               "HUB_UPLOAD_TEMP_DIR": str(tmp_path / "upload-tmp"), "HUB_JOB_HEARTBEAT_SECONDS": "0.5",
               "HUB_THROTTLE_USER": "100000/min"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
        token = subprocess.run([sys.executable, "-c", MAKE_USER], cwd=ROOT, env=env, check=True, capture_output=True,
                               text=True, timeout=120).stdout.strip().splitlines()[-1]
        with (tmp_path / "worker.log").open("w") as log:
            worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", "fast,default,gpu",
                                       "--no-reload", "--no-startup-delay", "--interval", "0.2", "--worker-id",
                                       "outage"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(worker)
        port = free_port()
        with (tmp_path / "web.log").open("w") as web_log:
            processes.append(start_server(port, env, stdout=web_log, stderr=subprocess.STDOUT))

        def job(job_id: int) -> dict:
            return api(port, f"jobs/{job_id}/", token)[1]

        status, first = api(port, "datasets/import/", token, {"builtin": "digits-16"})
        assert status == 202, first
        wait_for(lambda: job(first["id"])["status"] == "succeeded", 120, "the data set import")
        dataset = job(first["id"])["result"]["dataset"]
        status, training = api(port, "models/train/", token, {"dataset": dataset, "name": "long", "architecture":
                                                              "rescnn", "arch_kwargs": {"width": 0.125},
                                                              "config": {"epochs": 200}, "device": "cpu"})
        assert status == 202, training
        queued = [api(port, "datasets/import/", token, {"builtin": "digits-16", "name": f"queued-{i}"})[1]["id"]
                  for i in range(2)]  # behind the training: the one worker takes jobs in order
        wait_for(lambda: job(training["id"])["progress"] > 0, 120, "the training to run")

        server.stop()
        stopped = time.monotonic()
        status, body = api(port, "jobs/", token)
        assert status == 503 and body["code"] == "database_unavailable", body  # not a 500, not a hang
        time.sleep(max(0.0, 5 - (time.monotonic() - stopped)))
        assert worker.poll() is None  # waiting for the database, not dead
        server.start()
        outage = time.monotonic() - stopped

        status, body = api(port, "jobs/", token)  # the first request after the restart already works
        assert status == 200 and body["count"] == 4, body
        after = api(port, "datasets/import/", token, {"builtin": "digits-16", "name": "after"})[1]["id"]
        wait_for(lambda: all(job(i)["is_terminal"] for i in [training["id"], *queued, after]), 180,
                 "the queue to drain after the outage")
        assert worker.poll() is None
        interrupted = job(training["id"])
        assert interrupted["status"] == "failed" and "database became unreachable" in interrupted["error"]
        assert [job(i)["status"] for i in [*queued, after]] == ["succeeded"] * 3
        text = (tmp_path / "worker.log").read_text()
        assert "database unavailable" in text and "the database is back" in text
        print(f"\nPostgreSQL down {outage:.1f} s: web answered 503 database_unavailable, then 200 at once; the worker "
              "waited, failed the interrupted training and ran the 3 jobs queued before and after")
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
        server.remove()
