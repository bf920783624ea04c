"""API tokens for scripts: many per user, stored as a sha256 hash, read or write scope, optional expiry."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.utils import timezone

models.CharField.register_lookup(Length)


class APIToken(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="what the token is for, e.g. 'laptop' or 'CI'")
    prefix = models.CharField(max_length=16, db_index=True, help_text="the token's first characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, help_text="sha256 of the token; the token itself is never stored")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=["read", "write"]), name="apitoken_scope_known"),
            models.CheckConstraint(condition=models.Q(key_hash__length=64), name="apitoken_hash_is_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE
