"""Compare pages: /decompositions/compare/?ids=… and /builds/compare/?ids=… (2 to 6 entries one can see)."""
from django.http import Http404
from django.shortcuts import render

from frontend import compare
from modules_registry import selectors


def _picked(request, visible):
    """The picked rows in the order picked, or (None, message) when the pick is not 2-6 ids; an id the user
    cannot see is a 404, as on its own page."""
    ids = compare.parse_ids(request.GET.getlist("ids"))
    if isinstance(ids, str):
        return None, ids
    rows = {row.pk: row for row in visible.filter(pk__in=ids)}
    if len(rows) != len(ids):
        raise Http404("not found, or not visible to you")
    return [rows[i] for i in ids], ""


def compare_decompositions(request):
    picked, problem = _picked(request, selectors.decompositions_visible_to(request.user).select_related("dataset"))
    if picked is None:
        return render(request, "frontend/compare/problem.html", {"what": "decompositions", "problem": problem,
                                                                 "back": "frontend:decomposition_list"}, status=400)
    rows = [{"decomposition": d, "label": f"#{d.pk} {d.get_method_display()}",
             "modules": list(selectors.modules_of_decomposition(request.user, d))} for d in picked]
    return render(request, "frontend/compare/decompositions.html",
                  {"rows": rows, "labels": [r["label"] for r in rows], "table": compare.decomposition_table(rows),
                   "charts": compare.decomposition_charts(rows)})


def compare_builds(request):
    picked, problem = _picked(request, selectors.builds_visible_to(request.user).select_related("onnx"))
    if picked is None:
        return render(request, "frontend/compare/problem.html", {"what": "builds", "problem": problem,
                                                                 "back": "frontend:build_list"}, status=400)
    labels = [f"#{b.pk} {b.name or 'build'}" for b in picked]
    return render(request, "frontend/compare/builds.html",
                  {"builds": picked, "labels": labels, "table": compare.build_table(picked),
                   "charts": compare.build_charts(picked, labels)})
