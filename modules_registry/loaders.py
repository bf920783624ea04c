"""Rows to engine objects: a data set, a model, a module, a base source, read from their blobs."""
from __future__ import annotations

import json

from modules_registry import blobs
from modules_registry.models import BaseModel, Dataset, Module
from splitter_engine import composition
from splitter_engine.architectures import ArchSpec
from splitter_engine.data import ImageDataset
from splitter_engine.data.packed import unpack
from splitter_engine.specs import InputSpec
from splitter_engine.weights import build_with_weights, read_safetensors


def load_dataset(row: Dataset) -> ImageDataset:
    with blobs.open_blob(row.arrays) as handle:
        return unpack(handle.read())


def load_model(row: BaseModel):
    """The row's network with its weights, in eval mode."""
    spec = ArchSpec(name=row.architecture, num_classes=row.num_classes, in_channels=row.input_spec["channels"],
                    kwargs=row.arch_kwargs)
    with blobs.open_blob(row.weights) as handle:
        tensors = read_safetensors(handle.read()).tensors
    return build_with_weights(spec, tensors)


def chosen_module(row: Module) -> composition.ChosenModule:
    spec = json.loads(blobs.read_bytes(row.spec).decode("utf-8"))
    with blobs.open_blob(row.weights) as handle:
        tensors = read_safetensors(handle.read()).tensors
    return composition.ChosenModule(spec=spec, state_dict=tensors, base_key=row.base_model.weights_id,
                                    class_name=row.class_name, sha256=row.weights_id)


def base_source(row: BaseModel) -> composition.BaseSource:
    return composition.BaseSource(key=row.weights_id, model=load_model(row), spec=InputSpec.from_dict(row.input_spec),
                                  class_names=list(row.class_names))
