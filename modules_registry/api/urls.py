from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from modules_registry.api import schema  # noqa: F401  (registers the token scheme with drf-spectacular)
from modules_registry.api.views.builds import BuildViewSet
from modules_registry.api.views.datasets import DatasetViewSet
from modules_registry.api.views.decompositions import DecompositionViewSet
from modules_registry.api.views.jobs import JobViewSet
from modules_registry.api.views.models import ModelViewSet
from modules_registry.api.views.modules import ModuleViewSet

app_name = "api"

router = DefaultRouter()
router.include_root_view = False
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", ModelViewSet, basename="model")
router.register("decompositions", DecompositionViewSet, basename="decomposition")
router.register("modules", ModuleViewSet, basename="module")
router.register("builds", BuildViewSet, basename="build")
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
