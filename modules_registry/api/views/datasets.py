from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser

from modules_registry.api import filters, queries, throttles
from modules_registry.api.serializers.commands import DatasetImportIn, DatasetUploadIn
from modules_registry.api.serializers.resources import DatasetOut, JobOut
from modules_registry.api.views.base import (DOWNLOAD_ACTION, ArtifactViewSet, accepted, command_input, download,
                                             download_schema)
from modules_registry.services import datasets as service


class DatasetViewSet(ArtifactViewSet):
    """Labelled image data sets (built-in or uploaded)."""

    list_query = staticmethod(queries.datasets)
    list_serializer = DatasetOut
    filterset_class = filters.DatasetFilter
    search_fields = ["name", "description"]
    ordering_fields = ["created_at", "name", "id"]

    @extend_schema(request=DatasetImportIn, responses={202: JobOut})
    @action(detail=False, methods=["post"], url_path="import")
    def import_builtin(self, request):
        """Import a built-in data set (a job)."""
        data = command_input(self, DatasetImportIn)
        return accepted(service.import_builtin_dataset(owner=request.user, **data), request)

    @extend_schema(request={"multipart/form-data": DatasetUploadIn}, responses={202: JobOut})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser], throttle_classes=throttles.UPLOADS)
    def upload(self, request):
        """Upload an archive of labelled images; a job reads and checks it."""
        data = command_input(self, DatasetUploadIn)
        job = service.upload_dataset(owner=request.user, archive=data["archive"], name=data["name"],
                                     fmt=data["format"], image_size=data.get("image_size"),
                                     channels=data.get("channels"), seed=data["seed"],
                                     visibility=data["visibility"], description=data["description"])
        return accepted(job, request)

    @download_schema
    @action(**DOWNLOAD_ACTION)
    def arrays(self, request, pk=None):
        """The images, labels and splits as a pickle-free .npz."""
        row = self.get_object()
        return download(request, row, row.arrays, row.name, ".npz")
