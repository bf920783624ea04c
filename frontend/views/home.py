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


def favicon(request):
    """/favicon.ico, which browsers ask for on every site: the static icon, served from the static folder."""
    from django.contrib.staticfiles import finders
    from django.http import FileResponse, Http404

    path = finders.find("favicon.ico")
    if path is None:
        raise Http404("no favicon")
    return FileResponse(open(path, "rb"), content_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})
