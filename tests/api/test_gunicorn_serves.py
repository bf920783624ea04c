"""gunicorn serves the hub (#19.4), and the web process never needs torch for pages and API reads.

A throw-away hub (its own SQLite file and media) is migrated and given a lineage of rows (tests/factories.py), then
gunicorn (one sync worker, as the README runs it) answers pages, API reads and a download; the worker has not
mapped torch's library. bench/load.py is the load test; this is the CI-sized check.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = """
import json, sys
sys.path.insert(0, "tests")
import django
django.setup()
from factories import chain, make_user
c = chain(make_user("gunicorn"), tag="served")
print(json.dumps({"model": c.model.pk, "build": c.build.pk}))
"""


def hub_env(data_dir: Path) -> dict:
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "DEBUG": "0", "SECRET_KEY": "gunicorn-test-only",
           "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SETTINGS_MODULE": "hub.settings"}
    env.pop("DATABASE_URL", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


def test_importing_the_web_process_does_not_import_torch():
    code = ("import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'hub.settings'; django.setup(); "
            "import hub.urls, hub.wsgi; print('torch' in sys.modules, 'onnxruntime' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env=hub_env(Path(os.environ.get("TMPDIR", "/tmp")) / "hub-no-torch-check"))
    assert result.stdout.split() == ["False", "False"], result.stderr


@pytest.mark.timeout(180)
def test_gunicorn_serves_pages_reads_and_downloads_without_torch(tmp_path):
    env = hub_env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    ids = json.loads(subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True,
                                    text=True).stdout.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "hub.wsgi:application", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1", "--error-logfile", str(tmp_path / "gunicorn.log")],
                              cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if fetch(port, "/api/models/")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        status, body = fetch(port, "/api/models/")
        assert status == 200 and [m["name"] for m in json.loads(body)["results"]] == ["model-served"]
        for path in ("/", "/models/", f"/models/{ids['model']}/", f"/builds/{ids['build']}/", "/modules/?q=cat",
                     f"/api/builds/{ids['build']}/", "/api/modules/?search=cat"):
            assert fetch(port, path)[0] == 200, path
        status, onnx = fetch(port, f"/api/builds/{ids['build']}/onnx/")
        assert status == 200 and onnx.startswith(b"onnx served")
        workers = worker_pids(server.pid)
        assert workers and not any("libtorch" in Path(f"/proc/{pid}/maps").read_text() for pid in workers)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log and "Booting worker" in log
