"""`HubClient.predict` and `hub predict` against a live server: files and an .npz batch, ranked classes."""
import io

import numpy as np
import pytest
from hubclient import HubClient, HubError
from hubclient.cli import build_parser, run
from PIL import Image

from accounts.services import create_token


@pytest.mark.django_db(transaction=True)
def test_predict_from_the_client_and_the_command_line(live_server, user, tmp_path):
    from factories import chain, make_build

    build = make_build(user, chain(user, tag="client").modules, name="three", cache_key="c" * 64)
    dark, bright = tmp_path / "dark.png", tmp_path / "bright.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(dark)
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(bright)
    np.savez(tmp_path / "batch.npz", x=np.stack([np.zeros((16, 16), np.uint8), np.full((16, 16), 255, np.uint8)]))
    _, read = create_token(user=user, name="r", scope="read")
    hub = HubClient(live_server.url, read)

    answer = hub.predict(build.pk, [dark, bright], top_k=2)
    assert answer["top_k"] == 2 and [p["name"] for p in answer["predictions"]] == ["dark.png", "bright.png"]
    firsts = [p["ranked"][0]["class_name"] for p in answer["predictions"]]
    assert firsts == [build.class_names[0], build.class_names[-1]]
    batch = hub.predict(build.pk, [tmp_path / "batch.npz"], top_k=2)
    assert [p["ranked"][0]["class_name"] for p in batch["predictions"]] == firsts

    out = io.StringIO()
    assert run(build_parser().parse_args(["predict", str(build.pk), str(dark), "--top-k", "1"]), hub, out) == 0
    assert out.getvalue().startswith(f"dark.png: {build.class_names[0]} 0.")

    (tmp_path / "notes.png").write_bytes(b"not an image")
    with pytest.raises(HubError) as error:
        hub.predict(build.pk, [tmp_path / "notes.png"])
    assert (error.value.status, error.value.code) == (400, "invalid_file")
