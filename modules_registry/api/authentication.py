"""API tokens for scripts: ``Authorization: Bearer hub_…``. The browser uses DRF's SessionAuthentication."""
from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts import services as tokens

KEYWORD = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Sets ``request.auth`` to the APIToken row, so permissions can check its scope."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("send the token as 'Authorization: Bearer <token>'")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("the token is not valid") from None
        token = tokens.authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("the token is not valid: unknown, expired or revoked")
        return token.user, token

    def authenticate_header(self, request):
        return f'{KEYWORD} realm="api"'
