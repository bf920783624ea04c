from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render

from frontend import images
from frontend.downloads import blob_response
from frontend.forms import BuiltinDatasetForm, DatasetUploadForm, apply_service_error
from frontend.pagination import paginate
from frontend.presenters import class_count_picture
from modules_registry import selectors
from modules_registry.errors import HubError
from modules_registry.services import datasets as dataset_services

SAMPLES_VERSION = "v1"  # bump when the contact sheet's drawing changes


def dataset_list(request):
    q = request.GET.get("q", "").strip()
    datasets = selectors.datasets_filtered(request.user, q=q)
    return render(request, "frontend/datasets/list.html", {"page": paginate(request, datasets), "q": q})


def dataset_detail(request, pk):
    dataset = selectors.get_visible(selectors.datasets_visible_to(request.user), pk=pk)
    splits = {split: counts for split, counts in (dataset.class_counts or {}).items()}
    rows = [{"name": name, "counts": [splits[s][i] if i < len(splits[s]) else 0 for s in splits]}
            for i, name in enumerate(dataset.class_names)]
    context = {"dataset": dataset, "splits": list(splits), "rows": rows,
               "counts_picture": class_count_picture(dataset.class_names, dataset.class_counts),
               "models": selectors.models_filtered(request.user, dataset=dataset.pk)[:20],
               "job": selectors.job_of(request.user, dataset)}
    return render(request, "frontend/datasets/detail.html", context)


def dataset_samples(request, pk):
    """A PNG of sample images per class; the arrays blob is immutable, so its sha256 is the ETag."""
    dataset = selectors.get_visible(selectors.datasets_visible_to(request.user), pk=pk)
    etag = f'"{dataset.arrays_id}-{SAMPLES_VERSION}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    png = images.contact_sheet(selectors.dataset_samples(dataset))
    return HttpResponse(png, content_type="image/png",
                        headers={"ETag": etag, "Cache-Control": "private, max-age=3600"})


def dataset_download(request, pk):
    dataset = selectors.get_visible(selectors.datasets_visible_to(request.user), pk=pk)
    return blob_response(request, dataset, dataset.arrays, f"{dataset.name}.npz")


@login_required
def dataset_new(request):
    upload_form = DatasetUploadForm(prefix="up")
    builtin_form = BuiltinDatasetForm(prefix="bi")
    if request.method == "POST":
        if "bi-builtin" in request.POST:
            builtin_form = BuiltinDatasetForm(request.POST, prefix="bi")
            job = _import_builtin(request, builtin_form)
        else:
            upload_form = DatasetUploadForm(request.POST, request.FILES, prefix="up")
            job = _upload(request, upload_form)
        if job is not None:
            return redirect("frontend:job_detail", pk=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/datasets/new.html",
                  {"upload_form": upload_form, "builtin_form": builtin_form}, status=status)


def _import_builtin(request, form):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return dataset_services.import_builtin_dataset(owner=request.user, builtin=data["builtin"],
                                                       name=data["name"] or None, visibility=data["visibility"])
    except HubError as exc:
        apply_service_error(form, exc)


def _upload(request, form):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    size = data.get("image_size")
    try:
        return dataset_services.upload_dataset(
            owner=request.user, archive=data["archive"], name=data["name"], fmt=data["format"],
            image_size=(size, size) if size else None, channels=data.get("channels"), seed=data["seed"],
            visibility=data["visibility"], description=data["description"])
    except HubError as exc:
        apply_service_error(form, exc)
