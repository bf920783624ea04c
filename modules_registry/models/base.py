"""What every stored artefact shares: an owner, a visibility, lineage to its job, immutability."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private"


class ImmutableRowError(ValidationError):
    """An attempt to change an artefact after it was written."""


class ArtifactQuerySet(models.QuerySet):
    """Who may see a row is decided in one place, ``modules_registry.selectors.visibility_rule``."""

    def update(self, **kwargs):
        frozen = set(kwargs) - set(self.model.MUTABLE_FIELDS)
        if frozen:
            raise ImmutableRowError(f"{self.model.__name__} fields {sorted(frozen)} are immutable once written")
        return super().update(**kwargs)


class Artifact(models.Model):
    """An immutable artefact row: a new result is a new row, never an overwrite.

    Only the fields in MUTABLE_FIELDS (descriptive metadata) may change after the insert.
    """

    MUTABLE_FIELDS: tuple[str, ...] = ("name", "description", "visibility")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    job = models.ForeignKey("modules_registry.Job", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+", help_text="the job that produced this row")

    objects = ArtifactQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or set(update_fields) - set(self.MUTABLE_FIELDS):
                changed = self._changed_frozen_fields()
                if changed:
                    raise ImmutableRowError(
                        f"{type(self).__name__} #{self.pk} is immutable; fields {changed} cannot change")
        super().save(*args, **kwargs)

    def _changed_frozen_fields(self) -> list[str]:
        stored = type(self).objects.filter(pk=self.pk).values().first()
        if stored is None:
            return []
        return sorted(
            f.attname for f in self._meta.concrete_fields
            if f.name not in self.MUTABLE_FIELDS and stored.get(f.attname) != getattr(self, f.attname)
        )

    def delete(self, *args, **kwargs):
        raise ImmutableRowError(f"{type(self).__name__} rows are never deleted by the application")
