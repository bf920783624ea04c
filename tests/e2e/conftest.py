"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server, and a real
django-tasks-db worker process runs the jobs the pages start."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from worker_process import start_worker, stop_worker

# Playwright's sync API keeps an event loop running in the test thread; Django's ORM would otherwise
# refuse to run there (microsoft/playwright-pytest#29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# "localhost" may resolve to ::1 first, where nothing listens; connecting there can hang for seconds.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/ensure_test_deps.sh installs it as root)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": LAUNCH_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "accept_downloads": True}


@pytest.fixture(scope="session", autouse=True)
def warm_imports():
    """Import every view (torch included) before the first request: on a busy 2-core machine that takes
    longer than a browser waits for a page."""
    from django.urls import get_resolver

    get_resolver().url_patterns
    import modules_registry.tasks  # noqa: F401


@pytest.fixture(autouse=True)
def patient_page(page):
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(60_000)
    return page


@pytest.fixture(scope="session")
def e2e_media(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-media")


@pytest.fixture(autouse=True)
def isolated_media(settings, e2e_media):
    """One media root for the session, shared by the live server and the worker process."""
    settings.MEDIA_ROOT = e2e_media
    settings.STORAGES = {**settings.STORAGES,
                         "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(e2e_media)}}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return e2e_media


@pytest.fixture
def worker(transactional_db, live_server, e2e_media):
    """A real `manage.py db_worker` process on the test database, polling every 0.2 s."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "worker.log", "w")
    process = start_worker(e2e_media, stdout=log, stderr=subprocess.STDOUT, worker_id="e2e",
                           HUB_JOB_HEARTBEAT_SECONDS="1", PYTHONUNBUFFERED="1")
    yield process
    stop_worker(process)
    log.close()


@pytest.fixture
def shoot():
    """Save a screenshot under test-artifacts/ (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
