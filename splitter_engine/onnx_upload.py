"""Inspect an uploaded ``.onnx`` file: registry-only (stored, described, downloadable), never decomposed.

ONNX is data, but external-data references have had path-traversal bugs, so only a single self-contained
file is accepted: any tensor stored outside it is refused before the checker runs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Union

import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, TensorProto

from splitter_engine.runtime import EngineError

MAX_ONNX_BYTES = 2 * 1024**3 - 1  # protobuf's own ceiling for one message


class OnnxUploadError(EngineError):
    """An ONNX upload that is not a single valid self-contained model; the message says what to fix."""


@dataclass
class OnnxSummary:
    inputs: list[dict]
    outputs: list[dict]
    opsets: dict[str, int]
    ir_version: int
    producer: str
    node_count: int
    parameter_count: int
    metadata: dict[str, str] = field(default_factory=dict)
    decomposable: bool = False

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))

    def to_dict(self) -> dict:
        return {**asdict(self), "opset": self.opset}


def _graph_tensors(graph: GraphProto) -> Iterator[TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _attribute_tensors(node.attribute)


def _attribute_tensors(attributes) -> Iterator[TensorProto]:
    for attr in attributes:
        if attr.type == AttributeProto.TENSOR:
            yield attr.t
        elif attr.type == AttributeProto.TENSORS:
            yield from attr.tensors
        elif attr.type == AttributeProto.GRAPH:
            yield from _graph_tensors(attr.g)
        elif attr.type == AttributeProto.GRAPHS:
            for graph in attr.graphs:
                yield from _graph_tensors(graph)


def _all_tensors(model: onnx.ModelProto) -> Iterator[TensorProto]:
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _attribute_tensors(node.attribute)


def _value_info(value) -> dict:
    tensor = value.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
    return {"name": value.name, "dtype": TensorProto.DataType.Name(tensor.elem_type) if tensor.elem_type else "?",
            "shape": dims}


def _numel(tensor: TensorProto) -> int:
    count = 1
    for d in tensor.dims:
        count *= d
    return count


def inspect_onnx(source: Union[str, Path, bytes], max_bytes: int = MAX_ONNX_BYTES) -> OnnxSummary:
    """Parse, refuse external data, run ``onnx.checker.check_model``, and describe inputs/outputs/opsets."""
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    if not data:
        raise OnnxUploadError("the ONNX file is empty; upload the exported .onnx file")
    if len(data) > max_bytes:
        raise OnnxUploadError(f"the ONNX file has {len(data):,} bytes, more than the limit of {max_bytes:,}")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OnnxUploadError(f"the file is not a valid ONNX model ({exc}); upload a .onnx file from an exporter") from exc
    external = [t.name or "<unnamed>" for t in _all_tensors(model)
                if t.data_location == TensorProto.EXTERNAL or len(t.external_data) > 0]
    if external:
        raise OnnxUploadError(
            f"the ONNX model keeps {len(external)} tensor(s) in external files ({', '.join(external[:5])}); only "
            f"single-file models are accepted: export with external_data=False (torch.onnx.export) or "
            f"onnx.save_model(model, path, save_as_external_data=False)")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        raise OnnxUploadError(f"the ONNX model fails onnx.checker: {str(exc).strip()[:600]}") from exc
    initializers = {t.name for t in model.graph.initializer}
    inputs = [_value_info(v) for v in model.graph.input if v.name not in initializers]
    if not inputs or not model.graph.output:
        raise OnnxUploadError("the ONNX model has no graph inputs or no outputs; export the whole classifier")
    return OnnxSummary(
        inputs=inputs,
        outputs=[_value_info(v) for v in model.graph.output],
        opsets={entry.domain: int(entry.version) for entry in model.opset_import},
        ir_version=int(model.ir_version),
        producer=" ".join(p for p in (model.producer_name, model.producer_version) if p),
        node_count=len(model.graph.node),
        parameter_count=sum(_numel(t) for t in model.graph.initializer),
        metadata={p.key: p.value for p in model.metadata_props},
    )
