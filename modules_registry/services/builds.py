"""Builds: compose chosen modules into a classifier, or patch a weak model, as an ONNX file.

Builds are content-addressed: the request (module and base-model weights, data set, options) hashes
to a cache key, and a request whose Build already exists gets that Build back at once, with no job. The
answer also carries the request's own lineage and, where the Build was made from other rows with the same
content or under another name, a note that says so.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import BaseModel, Build, Dataset, Job, Module, Visibility
from modules_registry.selectors import datasets_visible_to, models_visible_to, modules_visible_to
from modules_registry.services.jobs import start_job
from modules_registry.services.validation import clean_visibility
from splitter_engine.composition import (CALIBRATIONS, MODES, PATCH_CALIBRATIONS, STRATEGIES, ComposeOptions,
                                         PatchOptions, patched_class_names, plan_inputs)
from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec

# Part of every cache key: bump it when the same request would build a different file.
BUILD_FORMAT = "build/v1"
MAX_CLASSES = 100


ADAPT_INPUTS_HELP = ("renormalise inside the build the inputs of modules whose models were trained with another "
                     "mean/std (an exact affine map per channel); image size and channels must agree, they are "
                     "never resized or converted")


@dataclass(frozen=True)
class Lineage:
    """What a request names: the build's name ('' for the default), its modules in output order, its base models."""

    name: str
    modules: tuple[Module, ...]
    base_models: tuple[BaseModel, ...]

    def ids(self) -> tuple[list[int], set[int]]:
        return [m.pk for m in self.modules], {b.pk for b in self.base_models}


@dataclass
class BuildRequest:
    """The answer to a build request: the existing Build (cached) or the job that will make it, the request's own
    lineage, and a note where the Build (or its job) was asked for with other modules or another name."""

    build: Build | None = None
    job: Job | None = None
    requested: Lineage | None = None
    note: str = field(default="")

    @property
    def cached(self) -> bool:
        return self.build is not None


