from rest_framework.decorators import action

from modules_registry.api import filters, queries
from modules_registry.api.serializers.resources import DecompositionDetailOut, DecompositionOut
from modules_registry.api.views.base import DOWNLOAD_ACTION, ArtifactViewSet, download, download_schema


class DecompositionViewSet(ArtifactViewSet):
    """A base model split into per-class modules. Start one with POST /api/models/{id}/decompose/."""

    list_query = staticmethod(queries.decompositions)
    detail_query = staticmethod(queries.decomposition_detail)
    list_serializer = DecompositionOut
    detail_serializer = DecompositionDetailOut
    filterset_class = filters.DecompositionFilter
    search_fields = ["base_model__name", "method"]
    ordering_fields = ["created_at", "composed_accuracy", "mean_kernel_retention", "id"]

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def result(self, request, pk=None):
        """The masks and heads (safetensors)."""
        row = self.get_object()
        return download(request, row, row.result, f"decomposition-{row.pk}", ".safetensors")
