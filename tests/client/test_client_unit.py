"""Client pieces that need no worker: errors, pagination, the progress bar, a read-only token."""
import io

import pytest
from hubclient import HubClient, HubError
from hubclient.progress import ProgressBar

from accounts.services import create_token


@pytest.mark.django_db(transaction=True)
def test_errors_pagination_and_scopes(live_server, user):
    from modules_registry.models import Job
    for _ in range(3):
        Job.objects.create(kind="train", owner=user, params={})
    _, read = create_token(user=user, name="r", scope="read")
    hub = HubClient(live_server.url, read)
    assert len(hub.list("jobs", page_size=2)) == 3  # follows `next`
    assert len(hub.list("jobs", limit=1)) == 1
    with pytest.raises(HubError) as error:
        hub.import_dataset("digits-16")
    assert (error.value.status, error.value.code) == (403, "insufficient_scope")
    with pytest.raises(HubError) as error:
        hub.detail("models", 424242)
    assert (error.value.status, error.value.code) == (404, "not_found")
    with pytest.raises(HubError) as error:
        HubClient(live_server.url, "hub_wrong").list("models")
    assert error.value.code == "authentication_failed"


def test_progress_bar_draws_one_line():
    stream = io.StringIO()
    bar = ProgressBar("job 1", width=10, stream=stream)
    bar.update({"progress": 0.5, "status": "running", "stage": "search", "message": "epoch 3"})
    bar.update({"progress": 1.0, "status": "succeeded", "stage": "done"})
    bar.close()
    text = stream.getvalue()
    assert "[#####-----]  50.0% running search: epoch 3" in text and "[##########] 100.0%" in text
    assert text.endswith("\n")


class RecordingClient:
    """Stands in for HubClient: records each call; jobs come back succeeded, builds cached."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == "list":
                return [{"id": 3, "kind": "train", "status": "queued", "progress": 0.0, "stage": ""}]
            if name == "build":
                return {"cached": True, "build": {"id": 9, "name": "b", "class_names": ["3", "5"], "onnx": {}}}
            if name == "download":
                return "/tmp/out.onnx"
            return {"id": 4, "kind": "decompose", "status": "succeeded", "result_urls": {"decomposition": "/d/1/"},
                    "weights": {"sha256": "x"}}
        return call


@pytest.mark.parametrize("argv, call, printed", [
    (["jobs", "--status", "queued"], ("list", ("jobs",), {"limit": 50, "status": "queued", "kind": None,
                                                          "ordering": None}), "#3  train  queued  0%"),
    (["show", "models", "4"], ("detail", ("models", 4), {}), '"id": 4'),
    (["download", "model", "4", "-o", "m.safetensors"], ("detail", ("models", 4), {}), "/tmp/out.onnx"),
    (["import-dataset", "digits-16"], ("import_dataset", ("digits-16",), {"name": None}), "job #4 decompose"),
    (["upload-model", "w.pt", "--name", "m", "--classes", "a, b", "--input-spec", '{"channels": 1}'],
     ("upload_model", ("w.pt",), {"name": "m", "class_names": ["a", "b"], "input_spec": {"channels": 1},
                                  "architecture": "", "arch_kwargs": {}, "dataset": None, "visibility": "public"}),
     "succeeded decomposition=/d/1/"),
    (["train", "--dataset", "1", "--name", "t", "--architecture", "simcnn"],
     ("train", (), {"dataset": 1, "name": "t", "architecture": "simcnn", "arch_kwargs": {}, "config": {}}), "job #4"),
    (["decompose", "2", "--preset", "paper"], ("decompose", (2,), {"method": "gradsplitter", "preset": "paper",
                                                                   "overrides": {}, "seed": 0, "device": "auto"}),
     "job #4"),
    (["cancel", "4"], ("cancel", (4,), {}), "job #4"),
    (["build", "3", "5"], ("build", ([3, 5],), {"strategy": "ensemble", "calibration": "none", "name": ""}),
     "build #9 b: classes 3, 5 (cached)"),
])
def test_each_cli_command_calls_the_client_and_prints_its_answer(argv, call, printed):
    from hubclient.cli import build_parser, run

    client, out = RecordingClient(), io.StringIO()
    assert run(build_parser().parse_args(argv), client, out) == 0
    assert client.calls[0] == call
    assert printed in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_edit_model_sets_description_and_tags(live_server, user):
    import factories as f

    model = f.make_model(user, f.make_dataset(user))
    _, write = create_token(user=user, name="w", scope="write")
    hub = HubClient(live_server.url, write)
    answer = hub.edit_model(model.pk, description="Digits, **grey**.", tags=["Digits", "grey"])
    assert answer["tags"] == ["digits", "grey"] and answer["description"] == "Digits, **grey**."
    assert [m["id"] for m in hub.list("models", tag="grey")] == [model.pk]
    with pytest.raises(HubError) as error:
        hub.edit_model(model.pk, tags=["no spaces"])
    assert (error.value.status, error.value.code) == (400, "invalid")