def _as_bool(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise HubError(f"{field} must be true or false", field=field)


def _visible_modules(user, modules) -> list[Module]:
    if not isinstance(modules, (list, tuple)) or not modules:
        raise HubError("choose at least two classes: give the modules to compose, in output order",
                       code=ErrorCode.NO_CLASSES, field="modules")
    ids = []
    for item in modules:
        pk = item.pk if isinstance(item, Module) else item
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise HubError(f"modules must be module ids; got {item!r}", field="modules")
        ids.append(pk)
    if len(ids) > MAX_CLASSES:
        raise HubError(f"a build takes at most {MAX_CLASSES} classes", field="modules")
    repeated = sorted({pk for pk in ids if ids.count(pk) > 1})
    if repeated:
        raise HubError(f"module(s) {', '.join(f'#{pk}' for pk in repeated)} chosen more than once; "
                       "choose each module once", code=ErrorCode.DUPLICATE_CLASSES, field="modules")
    rows = {m.pk: m for m in modules_visible_to(user).select_related("base_model", "base_model__dataset")
            .filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in rows]
    if missing:
        raise HubError(f"module(s) {', '.join(f'#{pk}' for pk in missing)} do not exist or are not visible "
                       "to you", code=ErrorCode.NOT_FOUND, field="modules")
    chosen = [rows[pk] for pk in ids]
    names = [m.class_name for m in chosen]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        detail = "; ".join(f"{n!r} from modules {', '.join(f'#{m.pk}' for m in chosen if m.class_name == n)}"
                           for n in clashes)
        raise HubError(f"each class can appear once in a classifier; repeated: {detail}. Keep one module per class",
                       code=ErrorCode.DUPLICATE_CLASSES, field="modules")
    if len(chosen) < 2:
        raise HubError("a classifier needs at least two classes; choose one more module",
                       code=ErrorCode.NO_CLASSES, field="modules")
    return chosen


def _check_inputs(specs: list[dict], names: list[str], adapt: bool) -> InputSpec:
    try:
        spec, _ = plan_inputs([InputSpec.from_dict(s) for s in specs], names, adapt)
    except (EngineError, ValueError) as exc:
        raise HubError(str(exc), code=ErrorCode.INPUT_MISMATCH, field="modules") from exc
    return spec


def _pick_dataset(user, dataset, class_names: list[str], spec: InputSpec, candidates: list[BaseModel]) -> Dataset:
    """The given data set (checked), else the first base model's data set that has every class."""
    visible = datasets_visible_to(user)
    if dataset is not None:
        pk = dataset.pk if isinstance(dataset, Dataset) else dataset
        row = visible.filter(pk=pk).first() if isinstance(pk, int) and not isinstance(pk, bool) else None
        if row is None:
            raise HubError(f"data set {dataset!r} does not exist or is not visible to you", code=ErrorCode.NOT_FOUND,
                           field="dataset")
        missing = [c for c in class_names if c not in row.class_names]
        if missing:
            raise HubError(f"data set {row.name!r} has no class(es) {missing}; choose a data set with every chosen "
                           "class", code=ErrorCode.CLASS_MISMATCH, field="dataset")
        if InputSpec.from_dict(row.input_spec).shape != spec.shape:
            raise HubError(f"data set {row.name!r} has {tuple(InputSpec.from_dict(row.input_spec).shape)} images, "
                           f"the build takes {spec.shape}", code=ErrorCode.INPUT_MISMATCH, field="dataset")
        return row
    seen = set()
    for model in candidates:
        if model.dataset_id is None or model.dataset_id in seen:
            continue
        seen.add(model.dataset_id)
        row = visible.filter(pk=model.dataset_id).first()
        if row is not None and all(c in row.class_names for c in class_names) \
                and InputSpec.from_dict(row.input_spec).shape == spec.shape:
            return row
    raise HubError(f"a build is measured and its ONNX checked on labelled images, and none of the base models' "
                   f"data sets has every class {class_names}; choose a data set that does", code=ErrorCode.NO_DATASET,
                   field="dataset")


def _visibility(requested, rows) -> str:
    visibility = clean_visibility(requested)
    if any(r.visibility == Visibility.PRIVATE for r in rows):
        return Visibility.PRIVATE  # a build shows what its inputs are: it is as private as they are
    return visibility


def cache_key(payload: dict, owner, visibility: str) -> str:
    """sha256 of the canonical request; private builds are keyed per owner so they are never shared."""
    body = {"format": BUILD_FORMAT, **payload, "owner": owner.pk if visibility == Visibility.PRIVATE else None}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _existing(owner, key: str, requested: Lineage) -> BuildRequest | None:
    build = Build.objects.filter(cache_key=key).first()
    if build is not None:
        modules = [item.module_id for item in build.items.all()]
        bases = set(build.base_models.values_list("pk", flat=True))
        return BuildRequest(build=build, requested=requested,
                            note=_lineage_note(f"build #{build.pk}", build.name, modules, bases, requested))
    job = Job.objects.filter(kind__in=[Job.Kind.BUILD, Job.Kind.PATCH], owner=owner, params__cache_key=key,
                             status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
    if job is None:
        return None
    modules = job.params.get("modules") or [job.params["module"]]
    bases = set(Module.objects.filter(pk__in=modules).values_list("base_model_id", flat=True))
    weak = job.params.get("model")  # a patch's weak model
    if weak is not None:
        bases.add(weak)
    return BuildRequest(job=job, requested=requested,
                        note=_lineage_note(f"job #{job.pk}", job.params.get("name", ""), modules, bases, requested))


def _ids(ids) -> str:
    return ", ".join(f"#{pk}" for pk in ids)


def _lineage_note(what: str, name: str, modules: list[int], bases: set[int], requested: Lineage) -> str:
    """'' when ``what`` (the existing build or job) is exactly what was asked for; else what differs."""
    notes = []
    asked_modules, asked_bases = requested.ids()
    if (modules, bases) != (asked_modules, asked_bases):
        notes.append(f"{what} is this same classifier, made from modules {_ids(modules)} of base model(s) "
                     f"{_ids(sorted(bases))}; the modules you chose ({_ids(asked_modules)} of "
                     f"{_ids(sorted(asked_bases))}) hold identical weights, so you get {what} and the lineage it "
                     "records")
    if requested.name and requested.name != name:
        notes.append(f"the name {requested.name!r} was not applied: {what} is named {name!r}")
    return "; ".join(notes)


def _compose_options(strategy, calibration, refit, adapt_inputs, calibration_per_class) -> ComposeOptions:
    if strategy not in STRATEGIES:
        raise HubError(f"strategy must be one of {', '.join(STRATEGIES)}", field="strategy")
    if calibration not in CALIBRATIONS:
        raise HubError(f"calibration must be one of {', '.join(CALIBRATIONS)}", field="calibration")
    try:
        return ComposeOptions(strategy=strategy, calibration=calibration, refit=_as_bool(refit, "refit"),
                              adapt_inputs=_as_bool(adapt_inputs, "adapt_inputs"),
                              calibration_per_class=int(calibration_per_class))
    except (EngineError, TypeError, ValueError) as exc:
        raise HubError(str(exc), field="options") from exc


def _clean_build_name(name) -> str:
    return (name or "").strip()[:120]


def _default_name(names: list[str], what: str) -> str:
    shown = ", ".join(names[:6]) + (f" +{len(names) - 6}" if len(names) > 6 else "")
    return f"{shown} ({what})"[:120]


def start_build(*, owner, modules, strategy: str = "ensemble", calibration: str = "none", refit: bool = False,
                adapt_inputs: bool = False, calibration_per_class: int = 50, dataset=None, name: str = "",
                description: str = "", visibility: str | None = None, device: str = "auto") -> BuildRequest:
    """Compose the chosen modules (ids, in output order) into a classifier; cached builds return at once."""
    options = _compose_options(strategy, calibration, refit, adapt_inputs, calibration_per_class)
    chosen = _visible_modules(owner, modules)
    names = [m.class_name for m in chosen]
    spec = _check_inputs([m.base_model.input_spec for m in chosen], names, options.adapt_inputs)
    bases = list({m.base_model_id: m.base_model for m in chosen}.values())
    data = _pick_dataset(owner, dataset, names, spec, bases)
    visibility = _visibility(visibility, [*chosen, data])
    key = cache_key({"kind": "compose", "options": options.to_dict(), "dataset": data.arrays_id,
                     "items": [[m.weights_id, m.spec_id, m.class_name] for m in chosen],
                     "bases": [[b.weights_id, b.input_spec] for b in bases]}, owner, visibility)
    requested = Lineage(_clean_build_name(name), tuple(chosen), tuple(bases))
    existing = _existing(owner, key, requested)
    if existing is not None:
        return existing
    job = start_job(kind=Job.Kind.BUILD, owner=owner, device=device, params={
        "kind": "compose", "modules": [m.pk for m in chosen], "class_names": names, "dataset": data.pk,
        "options": options.to_dict(), "cache_key": key, "visibility": visibility,
        "name": requested.name or _default_name(names, options.strategy), "description": description or ""})
    return BuildRequest(job=job, requested=requested)


def start_patch(*, owner, model, module, mode: str = "replace", calibration: str = "linear",
                adapt_inputs: bool = False, calibration_per_class: int = 50, dataset=None, name: str = "",
                description: str = "", visibility: str | None = None, device: str = "auto") -> BuildRequest:
    """Replace (or add) class c of the weak ``model`` with the strong ``module`` for c."""
    if mode not in MODES:
        raise HubError(f"mode must be one of {', '.join(MODES)}", field="mode")
    if calibration not in PATCH_CALIBRATIONS:
        raise HubError(f"calibration must be one of {', '.join(PATCH_CALIBRATIONS)}", field="calibration")
    try:
        options = PatchOptions(mode=mode, calibration=calibration, adapt_inputs=_as_bool(adapt_inputs, "adapt_inputs"),
                               calibration_per_class=int(calibration_per_class))
    except (EngineError, TypeError, ValueError) as exc:
        raise HubError(str(exc), field="options") from exc
    model_pk = model.pk if isinstance(model, BaseModel) else model
    weak = models_visible_to(owner).filter(pk=model_pk).first() if isinstance(model_pk, int) else None
    if weak is None:
        raise HubError(f"model {model!r} does not exist or is not visible to you", code=ErrorCode.NOT_FOUND,
                       field="model")
    if not weak.runnable:
        raise HubError("this entry is an ONNX file, stored for download only; patching needs PyTorch weights",
                       code=ErrorCode.NOT_SUPPORTED, field="model")
    strong = _visible_single_module(owner, module)
    try:
        names = patched_class_names(weak.class_names, strong.class_name, mode)
    except EngineError as exc:
        raise HubError(str(exc), code=ErrorCode.CLASS_MISMATCH, field="mode") from exc
    if strong.base_model_id == weak.pk:
        raise HubError("the module comes from the model being patched; choose a module of a stronger model",
                       field="module")
    spec = _check_inputs([weak.input_spec, strong.base_model.input_spec], ["weak model", strong.class_name],
                         options.adapt_inputs)
    data = _pick_dataset(owner, dataset, names, spec, [weak, strong.base_model])
    visibility = _visibility(visibility, [weak, strong, data])
    key = cache_key({"kind": "patch", "options": options.to_dict(), "dataset": data.arrays_id,
                     "weak": weak.weights_id, "weak_classes": weak.class_names,
                     "module": [strong.weights_id, strong.spec_id, strong.class_name]}, owner, visibility)
    requested = Lineage(_clean_build_name(name), (strong,), (weak, strong.base_model))
    existing = _existing(owner, key, requested)
    if existing is not None:
        return existing
    job = start_job(kind=Job.Kind.PATCH, owner=owner, device=device, params={
        "kind": "patch", "model": weak.pk, "module": strong.pk, "class_names": names, "dataset": data.pk,
        "options": options.to_dict(), "cache_key": key, "visibility": visibility,
        "name": requested.name or f"{weak.name} with {strong.class_name!r} {mode}d"[:120],
        "description": description or ""})
    return BuildRequest(job=job, requested=requested)


def _visible_single_module(user, module) -> Module:
    pk = module.pk if isinstance(module, Module) else module
    row = (modules_visible_to(user).select_related("base_model").filter(pk=pk).first()
           if isinstance(pk, int) and not isinstance(pk, bool) else None)
    if row is None:
        raise HubError(f"module {module!r} does not exist or is not visible to you", code=ErrorCode.NOT_FOUND,
                       field="module")
    return row


def estimate(*, user, modules, adapt_inputs: bool = False) -> dict:
    """Params and FLOPs of both strategies for a selection, before building (sizes need no weights)."""
    from modules_registry.selectors import module_spec
    from splitter_engine.composition import fused_size  # builds a model (torch): loaded on the first estimate

    chosen = _visible_modules(user, modules)
    names = [m.class_name for m in chosen]
    spec = _check_inputs([m.base_model.input_spec for m in chosen], names, _as_bool(adapt_inputs, "adapt_inputs"))
    by_base: dict[int, list[Module]] = {}
    for m in chosen:
        by_base.setdefault(m.base_model_id, []).append(m)
    fused_params = fused_flops = 0
    for members in by_base.values():
        specs = [module_spec(m) for m in members]
        size = fused_size(specs[0]["arch"], specs[0]["input"], specs[0]["group_roots"], [s["kept"] for s in specs],
                          [m.class_index for m in members])
        fused_params += size.params
        fused_flops += size.flops
    bases = [members[0].base_model for members in by_base.values()]
    return {
        "classes": names, "input_spec": spec.to_dict(),
        "ensemble": {"params": sum(m.params for m in chosen), "flops": sum(m.flops for m in chosen)},
        "fused": {"params": fused_params, "flops": fused_flops},
        "base_models": [{"id": b.pk, "name": b.name, "params": b.params, "flops": b.flops} for b in bases],
        "calibration_recommended": len(bases) > 1,
    }
