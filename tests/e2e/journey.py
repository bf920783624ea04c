"""Steps of the browser journey, shared by the tests."""
from __future__ import annotations

import re
import time


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"))


def finish_job(page) -> list[float]:
    """Wait on a job page until the job ends successfully; returns the progress values seen."""
    page.wait_for_url(re.compile(r".*/jobs/\d+/$"))
    seen = wait_for_job_end(page)
    status = page.locator("#job-status").get_attribute("data-status")
    if status != "succeeded":
        raise AssertionError(f"job {page.url} ended {status}: {page.locator('#job-status').inner_text()}")
    return seen


def open_result(page, label: str) -> None:
    page.get_by_role("link", name=re.compile(rf"Open the {label}")).click()


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def wait_for_job_end(page, timeout_s: float = 420.0) -> list[float]:
    """On a job page: wait until the polled status says the job ended; returns the progress values seen."""
    seen: list[float] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = page.locator("#job-status")
        value = status.locator("#job-progress").get_attribute("value")
        if value is not None and (not seen or float(value) != seen[-1]):
            seen.append(float(value))
        if status.get_attribute("data-status") in ("succeeded", "failed", "cancelled"):
            return seen
        page.wait_for_timeout(150)
    raise AssertionError(f"job did not end within {timeout_s:.0f} s; progress seen {seen}")
