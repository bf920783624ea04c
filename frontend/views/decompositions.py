from django.shortcuts import render

from frontend import presenters
from frontend.downloads import blob_response
from frontend.pagination import paginate
from modules_registry import selectors
from modules_registry.models import Decomposition


def decomposition_list(request):
    method = request.GET.get("method", "")
    decompositions = selectors.decompositions_filtered(
        request.user, method=method if method in Decomposition.Method.values else "")
    return render(request, "frontend/decompositions/list.html",
                  {"page": paginate(request, decompositions), "method": method,
                   "methods": Decomposition.Method.choices})


def decomposition_detail(request, pk):
    decomposition = selectors.get_visible(selectors.decompositions_visible_to(request.user), pk=pk)
    history = decomposition.history if isinstance(decomposition.history, list) else []
    selected = next((h for h in history if h.get("epoch") == decomposition.selected_epoch), None)
    modules = selectors.modules_of_decomposition(request.user, decomposition)
    context = {"decomposition": decomposition, "history": history, "selected": selected,
               "chart": presenters.epoch_picture(history, decomposition.selected_epoch),
               "units": presenters.class_unit_table(decomposition.metrics, decomposition.base_model.class_names),
               "modules": modules, "versus_base": presenters.module_vs_base_rows(modules, decomposition.metrics),
               "job": selectors.job_of(request.user, decomposition)}
    return render(request, "frontend/decompositions/detail.html", context)


def decomposition_download(request, pk):
    decomposition = selectors.get_visible(selectors.decompositions_visible_to(request.user), pk=pk)
    return blob_response(request, decomposition, decomposition.result, f"decomposition-{decomposition.pk}.safetensors")
