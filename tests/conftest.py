import pytest


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
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-password-1")


@pytest.fixture
def drain_jobs():
    """Run every queued job to its end in a real django-tasks-db worker (in this process)."""
    from django.core.management import call_command

    def drain():
        call_command("db_worker", batch=True, startup_delay=False, queue_name="default,gpu", reload=False,
                     verbosity=0)

    return drain
