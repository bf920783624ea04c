from rest_framework.decorators import action

from modules_registry.api import filters, queries
from modules_registry.api.serializers.resources import BuildDetailOut, BuildOut
from modules_registry.api.views.base import DOWNLOAD_ACTION, ArtifactViewSet, download, download_schema


class BuildViewSet(ArtifactViewSet):
    """Classifiers composed from modules, and patched models, each one ONNX file."""

    list_query = staticmethod(queries.builds)
    detail_query = staticmethod(queries.build_detail)
    list_serializer = BuildOut
    detail_serializer = BuildDetailOut
    filterset_class = filters.BuildFilter
    search_fields = ["name", "description"]
    ordering_fields = ["created_at", "name", "id"]

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def onnx(self, request, pk=None):
        """The classifier as one ONNX file: input `input` (N×C×H×W float32), output `logits`."""
        row = self.get_object()
        return download(request, row, row.onnx, row.name or f"build-{row.pk}", ".onnx")
