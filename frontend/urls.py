from django.urls import path

from frontend.views import builds, datasets, decompositions, home, jobs, models, modules

app_name = "frontend"
urlpatterns = [
    path("", home.home, name="home"),
    path("favicon.ico", home.favicon, name="favicon"),
    path("datasets/", datasets.dataset_list, name="dataset_list"),
    path("datasets/new/", datasets.dataset_new, name="dataset_new"),
    path("datasets/<int:pk>/", datasets.dataset_detail, name="dataset_detail"),
    path("datasets/<int:pk>/samples.png", datasets.dataset_samples, name="dataset_samples"),
    path("datasets/<int:pk>/download/", datasets.dataset_download, name="dataset_download"),
    path("models/", models.model_list, name="model_list"),
    path("models/new/", models.model_new, name="model_new"),
    path("models/train/", models.model_train, name="model_train"),
    path("models/<int:pk>/", models.model_detail, name="model_detail"),
    path("models/<int:pk>/card/", models.model_card_edit, name="model_card_edit"),
    path("models/<int:pk>/evaluate/", models.model_evaluate, name="model_evaluate"),
    path("models/<int:pk>/decompose/", models.model_decompose, name="model_decompose"),
    path("models/<int:pk>/download/", models.model_download, name="model_download"),
    path("decompositions/", decompositions.decomposition_list, name="decomposition_list"),
    path("decompositions/<int:pk>/", decompositions.decomposition_detail, name="decomposition_detail"),
    path("decompositions/<int:pk>/download/", decompositions.decomposition_download, name="decomposition_download"),
    path("modules/", modules.module_list, name="module_list"),
    path("modules/<int:pk>/", modules.module_detail, name="module_detail"),
    path("modules/<int:pk>/download/<str:part>/", modules.module_download, name="module_download"),
    path("builds/", builds.build_list, name="build_list"),
    path("builds/new/", builds.build_new, name="build_new"),
    path("builds/estimate/", builds.build_estimate, name="build_estimate"),
    path("builds/patch/", builds.patch_new, name="patch_new"),
    path("builds/<int:pk>/", builds.build_detail, name="build_detail"),
    path("builds/<int:pk>/download/", builds.build_download, name="build_download"),
    path("builds/<int:pk>/try/", builds.build_try, name="build_try"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job_detail"),
    path("jobs/<int:pk>/status/", jobs.job_status, name="job_status"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job_cancel"),
]
