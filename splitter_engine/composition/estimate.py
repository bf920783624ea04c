"""Size of a build before it is built: what the user compares when choosing a strategy."""
from __future__ import annotations

import functools
import json

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.composition.fused import select_classes, slice_trunk
from splitter_engine.profile import ModelSize, model_size
from splitter_engine.specs import InputSpec


def fused_size(arch: dict, input_spec: dict, group_roots: list[str], kept_per_class: list[list[list[int]]],
               class_indices: list[int]) -> ModelSize:
    """Params and FLOPs of one fused trunk: the architecture sliced to the union, output cut to the classes.

    Sizes do not depend on weights, so a freshly built network stands in for the trained one.
    """
    key = json.dumps([arch, input_spec, group_roots, kept_per_class, class_indices], sort_keys=True)
    return _fused_size(key)


@functools.lru_cache(maxsize=256)
def _fused_size(key: str) -> ModelSize:
    arch, input_spec, roots, kept, classes = json.loads(key)
    spec = InputSpec.from_dict(input_spec)
    trunk = slice_trunk(build_model(ArchSpec.from_dict(arch)), spec.shape, roots, kept)
    network, _ = select_classes(trunk, spec.shape, classes)
    return model_size(network, spec)
