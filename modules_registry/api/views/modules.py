from rest_framework.decorators import action

from modules_registry.api import filters, queries
from modules_registry.api.serializers.resources import ModuleOut
from modules_registry.api.views.base import DOWNLOAD_ACTION, ArtifactViewSet, download, download_schema


class ModuleViewSet(ArtifactViewSet):
    """Per-class modules: one class's sub-network with its head, sliced from a base model."""

    list_query = staticmethod(queries.modules)
    list_serializer = ModuleOut
    filterset_class = filters.ModuleFilter
    search_fields = ["class_name", "base_model__name", "base_model__architecture"]
    ordering_fields = ["created_at", "class_name", "class_index", "kept_kernels", "params", "flops", "f1",
                       "precision", "recall", "id"]

    def _stem(self, row) -> str:
        return f"module-{row.pk}-{row.class_name}"

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def spec(self, request, pk=None):
        """The module's JSON spec: architecture and the kept channels of each group."""
        row = self.get_object()
        return download(request, row, row.spec, self._stem(row), ".json")

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def weights(self, request, pk=None):
        """The module's sliced weights (safetensors)."""
        row = self.get_object()
        return download(request, row, row.weights, self._stem(row), ".safetensors")
