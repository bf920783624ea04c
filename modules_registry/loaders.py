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


def model_input_spec(row: BaseModel) -> InputSpec:
    """How the model's inputs are normalised: the one source of truth for every job that feeds it images."""
    return InputSpec.from_dict(row.input_spec)


def dataset_for_model(dataset_row: Dataset, model_row: BaseModel) -> tuple[ImageDataset, str | None]:
    """The data set's images normalised as the model declares, and a note when the data set's own differs."""
    data = load_dataset(dataset_row)
    spec = model_input_spec(model_row)
    return data.normalised_as(spec), spec.disagreement(data.spec, data.name)


def load_model(row: BaseModel):
    """The row's network with its weights, in eval mode."""
    spec = ArchSpec(name=row.architecture, num_classes=row.num_classes, in_channels=row.input_spec["channels"],
                    kwargs=row.arch_kwargs)
    with blobs.open_blob(row.weights) as handle:
        tensors = read_safetensors(handle.read()).tensors
    return build_with_weights(spec, tensors)


def chosen_module(row: Module) -> composition.ChosenModule:
    """The module as a build uses it; its inputs are normalised as its base model declares (modules cut
    before that rule recorded the data set's normalisation in their spec)."""
    spec = {**json.loads(blobs.read_bytes(row.spec).decode("utf-8")), "input": row.base_model.input_spec}
    with blobs.open_blob(row.weights) as handle:
        tensors = read_safetensors(handle.read()).tensors
    return composition.ChosenModule(spec=spec, state_dict=tensors, base_key=row.base_model.weights_id,
                                    class_name=row.class_name, sha256=row.weights_id)


def base_source(row: BaseModel) -> composition.BaseSource:
    return composition.BaseSource(key=row.weights_id, model=load_model(row), spec=model_input_spec(row),
                                  class_names=list(row.class_names))
