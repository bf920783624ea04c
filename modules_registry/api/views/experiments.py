from drf_spectacular.utils import extend_schema

from modules_registry import selectors
from modules_registry.api.serializers.experiments import ExperimentDetailOut, ExperimentIn, ExperimentOut
from modules_registry.api.serializers.resources import JobOut
from modules_registry.api.views.base import ArtifactViewSet, accepted, command_input
from modules_registry.services.experiments import start_experiment


def _experiments(user):
    return selectors.experiments_visible_to(user)


class ExperimentViewSet(ArtifactViewSet):
    """Runs of the papers' experiments inside the hub: claims, per-seed figures and the rows behind them."""

    list_query = staticmethod(_experiments)
    list_serializer = ExperimentOut
    detail_serializer = ExperimentDetailOut
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=ExperimentIn, responses={202: JobOut})
    def create(self, request):
        """Start a run (one job; its steps are ordinary jobs); the report appears here when it ends."""
        return accepted(start_experiment(owner=request.user, **command_input(self, ExperimentIn)), request)
