"""The whole journey through the client, against a live server and a real worker process:
import data, upload a model, decompose (CLI, progress bar), find modules, build, download, run the ONNX."""
import hashlib
import io
import json

import numpy as np
import pytest
from hubclient import HubClient, HubError
from hubclient.cli import main as cli

from accounts.services import create_token
from splitter_engine.data import load_builtin

ARCH = {"architecture": "rescnn", "arch_kwargs": {"width": 0.125}}  # as the shared small_digits16_weights


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)
def test_journey(live_server, worker, user, small_digits16_weights, tmp_path, capsys, monkeypatch):
    _, token = create_token(user=user, name="journey", scope="write")
    hub = HubClient(live_server.url, token, timeout=30)
    monkeypatch.setenv("HUB_URL", live_server.url)
    monkeypatch.setenv("HUB_TOKEN", token)

    job = hub.wait(hub.import_dataset("digits-16"), poll=0.3, timeout=120)
    dataset = hub.result(job, "dataset")
    weights = tmp_path / "digits-rescnn.safetensors"
    weights.write_bytes(small_digits16_weights)
    job = hub.wait(hub.upload_model(weights, name="digits-rescnn", class_names=dataset["class_names"],
                                    input_spec=dataset["input_spec"], dataset=dataset["id"], **ARCH),
                   poll=0.3, timeout=120)
    model = hub.result(job, "model")
    assert model["weights"]["sha256"] and model["dataset"]["id"] == dataset["id"]

    # Decompose from the CLI, waiting with a progress bar.
    assert cli(["decompose", str(model["id"]), "--overrides", json.dumps({"cycles": 1, "warmup_head_epochs": 1, "cycle_head_epochs": 1, "refit_head_epochs": 0}), "--wait"]) == 0
    captured = capsys.readouterr()
    assert "succeeded" in captured.out and "decomposition=" in captured.out
    assert "[" in captured.err and "%" in captured.err  # the bar

    # Find modules: filter by class, search, kept-kernel range; the CLI lists them too.
    three = hub.modules(class_name="3", base_model=model["id"])
    assert len(three) == 1 and three[0]["base_model"]["id"] == model["id"]
    assert {m["class_name"] for m in hub.search_modules("digits-rescnn")} == set(dataset["class_names"])
    kept = three[0]["kept_kernels"]
    assert three[0]["id"] in [m["id"] for m in hub.modules(kept_kernels_min=kept, kept_kernels_max=kept)]
    assert cli(["modules", "--class-name", "3"]) == 0 and "class=3" in capsys.readouterr().out
    chosen = [hub.modules(class_name=c, base_model=model["id"])[0]["id"] for c in ("3", "5", "8")]
    estimate = hub.estimate(chosen)
    assert estimate["classes"] == ["3", "5", "8"] and estimate["fused"]["flops"] > 0

    # Build, then the same request is answered from the cache.
    build = hub.wait_build(hub.build(chosen, strategy="ensemble"), poll=0.5, timeout=300)
    assert build["class_names"] == ["3", "5", "8"] and build["parity_max_abs_diff"] <= 1e-4
    again = hub.build(chosen, strategy="ensemble")
    assert again["cached"] and again["build"]["id"] == build["id"]

    # Download (resuming a partial file) and run the ONNX on real digits.
    onnx_path = tmp_path / "three-classes.onnx"
    partial = onnx_path.with_name(onnx_path.name + ".part")
    whole = hub.request("GET", build["onnx"]["download_url"]).content
    partial.write_bytes(whole[:1000])
    hub.download(build["onnx"], onnx_path)
    assert hashlib.sha256(onnx_path.read_bytes()).hexdigest() == build["onnx"]["sha256"]

    import onnxruntime as ort
    data = load_builtin("digits-16")
    x, y = data.tensors("test")
    keep = np.isin(y.numpy(), [3, 5, 8])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": x.numpy()[keep].astype(np.float32)})[0]
    assert logits.shape == (int(keep.sum()), 3) and np.isfinite(logits).all()
    # (Accuracy is not asserted: the decomposition above is cut to a few epochs to keep the test short.)
    metadata = " ".join(session.get_modelmeta().custom_metadata_map.values())
    assert all(f'"{c}"' in metadata for c in ("3", "5", "8"))  # class names travel in the file

    # The CLI downloads too, and errors come back with their stable code.
    out = tmp_path / "model.safetensors"
    assert cli(["download", "model", str(model["id"]), "-o", str(out)]) == 0
    assert out.read_bytes() == hub.request("GET", model["weights"]["download_url"]).content
    with pytest.raises(HubError) as error:
        hub.build([chosen[0], chosen[0]])
    assert error.value.status == 400 and error.value.code == "duplicate_classes"
