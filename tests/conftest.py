import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs seconds per user on 2 cores; tests do not need its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    """Every test writes its files under its own temporary media root."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = {**settings.STORAGES,
                         "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(media)}}}
    return media


@pytest.fixture
def user(db):
    from factories import make_user
    return make_user("alice")  # password alice-password-1


@pytest.fixture
def other_user(db):
    from factories import make_user
    return make_user("bob")  # password bob-password-1


@pytest.fixture
def drain_jobs():
    """Run every queued job to its end in a real django-tasks-db worker (in this process)."""
    from django.core.management import call_command

    def drain():
        call_command("db_worker", batch=True, startup_delay=False, queue_name="fast,default,gpu", reload=False,
                     verbosity=0)

    return drain


SMALL_ARCH = {"architecture": "rescnn", "arch_kwargs": {"width": 0.125}}


@pytest.fixture(scope="session")
def small_digits16_weights() -> bytes:
    """safetensors bytes of a narrow ResCNN trained briefly on digits-16 (trained once per session)."""
    from splitter_engine.architectures import ArchSpec, build_model
    from splitter_engine.data import load_builtin
    from splitter_engine.training import TrainConfig, train_model
    from splitter_engine.weights import state_dict_to_safetensors

    data = load_builtin("digits-16")
    model = build_model(ArchSpec(SMALL_ARCH["architecture"], 10, 1, SMALL_ARCH["arch_kwargs"]))
    result = train_model(model, data, TrainConfig(epochs=4, lr=3e-3, seed=0))
    return state_dict_to_safetensors(result.state_dict)


@pytest.fixture
def small_model(user, drain_jobs, small_digits16_weights):
    """A BaseModel row (with its digits-16 data set) made through the real import jobs."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from modules_registry.models import BaseModel, Dataset
    from modules_registry.services.datasets import import_builtin_dataset
    from modules_registry.services.models import upload_model

    import_builtin_dataset(owner=user, builtin="digits-16")
    drain_jobs()
    dataset = Dataset.objects.get(owner=user, name="digits-16")
    job = upload_model(owner=user, weights=SimpleUploadedFile("small.safetensors", small_digits16_weights),
                       name="small-rescnn", class_names=dataset.class_names, input_spec=dataset.input_spec,
                       dataset=dataset, **SMALL_ARCH)
    drain_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return BaseModel.objects.get(pk=job.result["model"])


# `slow`: a test that trains a model or runs a decomposition. Files mark their own tests (`pytestmark` where
# every test trains); the two cases below are marked here.
TRAINING_FIXTURES = {"small_digits16_weights", "small_model"}  # train once per session, on first use
# The training fixtures of files that cannot carry their own marks yet (being rewritten, #14): move the mark
# into these files once that lands.
TRAINING_FIXTURES_IN = {"test_composition.py": {"source"}, "test_composition_calibration.py": {"two_models"},
                        "test_patching.py": {"weak", "strong"}}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if uses & (TRAINING_FIXTURES | TRAINING_FIXTURES_IN.get(item.path.name, set())):
            item.add_marker(pytest.mark.slow)
