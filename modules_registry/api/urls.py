from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from modules_registry.api import schema  # noqa: F401  (registers the token scheme with drf-spectacular)
from modules_registry.api.exceptions import error_body, http_status
from modules_registry.api.views.builds import BuildViewSet
from modules_registry.api.views.datasets import DatasetViewSet
from modules_registry.api.views.decompositions import DecompositionViewSet
from modules_registry.api.views.experiments import ExperimentViewSet
from modules_registry.api.views.jobs import JobViewSet
from modules_registry.api.views.models import ModelViewSet
from modules_registry.api.views.modules import ModuleViewSet
from modules_registry.errors import ErrorCode

app_name = "api"

router = DefaultRouter()
router.include_root_view = False
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", ModelViewSet, basename="model")
router.register("decompositions", DecompositionViewSet, basename="decomposition")
router.register("modules", ModuleViewSet, basename="module")
router.register("builds", BuildViewSet, basename="build")
router.register("jobs", JobViewSet, basename="job")
router.register("experiments", ExperimentViewSet, basename="experiment")



@csrf_exempt
def not_found(request, *args, **kwargs):
    """Anything else under /api/ answers 404 in the API's error shape (not Django's HTML page)."""
    return JsonResponse(error_body(ErrorCode.NOT_FOUND, "no such API endpoint or entry"),
                        status=http_status(ErrorCode.NOT_FOUND))


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
    re_path(r"^", not_found),
]
