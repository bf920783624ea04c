"""A build's measured cost (params, FLOPs, ONNX bytes, onnxruntime latency) beside its base model's, and FLOPs
that agree with a count on the exported ONNX graph."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper, shape_inference

from composition_support import chosen, decomposed, digits, key_of, base_source
from splitter_engine.composition import ComposeOptions, compose, export_build
from splitter_engine.profile import model_size

PICK = ["7", "2", "5"]


def onnx_macs(data: bytes) -> int:
    """Multiply-accumulates of the Conv, Gemm and MatMul nodes of an ONNX graph for one image."""
    model = shape_inference.infer_shapes(onnx.load_from_string(data))
    graph = model.graph
    shapes = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
              for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    weights = {t.name: numpy_helper.to_array(t).shape for t in graph.initializer}
    total = 0
    for node in graph.node:
        if node.op_type == "Conv":
            out = shapes[node.output[0]]
            w = weights[node.input[1]]
            total += int(np.prod(out[1:])) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            w = weights.get(node.input[1])
            total += int(np.prod(w)) if w is not None else 0
    return total


@pytest.fixture(scope="module")
def built():
    model, _, names, modules = decomposed()
    base = base_source(model, names)
    composition = compose(chosen(model, modules, PICK), ComposeOptions("fused"), digits(), {key_of(model): base})
    return model, export_build(composition, digits(), [], {}, bases=[base])


def test_a_build_reports_its_footprint_beside_the_base_model(built):
    model, output = built
    report = output.metrics["footprint"]
    build, (base,) = report["build"], report["bases"]
    size = model_size(model, digits().spec)
    assert (base["params"], base["flops"]) == (size.params, size.flops)
    assert build["params"] == output.composition.params and build["onnx_bytes"] == len(output.onnx.data)
    assert base["onnx_bytes"] > 4 * base["params"]  # float32 weights plus the graph
    assert all(report[part][f"latency_ms_b{b}"] > 0 for part in ("build",) for b in (1, 64))
    assert all(base[f"latency_ms_b{b}"] > 0 for b in (1, 64))
    # a 3-of-10 fused build keeps the union of three modules' channels and three output rows
    assert report["ratio"]["params"] < 1 and report["ratio"]["flops"] < 1
    assert report["ratio"]["onnx_bytes"] == pytest.approx(build["onnx_bytes"] / base["onnx_bytes"], abs=1e-4)


def test_reported_flops_match_a_count_on_the_exported_onnx_graph(built):
    _, output = built
    counted = onnx_macs(output.onnx.data)
    # The reported figure (torch-pruning's count on the PyTorch network) adds what the graph count leaves out:
    # biases and the per-element work of BatchNorm (folded into the convolutions on export), ReLU and pooling.
    # On this ResCNN that is 2.1 %; the multiply-accumulates themselves are the same.
    assert counted <= output.metrics["flops"] <= counted * 1.03
