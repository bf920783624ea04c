"""Per-user quotas that hold across web processes and machines: counted from the database at the door, under a
lock on the user's row, so two requests of one user (on two servers) cannot both pass the last free place.

- HUB_QUOTA_JOBS: jobs a user may have queued or running at once (``quota_jobs``, 429 until one ends);
- HUB_QUOTA_BYTES: bytes a user may store: the distinct blobs of their entries plus their uploads staged for
  an import (``quota_storage``, 413).
0 turns a quota off. Unlike the throttles (a per-process cache: a brake), these are limits.
"""
from __future__ import annotations

import functools
import operator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db.models import Q, Sum

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel, Blob, Build, Dataset, Decomposition, Job, Module

ACTIVE = (Job.Status.QUEUED, Job.Status.RUNNING)
# Every file an entry holds: (model, its blob fields).
BLOB_FIELDS = ((Dataset, ("arrays", "archive")), (BaseModel, ("weights",)), (Decomposition, ("result",)),
               (Module, ("spec", "weights")), (Build, ("onnx",)))


def job_limit() -> int:
    return max(int(getattr(settings, "HUB_QUOTA_JOBS", 0) or 0), 0)


def byte_limit() -> int:
    return max(int(getattr(settings, "HUB_QUOTA_BYTES", 0) or 0), 0)


def lock_user(owner) -> None:
    """Take the user's row lock until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's writers already queue
    for the database lock, transaction_mode IMMEDIATE). Call inside ``transaction.atomic``."""
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True))


def active_jobs(owner) -> int:
    return Job.objects.filter(owner=owner, status__in=ACTIVE).count()


def stored_bytes(owner) -> int:
    """Bytes the user's entries hold (a blob counted once however many of them share it) plus their staged uploads."""
    held = [Q(pk__in=model.objects.filter(owner=owner).exclude(**{field: None}).values(field))
            for model, fields in BLOB_FIELDS for field in fields]
    total = Blob.objects.filter(functools.reduce(operator.or_, held)).aggregate(total=Sum("size"))["total"] or 0
    for params in Job.objects.filter(owner=owner, status__in=ACTIVE).values_list("params", flat=True):
        staged = params.get("staged") if isinstance(params, dict) else None
        if staged and default_storage.exists(staged):
            total += default_storage.size(staged)
    return int(total)


def check_jobs(owner) -> None:
    limit = job_limit()
    if not limit:
        return
    active = active_jobs(owner)
    if active >= limit:
        raise HubError(f"you have {active} jobs queued or running, your limit (HUB_QUOTA_JOBS) is {limit}; wait for "
                       "one to end or cancel one, then send this again", code=ErrorCode.QUOTA_JOBS,
                       details={"limit": limit, "active": active})


def check_storage(owner, incoming: int = 0) -> None:
    """Refuse what would take the user's stored bytes over HUB_QUOTA_BYTES: an upload of ``incoming`` bytes, or
    (``incoming`` 0) any new entry once the quota is used up."""
    limit = byte_limit()
    if not limit:
        return
    used = stored_bytes(owner)
    if used + incoming > limit or (not incoming and used >= limit):
        what = f"this upload ({incoming:,} bytes)" if incoming else "a new entry"
        raise HubError(f"you store {used:,} bytes, your limit (HUB_QUOTA_BYTES) is {limit:,}: no room for {what}; "
                       "an administrator can raise the limit", code=ErrorCode.QUOTA_STORAGE,
                       details={"limit_bytes": limit, "used_bytes": used, "incoming_bytes": incoming})
