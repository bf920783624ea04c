"""A one-line text progress bar for waiting on jobs (stderr, no dependencies)."""
from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, *, width: int = 30, stream: TextIO | None = None):
        self.label, self.width = label, width
        self.stream = stream or sys.stderr
        self._last = ""

    def update(self, job: dict) -> None:
        fraction = min(max(float(job.get("progress") or 0.0), 0.0), 1.0)
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        detail = job.get("stage") or job.get("status", "")
        if job.get("message"):
            detail = f"{detail}: {job['message']}"
        line = f"{self.label} [{bar}] {fraction * 100:5.1f}% {job.get('status', '')} {detail}"[:160]
        if line != self._last:
            pad = max(len(self._last) - len(line), 0)
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
