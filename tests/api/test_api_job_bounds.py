"""#19: one request must not exhaust the machine. Every size and count a request sets is bounded at the door (a 400
that names the field and the setting, and no job), a job whose estimated memory cannot fit is refused
(job_too_large), and nonsense values ("2" epochs, 1.5 epochs, width -1, a seed of 2^64) are refused, not rounded."""
import json

import pytest
from api_helpers import assert_error

import factories as f
from modules_registry.models import Job
from test_api_door_checks import model_upload


@pytest.fixture
def lineage(user):
    return f.chain(user, tag="bounds")


def train(client, dataset, **request):
    body = {"dataset": dataset.pk, "name": "t", "architecture": "simcnn", "arch_kwargs": {"width": 0.125}, **request}
    return client.post("/api/models/train/", body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("overrides,setting,message", [
    ({"cycles": 1_000_000_000}, "cycles", "cycles must be between 0 and 1,000, got 1,000,000,000"),
    ({"cycles": 500, "cycle_mask_epochs": 5}, "cycles", "the search plans 2,502 epochs"),
    ({"batch_size": 10**9}, "batch_size", "batch_size must be between 1 and 4,096"),
    ({"eval_batch_size": 10**7}, "eval_batch_size", "eval_batch_size must be between 1 and 16,384"),
    ({"head_hidden": 10**6}, "head_hidden", "head_hidden must be between 1 and 4,096"),
    ({"cycles": "20"}, "cycles", "cycles must be an integer, got '20'"),
    ({"cycles": 2.5}, "cycles", "cycles must be an integer, got 2.5"),
    ({"mask_lr": 0}, "mask_lr", "mask_lr must lie in (0, 1e+06], got 0"),
])
def test_decomposition_sizes_and_counts_are_bounded_at_the_door(lineage, alice_write, overrides, setting, message):
    body = assert_error(alice_write.post(f"/api/models/{lineage.model.pk}/decompose/", {"overrides": overrides},
                                         format="json"), 400, "invalid")
    assert message in body["message"], body
    assert body["details"] == {"field": "overrides", "setting": setting}
    assert Job.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("config,setting,message", [
    ({"epochs": 10**12}, "epochs", "epochs must be between 1 and 1,000, got 1,000,000,000,000"),
    ({"epochs": "2"}, "epochs", "epochs must be an integer, got '2'"),
    ({"epochs": 1.5}, "epochs", "epochs must be an integer, got 1.5"),
    ({"epochs": True}, "epochs", "epochs must be an integer, got True"),
    ({"epochs": 0}, "epochs", "epochs must be between 1 and 1,000, got 0"),
    ({"batch_size": 10**6}, "batch_size", "batch_size must be between 2 and 4,096"),
    ({"seed": 2**64}, "seed", "seed must be between 0 and 2,147,483,647"),
    ({"seed": -1}, "seed", "seed must be between 0 and 2,147,483,647"),
    ({"lr": "0.01"}, "lr", "lr must be a finite number, got '0.01'"),
    ({"optimizer": 3}, "optimizer", "optimizer must be a string, got 3"),
    ({"crop_padding": 10**6}, "crop_padding", "crop_padding must be between 0 and 256"),
])
def test_nonsense_training_configs_are_refused_naming_the_setting(lineage, alice_write, config, setting, message):
    body = assert_error(train(alice_write, lineage.dataset, config=config), 400, "invalid")
    assert body["message"].startswith("training config: ") and message in body["message"], body
    assert body["details"] == {"field": "config", "setting": setting}
    assert Job.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("arch_kwargs,message", [
    ({"width": 40}, "width must lie in (0, 4], got 40"),
    ({"width": 1e6}, "width must lie in (0, 4], got 1000000.0"),
    ({"width": -1}, "width must lie in (0, 4], got -1"),
    ({"width": 0}, "width must lie in (0, 4], got 0"),
    ({"dropout": 1.5}, "dropout must lie in [0, 0.99], got 1.5"),
])
def test_network_widths_are_bounded(lineage, alice_write, arch_kwargs, message):
    body = assert_error(train(alice_write, lineage.dataset, arch_kwargs=arch_kwargs), 400, "invalid_arch_kwargs")
    assert message in body["message"] and body["details"] == {"field": "arch_kwargs"}
    body = assert_error(train(alice_write, lineage.dataset, architecture="resnet18", arch_kwargs={"width": 2.0}),
                        400, "invalid_arch_kwargs")
    assert "width must lie in (0, 1], got 2.0" in body["message"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("spec,setting,message", [
    ({"channels": 1, "height": 10**9, "width": 10**9}, "height", "height must be between 1 and 1,024"),
    ({"channels": 1, "height": 16, "width": 5000}, "width", "width must be between 1 and 1,024"),
    ({"channels": 10**6, "height": 16, "width": 16}, "channels", "channels must be between 1 and 16"),
])
def test_model_input_sizes_are_bounded(alice_write, spec, setting, message):
    body = assert_error(alice_write.post("/api/models/upload/", model_upload(input_spec=json.dumps(spec)),
                                         format="multipart"), 400, "invalid")
    assert message in body["message"] and body["details"] == {"field": "input_spec", "setting": setting}
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_a_training_job_that_cannot_fit_in_memory_is_refused_before_it_runs(lineage, alice_write, settings):
    settings.HUB_JOB_MEMORY_BYTES = 8 * 1024**3
    # width 4 (in bounds) of SimCNN: about 540 million parameters (10 GB with gradients and Adam), and a big batch
    body = assert_error(train(alice_write, lineage.dataset, arch_kwargs={"width": 4.0}, config={"batch_size": 4096}),
                        400, "job_too_large")
    assert body["details"]["field"] == "arch_kwargs" and body["details"]["limit_bytes"] == 8 * 1024**3
    assert body["details"]["estimated_bytes"] > 8 * 1024**3
    assert "HUB_JOB_MEMORY_BYTES" in body["message"] and "smaller width" in body["message"]
    assert Job.objects.count() == 0
    response = train(alice_write, lineage.dataset)  # the narrow network of the tests fits easily
    assert response.status_code == 202, response.content


@pytest.mark.django_db
def test_a_decomposition_that_cannot_fit_in_memory_is_refused(lineage, alice_write, settings):
    settings.HUB_JOB_MEMORY_BYTES = 1024**3
    url = f"/api/models/{lineage.model.pk}/decompose/"
    body = assert_error(alice_write.post(url, {"overrides": {"batch_size": 4096, "eval_batch_size": 16384}},
                                         format="json"), 400, "job_too_large")
    assert body["details"]["field"] == "overrides" and body["details"]["estimated_bytes"] > 1024**3
    assert "lower batch_size" in body["message"]
    assert Job.objects.count() == 0
    assert alice_write.post(url, {}, format="json").status_code == 202
