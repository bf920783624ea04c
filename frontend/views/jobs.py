from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from frontend.pagination import paginate
from frontend.presenters import duration_text, job_result_links
from modules_registry import lanes, selectors
from modules_registry.errors import HubError
from modules_registry.models import Job
from modules_registry.services.jobs import request_cancel


@login_required
def job_list(request):
    status = request.GET.get("status", "")
    jobs = selectors.jobs_filtered(request.user, status=status if status in Job.Status.values else "")
    return render(request, "frontend/jobs/list.html", {"page": paginate(request, jobs), "status": status,
                                                       "statuses": Job.Status.choices})


def _job_context(request, pk):
    job = selectors.get_visible(selectors.jobs_visible_to(request.user), pk=pk)
    return {"job": job, "result_links": job_result_links(job), "queue_position": lanes.queue_position(job),
            "eta_text": duration_text(lanes.eta_seconds(job))}


@login_required
def job_detail(request, pk):
    return render(request, "frontend/jobs/detail.html", _job_context(request, pk))


@login_required
def job_status(request, pk):
    """The live part of the job page; htmx polls it until the job ends (then the poll attribute is gone)."""
    return render(request, "frontend/jobs/_status.html", _job_context(request, pk))


@login_required
@require_POST
def job_cancel(request, pk):
    job = selectors.get_visible(selectors.jobs_visible_to(request.user), pk=pk)
    try:
        job = request_cancel(job=job, user=request.user)
        if job.is_terminal:
            messages.info(request, f"Job #{job.pk} was cancelled before it started.")
        else:
            messages.info(request, f"Cancellation requested for job #{job.pk}; it stops at its next checkpoint.")
    except HubError as exc:
        messages.error(request, str(exc))
    return redirect("frontend:job_detail", pk=job.pk)
