"""Scoped throttles for the expensive commands (rates in settings: HUB_THROTTLE_UPLOADS / _BUILDS).

Throttles use the Django cache, so they are per process with the default LocMem cache: a soft brake,
not a quota. Hard limits belong in the services.
"""
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class UploadsThrottle(UserRateThrottle):
    scope = "uploads"


class BuildsThrottle(UserRateThrottle):
    scope = "builds"


DEFAULT = [AnonRateThrottle, UserRateThrottle]
UPLOADS = [*DEFAULT, UploadsThrottle]
BUILDS = [*DEFAULT, BuildsThrottle]
