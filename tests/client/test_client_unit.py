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
