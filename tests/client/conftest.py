import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "client") not in sys.path:  # the client need not be pip-installed to be tested
    sys.path.insert(0, str(ROOT / "client"))


@pytest.fixture(autouse=True)
def fast_passwords_and_fresh_throttles(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


@pytest.fixture
def worker(live_server, isolated_media):
    """A real background worker process on the live server's database and media."""
    env = {**os.environ, "HUB_SQLITE_PATH": str(settings.DATABASES["default"]["NAME"]),
           "HUB_MEDIA_ROOT": str(isolated_media), "DJANGO_SETTINGS_MODULE": "hub.settings"}
    process = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", "default,gpu",
                                "--no-startup-delay", "--interval", "0.2", "--no-reload"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
