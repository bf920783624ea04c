import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from modules_registry import blobs, selectors
from modules_registry.models import BaseModel, Dataset, ImmutableRowError, Job


@pytest.fixture
def dataset(user):
    arrays = blobs.store(b"not really arrays", media_type="application/x-npz")
    return Dataset.objects.create(owner=user, name="d", source="builtin", class_names=["a", "b"],
                                  input_spec={"channels": 1, "height": 8, "width": 8}, class_counts={},
                                  arrays=arrays)


def make_model(user, dataset, **overrides):
    fields = dict(owner=user, name="m", architecture="simcnn", class_names=["a", "b"],
                  input_spec=dataset.input_spec, weights=dataset.arrays, dataset=dataset)
    fields.update(overrides)
    return BaseModel.objects.create(**fields)


@pytest.mark.django_db
def test_artefacts_are_immutable_but_descriptions_are_editable(user, dataset):
    model = make_model(user, dataset)
    model.description = "now described"
    model.save()
    model.architecture = "rescnn"
    with pytest.raises(ImmutableRowError):
        model.save()
    with pytest.raises(ImmutableRowError):
        BaseModel.objects.filter(pk=model.pk).update(class_names=["x", "y"])
    with pytest.raises(ImmutableRowError):
        model.delete()
    model.refresh_from_db()
    assert model.architecture == "simcnn" and model.description == "now described"


@pytest.mark.django_db
def test_names_are_unique_per_owner(user, other_user, dataset):
    make_model(user, dataset)
    make_model(other_user, dataset)  # another owner may reuse the name
    with pytest.raises(IntegrityError), transaction.atomic():
        make_model(user, dataset)


@pytest.mark.django_db
def test_weights_need_an_architecture_unless_onnx(user, dataset):
    make_model(user, dataset, name="onnx", format="onnx", architecture="")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_model(user, dataset, name="bad", architecture="")


@pytest.mark.django_db
@pytest.mark.parametrize("fields", [
    {"progress": 1.5},
    {"status": "exploded"},
    {"status": "succeeded"},  # terminal without finished_at
    {"status": "running"},  # running without started_at
])
def test_job_invariants_are_database_constraints(user, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind="train", owner=user, **fields)


@pytest.mark.django_db
def test_a_consistent_job_row_is_accepted(user):
    now = timezone.now()
    job = Job.objects.create(kind="train", owner=user, status="succeeded", progress=1.0, started_at=now,
                             finished_at=now)
    assert job.is_terminal


@pytest.mark.django_db
def test_private_entries_are_visible_to_their_owner_only(user, other_user, dataset):
    make_model(user, dataset, name="secret", visibility="private")
    make_model(user, dataset, name="open")
    from django.contrib.auth.models import AnonymousUser

    assert set(selectors.models_visible_to(user).values_list("name", flat=True)) == {"secret", "open"}
    assert set(selectors.models_visible_to(other_user).values_list("name", flat=True)) == {"open"}
    assert set(selectors.models_visible_to(AnonymousUser()).values_list("name", flat=True)) == {"open"}
