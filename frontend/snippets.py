"""'Use this model': copyable code that downloads a build's ONNX file (or a model's weights) with the hub's client and
runs it with the preprocessing the file expects (resize to the input size, scale to [0, 1], normalise with the
input spec's mean and std: what "Try it" does on the server), plus the curl line."""
from __future__ import annotations

import json

_PREPROCESS = '''
MEAN = np.array({mean}, dtype=np.float32).reshape(-1, 1, 1)
STD = np.array({std}, dtype=np.float32).reshape(-1, 1, 1)
CLASSES = {classes}


def preprocess(path):
    """An image file -> float32 1 x {channels} x {height} x {width}: resized, scaled to [0, 1], normalised."""
    image = Image.open(path).convert("{mode}").resize(({width}, {height}), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float32) / 255.0
    x = {layout}
    return ((x - MEAN) / STD)[None].astype(np.float32)
'''

_ONNX_RUN = '''
session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
logits = session.run(None, {session.get_inputs()[0].name: preprocess("image.png")})[0]
print(CLASSES[int(logits[0].argmax())])
'''


def _preprocess(spec: dict, class_names: list[str]) -> str:
    channels = int(spec["channels"])
    return _PREPROCESS.format(
        mean=json.dumps([float(v) for v in spec.get("mean") or [0.0] * channels]),
        std=json.dumps([float(v) for v in spec.get("std") or [1.0] * channels]),
        classes=json.dumps(list(class_names)), channels=channels, height=int(spec["height"]),
        width=int(spec["width"]), mode="L" if channels == 1 else "RGB",
        layout="x[None, :, :]" if channels == 1 else "x.transpose(2, 0, 1)")


def _client(base_url: str) -> str:
    return ("from hubclient.client import HubClient  # pip install ./client (from the hub's source)\n\n"
            f'hub = HubClient("{base_url}")  # a private entry needs token="hub_..." (or HUB_TOKEN)\n')


def build_python(build, base_url: str) -> str:
    return ("import numpy as np\nimport onnxruntime as ort\nfrom PIL import Image\n"
            + _client(base_url)
            + f'path = hub.download_build({build.pk}, "build-{build.pk}.onnx")  # sha256-checked\n'
            + _preprocess(build.input_spec, build.class_names) + _ONNX_RUN)


def model_python(model, base_url: str) -> str:
    head = (f'path = hub.download(hub.detail("models", {model.pk})["weights"], '
            f'"model-{model.pk}{".onnx" if model.format == "onnx" else ".safetensors"}")  # sha256-checked\n')
    if model.format == "onnx":
        return ("import numpy as np\nimport onnxruntime as ort\nfrom PIL import Image\n" + _client(base_url) + head
                + _preprocess(model.input_spec, model.class_names) + _ONNX_RUN)
    arch = (f'ArchSpec(name="{model.architecture}", num_classes={model.num_classes}, '
            f'in_channels={int(model.input_spec["channels"])}, kwargs={json.dumps(model.arch_kwargs or {})})')
    return ("import numpy as np\nimport torch\nfrom PIL import Image\n"
            "from splitter_engine.architectures import ArchSpec  # the architecture code is the hub's own\n"
            "from splitter_engine.weights import build_with_weights, read_safetensors\n"
            + _client(base_url) + head + _preprocess(model.input_spec, model.class_names)
            + f"\nmodel = build_with_weights({arch}, read_safetensors(str(path)).tensors).eval()\n"
            "with torch.no_grad():\n"
            '    logits = model(torch.from_numpy(preprocess("image.png")))\n'
            "print(CLASSES[int(logits[0].argmax())])\n")


def curl(url: str, filename: str) -> str:
    return f'curl -fL -o {filename} "{url}"  # add -H "Authorization: Bearer $HUB_TOKEN" for a private entry'


def use_this_build(request, build) -> dict:
    from django.urls import reverse

    base = request.build_absolute_uri("/").rstrip("/")
    return {"python": build_python(build, base),
            "curl": curl(request.build_absolute_uri(reverse("api:build-onnx", kwargs={"pk": build.pk})),
                         f"build-{build.pk}.onnx"),
            "what": "Download the ONNX file with the hub's client (sha256-checked) and run it in onnxruntime with "
                    "the preprocessing it expects; or fetch it with curl."}


def use_this_model(request, model) -> dict:
    from django.urls import reverse

    base = request.build_absolute_uri("/").rstrip("/")
    suffix = ".onnx" if model.format == "onnx" else ".safetensors"
    what = ("Download the ONNX file with the hub's client (sha256-checked) and run it in onnxruntime with the "
            "preprocessing it expects; or fetch it with curl." if model.format == "onnx" else
            "Download the weights with the hub's client (sha256-checked) and run them in PyTorch with the "
            "architecture code from the hub's source tree and the preprocessing they expect; or fetch them with "
            "curl. A build of its classes is a single ONNX file that needs only onnxruntime.")
    return {"python": model_python(model, base), "what": what,
            "curl": curl(request.build_absolute_uri(reverse("api:model-weights", kwargs={"pk": model.pk})),
                         f"model-{model.pk}{suffix}")}
