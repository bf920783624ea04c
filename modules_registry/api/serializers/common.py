"""Fields every resource shares: lineage references that respect visibility, and files with their sha256."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from modules_registry import selectors


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None)


class RefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.URLField()


class FileOut(serializers.Serializer):
    sha256 = serializers.CharField(help_text="hex sha256 of the bytes; also the download's ETag")
    size = serializers.IntegerField(help_text="bytes")
    media_type = serializers.CharField()
    download_url = serializers.URLField()


def ref(row, url_name: str, context) -> dict | None:
    """A link to a related entry, or null where the entry is private to someone else."""
    if row is None or not selectors.is_visible(row, _user(context)):
        return None
    return {"id": row.pk, "name": str(getattr(row, "name", "") or row), "url": reverse(
        f"api:{url_name}", kwargs={"pk": row.pk}, request=context.get("request"))}


@extend_schema_field(RefOut(allow_null=True))
class RefField(serializers.Field):
    """Lineage: ``{id, name, url}`` of the related entry ``attr``, or null if you may not see it."""

    def __init__(self, attr: str, url_name: str, **kwargs):
        self.attr, self.url_name = attr, url_name
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, row):
        return ref(getattr(row, self.attr), self.url_name, self.context)


@extend_schema_field(FileOut(allow_null=True))
class FileField(serializers.Field):
    """A stored file: ``{sha256, size, media_type, download_url}``; the url streams it."""

    def __init__(self, attr: str, url_name: str, **kwargs):
        self.attr, self.url_name = attr, url_name
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, row):
        blob = getattr(row, self.attr)
        if blob is None:
            return None
        return {"sha256": blob.sha256, "size": blob.size, "media_type": blob.media_type,
                "download_url": reverse(f"api:{self.url_name}", kwargs={"pk": row.pk},
                                        request=self.context.get("request"))}


class ArtifactOut(serializers.ModelSerializer):
    """Fields of every artefact: id, url, owner, visibility, created_at, job."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True,
                                   help_text="the job that produced it (visible to its owner under /api/jobs/)")

    ARTIFACT_FIELDS = ("id", "url", "owner", "visibility", "created_at", "job")
