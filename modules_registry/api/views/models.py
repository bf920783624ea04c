from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from modules_registry.api import filters, queries, throttles
from modules_registry.api.serializers.commands import DecomposeIn, EvaluateIn, ModelCardIn, ModelUploadIn, TrainIn
from modules_registry.api.serializers.resources import JobOut, ModelDetailOut, ModelOut
from modules_registry.api.views.base import (DOWNLOAD_ACTION, ArtifactViewSet, accepted, command_input, download,
                                             download_schema)
from modules_registry.services import decompositions, model_card, models as service

SUFFIX = {"safetensors": ".safetensors", "onnx": ".onnx"}


class ModelViewSet(ArtifactViewSet):
    """Trained base models (N-class CNN classifiers)."""

    list_query = staticmethod(queries.models)
    detail_query = staticmethod(queries.model_detail)
    list_serializer = ModelOut
    detail_serializer = ModelDetailOut
    filterset_class = filters.ModelFilter
    search_fields = ["name", "description", "architecture"]
    ordering_fields = ["created_at", "name", "params", "flops", "id"]

    @extend_schema(request={"multipart/form-data": ModelUploadIn}, responses={202: JobOut})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser], throttle_classes=throttles.UPLOADS)
    def upload(self, request):
        """Upload trained weights; a job checks they load into the architecture and stores the model."""
        data = command_input(self, ModelUploadIn)
        return accepted(service.upload_model(owner=request.user, **data), request)

    @extend_schema(request=TrainIn, responses={202: JobOut})
    @action(detail=False, methods=["post"])
    def train(self, request):
        """Train a new model on a data set (a job)."""
        data = command_input(self, TrainIn)
        return accepted(service.start_training(owner=request.user, **data), request)

    @extend_schema(request=ModelCardIn, responses={200: ModelDetailOut})
    def partial_update(self, request, pk=None):
        """The owner changes the model's description (Markdown) and tags; nothing else of a model changes."""
        model = self.get_object()
        data = command_input(self, ModelCardIn)
        model_card.edit_model_card(request.user, model, **data)
        return Response(ModelDetailOut(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=EvaluateIn, responses={202: JobOut})
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        """Measure the model on a split of a data set (a job)."""
        model = self.get_object()
        data = command_input(self, EvaluateIn)
        return accepted(service.start_evaluation(owner=request.user, model=model, **data), request)

    @extend_schema(request=DecomposeIn, responses={202: JobOut})
    @action(detail=True, methods=["post"])
    def decompose(self, request, pk=None):
        """Split the model into one module per class (a job); the modules appear under /api/modules/."""
        model = self.get_object()
        data = command_input(self, DecomposeIn)
        return accepted(decompositions.start_decomposition(owner=request.user, model=model, **data), request)

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def weights(self, request, pk=None):
        """The model's weights (.safetensors, or .onnx for ONNX entries)."""
        row = self.get_object()
        return download(request, row, row.weights, row.name, SUFFIX.get(row.format, ".bin"))
