from django.db import models
from django.db.models.functions import Length

models.CharField.register_lookup(Length)


class Blob(models.Model):
    """Bytes addressed by their sha256; the file lives at blobs/sha256/ab/cd/<hex>.

    A row exists only once its file is completely in place (see modules_registry.blobs).
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    media_type = models.CharField(max_length=100, default="application/octet-stream")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="blob_size_not_negative"),
            models.CheckConstraint(condition=models.Q(sha256__length=64), name="blob_sha256_is_64_hex"),
        ]

    def __str__(self) -> str:
        return f"sha256:{self.sha256[:12]}… ({self.size} B)"

    @property
    def storage_name(self) -> str:
        return f"blobs/sha256/{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("blobs are written once and never changed")
        super().save(*args, **kwargs)
