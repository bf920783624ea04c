"""Input-spec agreement: chosen modules must take the same images, or say how they are adapted."""
from __future__ import annotations

from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec


def plan_inputs(specs: list[InputSpec], names: list[str], adapt: bool = False) -> tuple[InputSpec, list[InputSpec]]:
    """The build's input spec (the first module's) and the distinct specs of the modules.

    Channels and size must agree: resizing or changing colour would change what a module sees. A
    different normalisation is adapted exactly (an affine map per channel) only when ``adapt`` is set.
    """
    target = specs[0]
    distinct: list[InputSpec] = []
    for position, spec in enumerate(specs):
        if spec.shape != target.shape:
            raise EngineError(f"incompatible inputs: class {names[position]!r} takes {spec.describe()} images but class "
                              f"{names[0]!r} takes {target.describe()}; choose modules trained on the same image size and channels")
        if spec != target and not adapt:
            raise EngineError(f"incompatible inputs: class {names[position]!r} was trained on {spec.describe()}, "
                              f"class {names[0]!r} on {target.describe()}; set adapt_inputs to renormalise inside the build")
        if spec not in distinct:
            distinct.append(spec)
    return target, distinct
