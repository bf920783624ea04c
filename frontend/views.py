from django.shortcuts import render

from modules_registry import selectors


def home(request):
    context = {
        "summary": selectors.hub_summary(request.user),
        "recent_jobs": selectors.jobs_visible_to(request.user)[:10],
        "datasets": selectors.datasets_visible_to(request.user)[:10],
    }
    return render(request, "frontend/home.html", context)
