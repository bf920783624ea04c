"""Token writes and the lookup used by the API's authentication."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import APIToken

TOKEN_PREFIX = "hub_"
SHOWN_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_NAME = 80


class TokenError(ValueError):
    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(*, user, name: str, scope: str = APIToken.Scope.READ, expires_in_days: int | None = None,
                 expires_at: datetime | None = None) -> tuple[APIToken, str]:
    """Create a token; returns the row and the token itself, which is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise TokenError(f"give the token a name of 1 to {MAX_NAME} characters", field="name")
    if scope not in APIToken.Scope.values:
        raise TokenError(f"scope must be one of {', '.join(APIToken.Scope.values)}", field="scope")
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= 3650:
            raise TokenError("expiry must be between 1 and 3650 days", field="expires_in_days")
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("the expiry must be in the future", field="expires_at")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(user=user, name=name, scope=scope, expires_at=expires_at,
                                    prefix=raw[:SHOWN_PREFIX_LENGTH], key_hash=hash_token(raw))
    return token, raw


def revoke_token(*, user, token_id: int) -> APIToken:
    token = APIToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise TokenError("no such token", field="token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate(raw: str) -> APIToken | None:
    """The active token with this value (its user loaded), or None. Records when it was last used."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = APIToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
