"""The model card's words: the owner edits a model's description (Markdown) and tags; nothing else changes."""
from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel

MAX_DESCRIPTION = 20_000
MAX_TAGS = 12
TAG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def clean_description(value) -> str:
    if not isinstance(value, str):
        raise HubError("description must be a string (Markdown)", field="description")
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise HubError(f"the description is {len(value):,} characters, more than {MAX_DESCRIPTION:,}",
                       field="description", details={"limit": MAX_DESCRIPTION})
    return value


def clean_tags(value) -> list[str]:
    """A list of tags (or one comma-separated string, as a form sends): lower-cased, de-duplicated in order."""
    if isinstance(value, str):
        value = [t for t in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise HubError("tags must be a list of strings, e.g. [\"digits\", \"grey\"]", field="tags")
    tags: list[str] = []
    for raw in value:
        tag = raw.strip().lower()
        if not tag:
            continue
        if not TAG.match(tag):
            raise HubError(f"tag {raw.strip()[:40]!r} is not valid: up to 32 characters a-z, 0-9, '.', '_' or '-', "
                           "starting with a letter or digit", field="tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise HubError(f"{len(tags)} tags given; a model takes at most {MAX_TAGS}", field="tags",
                       details={"limit": MAX_TAGS})
    return tags


def edit_model_card(user, model: BaseModel, *, description=None, tags=None) -> BaseModel:
    """Set what is given (None leaves a field as it is); only the model's owner may."""
    if model.owner_id != getattr(user, "pk", None):
        raise PermissionDenied("only the model's owner can edit its description and tags")
    changed = {}
    if description is not None:
        changed["description"] = clean_description(description)
    if tags is not None:
        changed["tags"] = clean_tags(tags)
    if not changed:
        raise HubError("nothing to change: send description and/or tags", code=ErrorCode.INVALID)
    for field, value in changed.items():
        setattr(model, field, value)
    model.save(update_fields=list(changed))
    return model
