from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.views.decorators.http import require_POST
from rest_framework.throttling import UserRateThrottle

from frontend import estimates, inference, presenters, snippets
from frontend.downloads import blob_response
from frontend.forms import apply_service_error
from frontend.forms.builds import BuildForm, PatchForm, TryItForm
from frontend.pagination import paginate
from modules_registry import selectors
from modules_registry.errors import HubError
from modules_registry.models import Build
from modules_registry.services import builds as build_services


def build_list(request):
    kind = request.GET.get("kind", "")
    builds = selectors.builds_filtered(request.user, kind=kind if kind in Build.Kind.values else "",
                                       q=request.GET.get("q", "").strip())
    return render(request, "frontend/builds/list.html", {"page": paginate(request, builds), "kind": kind,
                                                         "kinds": Build.Kind.choices, "q": request.GET.get("q", "")})


def _build_form(request, data=None):
    return BuildForm(data, modules=selectors.modules_for_builder(request.user),
                     datasets=selectors.datasets_visible_to(request.user),
                     initial={"modules": request.GET.getlist("module")})


def _started(request, answer):
    if answer.note:
        messages.info(request, f"{capfirst(answer.note)}.")
    if answer.cached:
        messages.success(request, "This exact build already exists; here it is (no rebuild needed).")
        return redirect("frontend:build_detail", pk=answer.build.pk)
    return redirect("frontend:job_detail", pk=answer.job.pk)


@login_required
def build_new(request):
    form = _build_form(request, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            return _started(request, build_services.start_build(
                owner=request.user, modules=form.ordered_modules(), strategy=data["strategy"],
                calibration=data["calibration"], refit=data["refit"], adapt_inputs=data["adapt_inputs"],
                dataset=data["dataset"], name=data["name"], visibility=data["visibility"] or None,
                device=data["device"]))
        except HubError as exc:
            apply_service_error(form, exc, {"options": "strategy"})
    groups = presenters.builder_groups(selectors.modules_for_builder(request.user), form["modules"].value() or [])
    return render(request, "frontend/builds/new.html", {"form": form, "groups": groups},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def build_estimate(request):
    """The htmx partial beside the picker: size of both strategies for the ticked classes, and what the base
    models score on them."""
    form = _build_form(request, request.POST)
    ids = form.ordered_modules()
    context = {"count": len(ids), "calibration": request.POST.get("calibration", "none")}
    if len(ids) >= 2:
        try:
            context["estimate"] = build_services.estimate(user=request.user, modules=ids,
                                                          adapt_inputs=request.POST.get("adapt_inputs") == "on")
        except HubError as exc:
            context["error"] = str(exc)
        else:
            chosen = selectors.modules_for_builder(request.user).filter(pk__in=ids)
            context["base_scores"] = estimates.base_scores_on_classes(request.user, chosen)
    return render(request, "frontend/builds/_estimate.html", context)


def _get_build(request, pk):
    return selectors.get_visible(selectors.builds_visible_to(request.user), pk=pk)


def build_detail(request, pk, *, try_form=None):
    build = _get_build(request, pk)
    metrics = build.metrics or {}
    context = {"build": build, "metrics": metrics, "items": selectors.build_items(build),
               "base_models": selectors.build_base_models(build), "job": selectors.job_of(request.user, build),
               "class_rows": presenters.per_class_rows(metrics, build.class_names),
               "patch": presenters.patch_rows(metrics), "patch_classes": presenters.patch_class_rows(metrics),
               "try_form": try_form or TryItForm(), "use": snippets.use_this_build(request, build),
               "footprint": presenters.footprint_rows(metrics)}
    return render(request, "frontend/builds/detail.html", context)


def build_download(request, pk):
    build = _get_build(request, pk)
    return blob_response(request, build, build.onnx, f"{presenters.slug(build.name or f'build-{build.pk}')}.onnx")


class TryThrottle(UserRateThrottle):
    """Per user, HUB_THROTTLE_TRY (DRF's throttle on the Django cache, as the API's)."""

    scope = "try"

    def get_rate(self):
        return getattr(settings, "HUB_THROTTLE_TRY", "30/min")


@login_required
@require_POST
def build_try(request, pk):
    """Run one uploaded image through the build's ONNX file; answers the result partial (htmx)."""
    build = _get_build(request, pk)
    form = TryItForm(request.POST, request.FILES)
    context = {"build": build, "form": form}
    throttle = TryThrottle()
    if not throttle.allow_request(request, None):
        wait = int(throttle.wait() or 1)
        context["problem"] = f"Too many tries; wait {wait} s and try again."
        response = render(request, "frontend/builds/_try_result.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    status = 400
    if form.is_valid():
        try:
            context["ranked"] = inference.predict(build, form.cleaned_data["image"])
            status = 200
        except inference.TryItError as exc:
            form.add_error("image", str(exc))
        except inference.Busy:
            context["problem"] = "The server is busy classifying other images; try again in a moment."
            status = 503
    return render(request, "frontend/builds/_try_result.html", context, status=status)


@login_required
def patch_new(request):
    form = PatchForm(request.POST or None, models=selectors.patchable_models(request.user),
                     modules=selectors.modules_for_builder(request.user),
                     datasets=selectors.datasets_visible_to(request.user),
                     initial={"model": request.GET.get("model"), "module": request.GET.get("module")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            return _started(request, build_services.start_patch(
                owner=request.user, model=data["model"], module=data["module"], mode=data["mode"],
                calibration=data["calibration"], dataset=data["dataset"], name=data["name"],
                visibility=data["visibility"] or None, device=data["device"]))
        except HubError as exc:
            apply_service_error(form, exc, {"options": "calibration"})
    return render(request, "frontend/builds/patch.html", {"form": form},
                  status=400 if request.method == "POST" else 200)
