"""Scoped throttles for the expensive commands (rates in settings: HUB_THROTTLE_UPLOADS / _BUILDS).

Throttles use the Django cache, so they are per process with the default LocMem cache: a soft brake,
not a quota. Hard limits belong in the services.
"""
from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class UploadsThrottle(UserRateThrottle):
    scope = "uploads"


class BuildsThrottle(UserRateThrottle):
    scope = "builds"


class PredictThrottle(SimpleRateThrottle):
    """Predictions, like Try it: HUB_THROTTLE_TRY per user (per address for anonymous callers)."""

    scope = "predict"

    def get_rate(self):
        return getattr(settings, "HUB_THROTTLE_TRY", "30/min")

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


DEFAULT = [AnonRateThrottle, UserRateThrottle]
UPLOADS = [*DEFAULT, UploadsThrottle]
BUILDS = [*DEFAULT, BuildsThrottle]
PREDICT = [*DEFAULT, PredictThrottle]
