"""Which process wrote something, and whether that process is gone: tags for workers and temporary files.

A tag is ``<machine>.<boot>.<pid>``: ``machine`` hashes the host name and the PID namespace (two containers on one
host are two machines), ``boot`` is the kernel's boot id (after a reboot every old process is gone), ``pid`` the
process. A process can tell at once that a tag of its own machine names a process that no longer runs: its boot id
differs, or no process has that pid. A tag of another machine is never judged: its owner is gone only when its
heartbeat stops (jobs) or its files grow old (temporary files).
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import socket

TAG = re.compile(r"(?P<machine>[0-9a-f]{10})\.(?P<boot>[0-9a-f]{8}|0{8})\.(?P<pid>\d+)")


@functools.lru_cache(maxsize=1)
def machine_key() -> str:
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}/{namespace}".encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=1)
def boot_key() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return re.sub(r"[^0-9a-f]", "", handle.read())[:8].ljust(8, "0")
    except OSError:
        return "0" * 8


def process_tag(pid: int | None = None) -> str:
    """This process's tag (or that of ``pid`` on this machine)."""
    return f"{machine_key()}.{boot_key()}.{os.getpid() if pid is None else pid}"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def gone(text: str) -> bool:
    """Whether ``text`` starts with (or holds) the tag of a process of this machine that no longer runs."""
    match = TAG.search(text or "")
    if match is None or match["machine"] != machine_key():
        return False
    if match["boot"] != boot_key():
        return True
    pid = int(match["pid"])
    return pid != os.getpid() and not pid_alive(pid)
