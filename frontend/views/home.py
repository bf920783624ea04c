from django.shortcuts import render

from modules_registry import selectors


def home(request):
    q = request.GET.get("q", "").strip()
    context = {
        "q": q,
        "results": selectors.search(request.user, q) if q else None,
        "summary": selectors.hub_summary(request.user),
        "recent_jobs": selectors.jobs_running_first(request.user)[:5],
        "recent_models": selectors.models_filtered(request.user)[:5],
        "models_in_training": selectors.public_models_in_training(),
        "datasets": selectors.datasets_visible_to(request.user)[:5],
    }
    return render(request, "frontend/home.html", context)
