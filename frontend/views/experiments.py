from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from frontend import experiments as presenters
from frontend.forms.common import apply_service_error
from frontend.forms.experiments import ExperimentForm
from frontend.pagination import paginate
from modules_registry import selectors
from modules_registry.errors import HubError
from modules_registry.experiments.report import to_csv, to_markdown
from modules_registry.services.experiments import start_experiment


def _form(request, data=None) -> ExperimentForm:
    return ExperimentForm(data, prefix="exp", datasets=selectors.datasets_visible_to(request.user))


def experiment_list(request, form=None, status=200):
    user = request.user
    context = {"page": paginate(request, selectors.experiments_visible_to(user)),
               "running": selectors.experiment_jobs(user),
               "form": form or (_form(request) if user.is_authenticated else None)}
    return render(request, "frontend/experiments/list.html", context, status=status)


@login_required
@require_POST
def experiment_start(request):
    form = _form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = start_experiment(owner=request.user, dataset=form.datasets.get(data["dataset"]),
                                   profile=data["profile"], experiments=data["experiments"], seeds=data["seeds"],
                                   classes=data["classes"] or 0, name=data["name"], visibility=data["visibility"])
            return redirect("frontend:job_detail", pk=job.pk)
        except HubError as exc:
            apply_service_error(form, exc)
    return experiment_list(request, form=form, status=400)


def _experiment(request, pk):
    return selectors.get_visible(selectors.experiments_visible_to(request.user), pk=pk)


def experiment_detail(request, pk):
    experiment = _experiment(request, pk)
    claims = experiment.report.get("claims", [])
    context = {"experiment": experiment, "claims": [{**c, "ours_text": presenters.ours_text(c)} for c in claims],
               "chart": presenters.claims_chart(claims), "tables": presenters.seed_tables(experiment.report),
               "job": selectors.job_of(request.user, experiment),
               "notes": experiment.settings.get("notes", []),
               "points_per_image": 1 / experiment.report["images_per_point"] if experiment.report.get(
                   "images_per_point") else None}
    return render(request, "frontend/experiments/detail.html", context)


EXPORTS = {"csv": (to_csv, "text/csv"), "md": (to_markdown, "text/markdown")}


def experiment_export(request, pk, fmt):
    if fmt not in EXPORTS:
        raise Http404(f"no export as .{fmt}; use .md or .csv")
    experiment = _experiment(request, pk)
    render_report, media_type = EXPORTS[fmt]
    response = HttpResponse(render_report(experiment), content_type=f"{media_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="experiment-{experiment.pk}.{fmt}"'
    return response
