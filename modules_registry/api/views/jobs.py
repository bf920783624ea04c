from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from modules_registry.api import filters, queries
from modules_registry.api.serializers.resources import JobDetailOut, JobOut
from modules_registry.api.views.base import ArtifactViewSet, accepted
from modules_registry.services.jobs import request_cancel


class JobViewSet(ArtifactViewSet):
    """Your background jobs: poll one until `is_terminal`; `result_urls` links what it created."""

    list_query = staticmethod(queries.jobs)
    list_serializer = JobOut
    detail_serializer = JobDetailOut
    filterset_class = filters.JobFilter
    search_fields = []
    ordering_fields = ["created_at", "finished_at", "status", "kind", "id"]

    @extend_schema(request=None, responses={202: JobOut})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the job: a queued one is `cancelled` at once (no worker will run it), a running one at its next
        check (every loop checks)."""
        return accepted(request_cancel(job=self.get_object(), user=request.user), request)
