from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from modules_registry.api import filters, queries, throttles
from modules_registry.api.serializers.builds import (BuildRequestOut, ComposeIn, EstimateIn, EstimateOut, PatchIn,
                                                     RequestedOut)
from modules_registry.api.serializers.predictions import PredictIn, PredictOut
from modules_registry.api.serializers.resources import BuildDetailOut, BuildOut, JobOut
from modules_registry.api.views.base import DOWNLOAD_ACTION, ArtifactViewSet, command_input, download, download_schema
from modules_registry.services import builds as service
from modules_registry.services import predictions


def build_answer(answer, request) -> Response:
    """The cached Build at once (200), or the job that will make it (202, Location: the job); either way with the
    request's own lineage and a note where the answer was made from other rows or under another name."""
    context = {"request": request}
    asked = {"requested": RequestedOut(answer.requested, context=context).data, "note": answer.note}
    if answer.cached:
        build = queries.build(request.user, answer.build.pk)
        data = {"cached": True, "build": BuildDetailOut(build, context=context).data, "job": None, **asked}
        return Response(data, status=200, headers={"Location": str(data["build"]["url"])})
    job = JobOut(answer.job, context=context).data
    return Response({"cached": False, "build": None, "job": job, **asked}, status=202,
                    headers={"Location": str(job["url"])})


class BuildViewSet(ArtifactViewSet):
    """Classifiers composed from modules, and patched models, each one ONNX file."""

    list_query = staticmethod(queries.builds)
    detail_query = staticmethod(queries.build_detail)
    list_serializer = BuildOut
    detail_serializer = BuildDetailOut
    filterset_class = filters.BuildFilter
    search_fields = ["name", "description"]
    ordering_fields = ["created_at", "name", "id"]

    @extend_schema(request=ComposeIn, responses={200: BuildRequestOut, 202: BuildRequestOut})
    @action(detail=False, methods=["post"], throttle_classes=throttles.BUILDS)
    def compose(self, request):
        """Compose modules (one per class, in output order) into a classifier exported as ONNX."""
        data = command_input(self, ComposeIn)
        return build_answer(service.start_build(owner=request.user, **data), request)

    @extend_schema(request=PatchIn, responses={200: BuildRequestOut, 202: BuildRequestOut})
    @action(detail=False, methods=["post"], url_path="patch", url_name="patch", throttle_classes=throttles.BUILDS)
    def patch_model(self, request):  # not `patch`: that name is the HTTP PATCH handler of every route
        """Replace (or add) a class of a weak model with a strong model's module for it."""
        data = command_input(self, PatchIn)
        return build_answer(service.start_patch(owner=request.user, **data), request)

    @extend_schema(request=EstimateIn, responses={200: EstimateOut})
    @action(detail=False, methods=["post"], reads_only=True)
    def estimate(self, request):
        """Params and FLOPs of both strategies for a selection, before building (writes nothing: a read token, or
        none for public modules, will do)."""
        data = command_input(self, EstimateIn)
        return Response(service.estimate(user=request.user, **data))

    @extend_schema(request={"multipart/form-data": PredictIn}, responses={200: PredictOut})
    @action(detail=True, methods=["post"], reads_only=True, parser_classes=[MultiPartParser],
            throttle_classes=throttles.PREDICT)
    def predict(self, request, pk=None):
        """Classify images with the build (onnxruntime on the server): the top_k classes of each with softmax
        scores. Whoever may download the build may use it (writes nothing: a read token, or none for a public
        build); throttled like Try it (HUB_THROTTLE_TRY)."""
        build = self.get_object()
        data = command_input(self, PredictIn)
        top_k = predictions.top_k_for(build, data["top_k"])
        results = predictions.predict(build, data["images"], top_k=top_k)
        answer = [{"name": p.name, "ranked": [{"class_name": c, "score": score} for c, score in p.ranked]}
                  for p in results]
        return Response(PredictOut({"build": build.pk, "classes": build.class_names, "top_k": top_k,
                                    "predictions": answer}).data)

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def onnx(self, request, pk=None):
        """The classifier as one ONNX file: input `input` (N×C×H×W float32), output `logits`."""
        row = self.get_object()
        return download(request, row, row.onnx, row.name or f"build-{row.pk}", ".onnx")
