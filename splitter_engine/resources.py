"""A rough estimate of a job's memory before it runs, so that a job that cannot fit is refused at the door.

The network is built on PyTorch's ``meta`` device: no weight is allocated and a forward pass of one image computes
shapes only (milliseconds, even for 50 billion parameters). From it come the parameter count and the values every
layer outputs for one image; the estimate is then

    weights      params x 4 bytes x copies (training: weights, gradients and two Adam moments = 4)
    activations  values per image x batch x 4 bytes x ACTIVATION_FACTOR (outputs kept for the backward pass,
                 their gradients, and workspace)
    data         the data set's uint8 images (and the float32 copies a method makes)

It is deliberately rough (within a small factor): its job is to refuse what is absurd (a network 40 times the
paper's width, a batch of 4,096 images of 1024 x 1024), not to predict a peak exactly. The worker's own memory cap
(``HUB_WORKER_MEMORY_BYTES``) stops whatever the estimate misses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from splitter_engine.architectures import ArchSpec, get_entry
from splitter_engine.runtime import EngineError

BYTES = 4  # float32
ACTIVATION_FACTOR = 3
TRAINING_COPIES = 4  # weights, gradients, Adam's two moments


class JobTooLarge(EngineError):
    """The job's estimated memory is over the limit; the message says what to lower."""

    def __init__(self, message: str, estimate: "MemoryEstimate", limit: int):
        super().__init__(message)
        self.estimate, self.limit = estimate, limit


@dataclass(frozen=True)
class Footprint:
    """What a network costs independently of the batch: its parameters and the values its layers output for one
    image (None when the forward pass could not be traced, e.g. an image too small for the network)."""

    params: int
    values_per_image: int | None
    largest_per_image: int | None = None  # the largest one layer outputs: a pass without gradients keeps few


def footprint(spec: ArchSpec, input_shape: tuple[int, int, int]) -> Footprint:
    """The parameter count and per-image activations of ``spec`` on ``input_shape`` (C, H, W), from a network
    built on the meta device. A torchvision network narrowed by ``width`` < 1 is built at full width and scaled
    (params by width², activations by width): narrowing traces real tensors, which the meta device has not."""
    entry = get_entry(spec.name)
    kwargs = entry.merged_kwargs(spec.kwargs)
    params_scale = values_scale = 1.0
    if entry.family == "torchvision" and float(kwargs.get("width", 1.0)) < 1:
        width = float(kwargs["width"])
        params_scale, values_scale, kwargs = width * width, width, {**kwargs, "width": 1.0}
    with torch.device("meta"):
        model = entry.constructor(num_classes=spec.num_classes, in_channels=spec.in_channels, **kwargs)
    params = sum(p.numel() for p in model.parameters())
    values = _values_per_image(model.eval(), input_shape)
    if values is None:
        return Footprint(int(params * params_scale), None)
    return Footprint(int(params * params_scale), int(values[0] * values_scale), int(values[1] * values_scale))


def _values_per_image(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[int, int] | None:
    """(values all layers output, the largest one) for one image."""
    total = largest = int(torch.Size(input_shape).numel())

    def count(module, inputs, output):
        nonlocal total, largest
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel()
                largest = max(largest, tensor.numel())

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.empty(1, *input_shape, device="meta"))
    except Exception:  # noqa: BLE001 - any tracing problem: the worker reports it; the estimate goes without
        return None
    finally:
        for handle in handles:
            handle.remove()
    return total, largest


@dataclass
class MemoryEstimate:
    """Bytes per part of a job; ``total`` is what the door compares with the limit."""

    parts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    def describe(self) -> str:
        parts = ", ".join(f"{name} {human_bytes(size)}" for name, size in self.parts.items() if size)
        return f"about {human_bytes(self.total)} ({parts})"

    def to_dict(self) -> dict:
        return {"total_bytes": self.total, "parts": dict(self.parts), "notes": list(self.notes)}


def human_bytes(size: float) -> str:
    for unit, scale in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{int(size)} B"


def _activations(fp: Footprint, images: int, factor: float) -> int:
    """A pass with gradients keeps every layer's output (and gets their gradients)."""
    return int((fp.values_per_image or 0) * images * BYTES * factor)


def _inference(fp: Footprint, images: int) -> int:
    """A pass without gradients keeps a layer's input and output at a time (and a branch or two)."""
    return int((fp.largest_per_image or 0) * images * BYTES * ACTIVATION_FACTOR)


def training_memory(fp: Footprint, *, batch_size: int, eval_batch_size: int, images: int,
                    image_values: int) -> MemoryEstimate:
    """Training: the weights with their gradients and optimiser state, plus the best epoch's copy; activations of a
    batch; the data set's ``images`` uint8 images of ``image_values`` (C x H x W) values and the training subset's
    copy of them."""
    estimate = MemoryEstimate({
        "weights": fp.params * BYTES * (TRAINING_COPIES + 1),
        "activations": max(_activations(fp, batch_size, ACTIVATION_FACTOR), _inference(fp, eval_batch_size)),
        "data": 2 * images * image_values,
    })
    if fp.values_per_image is None:
        estimate.notes.append("activations unknown: the network could not be traced on these images")
    return estimate


def decomposition_memory(fp: Footprint, *, classes: int, batch_size: int, modules_per_pass: int,
                         eval_batch_size: int, images: int, image_values: int) -> MemoryEstimate:
    """A decomposition search: the frozen model (and the copies a method makes to analyse and fold it), a batch of
    images run once per module of a pass (with gradients to the masks), the data set as uint8 and as float32, and
    every module's logits on every image (classes x images x classes)."""
    per_pass = modules_per_pass or classes
    estimate = MemoryEstimate({
        "weights": fp.params * BYTES * 3,
        "activations": max(_activations(fp, batch_size * per_pass, ACTIVATION_FACTOR),
                           _inference(fp, eval_batch_size * per_pass)),
        "data": images * image_values * (1 + BYTES),
        "logits": classes * classes * images * BYTES,
    })
    if fp.values_per_image is None:
        estimate.notes.append("activations unknown: the network could not be traced on these images")
    return estimate


def check_fits(estimate: MemoryEstimate, limit: int, what: str, advice: str) -> None:
    """JobTooLarge when ``estimate`` is over ``limit`` bytes (0 or less: no limit)."""
    if limit > 0 and estimate.total > limit:
        raise JobTooLarge(f"{what} would need {estimate.describe()}, more than the {human_bytes(limit)} a job may "
                          f"use on this hub; {advice}", estimate, limit)
