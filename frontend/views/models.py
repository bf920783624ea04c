from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from frontend import presenters, snippets
from frontend.downloads import blob_response
from frontend.forms import (DecomposeForm, EvaluateForm, ModelCardForm, ModelFilterForm, ModelUploadForm, TrainForm,
                            apply_service_error)
from frontend.pagination import paginate
from modules_registry import selectors
from modules_registry.errors import HubError
from modules_registry.services import decompositions as decomposition_services
from modules_registry.services import model_card
from modules_registry.services import models as model_services

WEIGHT_EXTENSIONS = {"safetensors": ".safetensors", "onnx": ".onnx"}


def model_list(request):
    datasets = selectors.datasets_visible_to(request.user)
    # The filter offers the architectures of the models one can see (the registry's list would load torch).
    present = selectors.models_visible_to(request.user).exclude(architecture="").values_list("architecture", flat=True)
    form = ModelFilterForm(request.GET, datasets=datasets, architectures=sorted(set(present)))
    models = selectors.models_filtered(request.user, **form.filters())
    return render(request, "frontend/models/list.html", {"form": form, "page": paginate(request, models)})


def _get_model(request, pk):
    return selectors.get_visible(selectors.models_visible_to(request.user), pk=pk)


def model_detail(request, pk, *, evaluate_form=None, decompose_form=None, card_form=None, status=200):
    model = _get_model(request, pk)
    datasets = selectors.datasets_visible_to(request.user)
    evaluations = list(selectors.evaluations_of(request.user, model))
    latest = evaluations[0] if evaluations else None
    metrics = latest.metrics if latest else {}
    failed = next(((title, anchor, form.error_summary()) for title, anchor, form in (
        ("The decomposition did not start", "dec-h", decompose_form),
        ("The evaluation did not start", "eval-h", evaluate_form)) if form is not None and form.errors), None)
    context = {
        "model": model, "evaluations": evaluations, "latest": latest, "failed_action": failed,
        "train_config": presenters.config_rows(model.train_config), "use": snippets.use_this_model(request, model),
        "class_rows": presenters.per_class_rows(metrics, model.class_names),
        "confusion": presenters.confusion_picture(metrics, model.class_names),
        "training_chart": presenters.training_picture(model.train_history),
        "decompositions": selectors.decompositions_of(request.user, model),
        "builds": selectors.builds_of_model(request.user, model)[:10],
        "job": selectors.job_of(request.user, model),
        "card_form": card_form or (ModelCardForm(initial={"description": model.description, "tags": ", ".join(model.tags)})
                                   if request.user.is_authenticated and request.user.pk == model.owner_id else None),
        "evaluate_form": evaluate_form or EvaluateForm(prefix="eval", datasets=datasets),
        # Only where the form is shown: it lists the engine's registered methods, which loads torch.
        "decompose_form": decompose_form or (DecomposeForm(prefix="dec")
                                             if request.user.is_authenticated and model.decomposable else None),
    }
    return render(request, "frontend/models/detail.html", context, status=status)


def model_download(request, pk):
    model = _get_model(request, pk)
    return blob_response(request, model, model.weights, f"{model.name}{WEIGHT_EXTENSIONS.get(model.format, '.bin')}")


@login_required
@require_POST
def model_evaluate(request, pk):
    model = _get_model(request, pk)
    form = EvaluateForm(request.POST, prefix="eval", datasets=selectors.datasets_visible_to(request.user))
    if form.is_valid():
        try:
            job = model_services.start_evaluation(owner=request.user, model=model,
                                                  dataset=form.datasets.get(form.cleaned_data["dataset"]),
                                                  split=form.cleaned_data["split"], device=form.cleaned_data["device"])
            return redirect("frontend:job_detail", pk=job.pk)
        except HubError as exc:
            apply_service_error(form, exc)
    return model_detail(request, pk, evaluate_form=form, status=400)


@login_required
@require_POST
def model_decompose(request, pk):
    model = _get_model(request, pk)
    form = DecomposeForm(request.POST, prefix="dec")
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = decomposition_services.start_decomposition(
                owner=request.user, model=model, method=data["method"], preset=data["preset"],
                overrides=data["overrides"], seed=data["seed"], device=data["device"])
            return redirect("frontend:job_detail", pk=job.pk)
        except HubError as exc:
            apply_service_error(form, exc)
    return model_detail(request, pk, decompose_form=form, status=400)


@login_required
def model_new(request):
    datasets = selectors.datasets_visible_to(request.user)
    form = ModelUploadForm(request.POST or None, request.FILES or None, datasets=datasets)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = model_services.upload_model(
                owner=request.user, weights=data["weights"], name=data["name"], class_names=data["class_name_list"],
                input_spec=data["input_spec"], architecture=data["architecture"], arch_kwargs=data["arch_kwargs"],
                dataset=data["dataset_row"], visibility=data["visibility"], description=data["description"])
            return redirect("frontend:job_detail", pk=job.pk)
        except HubError as exc:
            apply_service_error(form, exc, {"input_spec": "channels"})
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/models/new.html", {"form": form}, status=status)


@login_required
def model_train(request):
    datasets = selectors.datasets_visible_to(request.user)
    initial = {"dataset": request.GET.get("dataset")}
    form = TrainForm(request.POST or None, datasets=datasets, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = model_services.start_training(
                owner=request.user, dataset=data["dataset_row"], name=data["name"], architecture=data["architecture"],
                arch_kwargs=data["arch_kwargs"], config=data["train_config"], device=data["device"],
                visibility=data["visibility"], description=data["description"])
            return redirect("frontend:job_detail", pk=job.pk)
        except HubError as exc:
            apply_service_error(form, exc)
    status = 400 if request.method == "POST" else 200
    return render(request, "frontend/models/train.html", {"form": form}, status=status)


@login_required
@require_POST
def model_card_edit(request, pk):
    """The owner saves the model's description and tags; errors show under the form (400), nothing changes."""
    model = _get_model(request, pk)
    form = ModelCardForm(request.POST)
    if form.is_valid():
        try:
            model_card.edit_model_card(request.user, model, description=form.cleaned_data["description"],
                                       tags=form.cleaned_data["tags"])
            return redirect(reverse("frontend:model_detail", args=[model.pk]) + "#about")
        except HubError as exc:
            apply_service_error(form, exc)
    return model_detail(request, pk, card_form=form, status=400)
