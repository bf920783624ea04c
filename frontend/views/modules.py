from django.http import Http404
from django.shortcuts import render

from frontend import presenters
from frontend.downloads import blob_response
from frontend.forms import ModuleFilterForm
from frontend.pagination import paginate
from modules_registry import selectors


def module_list(request):
    form = ModuleFilterForm(request.GET, models=selectors.models_with_modules(request.user))
    modules = selectors.modules_filtered(request.user, **form.filters())
    return render(request, "frontend/modules/list.html", {"form": form, "page": paginate(request, modules, 24)})


def module_detail(request, pk):
    module = selectors.get_visible(selectors.modules_visible_to(request.user), pk=pk)
    try:
        spec = selectors.module_spec(module)
    except (ValueError, OSError):
        spec = {}
    chart, layers = presenters.layer_picture(spec)
    context = {"module": module, "spec": spec, "chart": chart, "layers": layers,
               "siblings": selectors.modules_of_decomposition(request.user, module.decomposition)}
    return render(request, "frontend/modules/detail.html", context)


def module_download(request, pk, part):
    module = selectors.get_visible(selectors.modules_visible_to(request.user), pk=pk)
    base = f"{module.base_model.name}-{module.class_name}-module"
    if part == "weights":
        return blob_response(request, module, module.weights, f"{base}.safetensors")
    if part == "spec":
        return blob_response(request, module, module.spec, f"{base}.json")
    raise Http404("unknown part")
