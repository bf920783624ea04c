import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import IntegrityError

from modules_registry import blobs
from modules_registry.models import Blob
from worker_process import database_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_store_addresses_bytes_by_sha256_and_deduplicates(isolated_media):
    data = os.urandom(3 * blobs.CHUNK + 17)
    first = blobs.store(data, media_type="application/octet-stream")
    second = blobs.store(iter([data[:100], data[100:]]))
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert Blob.objects.count() == 1
    path = isolated_media / "blobs" / "sha256" / first.sha256[:2] / first.sha256[2:4] / first.sha256
    assert path.read_bytes() == data
    assert blobs.read_bytes(first) == data
    assert list((isolated_media / blobs.TEMP_DIR_NAME).iterdir()) == []


@pytest.mark.django_db
def test_blob_rows_are_never_changed():
    blob = blobs.store(b"abc")
    blob.size = 99
    with pytest.raises(ValueError):
        blob.save()


@pytest.mark.django_db
def test_corruption_is_detected_on_read(isolated_media):
    blob = blobs.store(b"the original bytes")
    path = isolated_media / blob.storage_name
    path.chmod(0o644)
    path.write_bytes(b"the Original bytes")
    with pytest.raises(blobs.BlobCorrupted):
        blobs.read_bytes(blob)
    with pytest.raises(blobs.BlobCorrupted):
        blobs.verify(blob)


@pytest.mark.django_db
def test_over_limit_is_refused_while_streaming_and_leaves_nothing(isolated_media):
    consumed = []

    def chunks():
        for i in range(100):
            consumed.append(i)
            yield b"x" * 1000

    with pytest.raises(blobs.BlobTooLarge):
        blobs.store(chunks(), max_bytes=5000)
    assert len(consumed) == 6  # stopped at the first chunk over the limit, not after reading all
    assert Blob.objects.count() == 0
    assert not (isolated_media / "blobs" / "sha256").exists()
    assert list((isolated_media / blobs.TEMP_DIR_NAME).iterdir()) == []


@pytest.mark.django_db
def test_sha256_must_be_64_characters():
    with pytest.raises(IntegrityError):
        Blob.objects.create(sha256="abc", size=1)


WRITER = """
import os, sys, time, django
os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
django.setup()
from modules_registry import blobs
def slow():
    yield b"a" * 1000
    sys.stdout.write("writing\\n"); sys.stdout.flush()
    time.sleep(60)
    yield b"b" * 1000
blobs.store(slow())
"""


@pytest.mark.django_db(transaction=True)
def test_a_writer_killed_mid_write_leaves_no_row_and_no_final_file(isolated_media):
    env = {**os.environ, "HUB_MEDIA_ROOT": str(isolated_media), **database_env()}
    writer = subprocess.Popen([sys.executable, "-c", WRITER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        temp_files = list((isolated_media / blobs.TEMP_DIR_NAME).iterdir())
        assert len(temp_files) == 1
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
    assert Blob.objects.count() == 0
    assert not (isolated_media / "blobs" / "sha256").exists()
    # The partial temporary file is swept by the next worker start.
    assert blobs.remove_stale_temp_files(older_than_seconds=0) == 1
    assert list((isolated_media / blobs.TEMP_DIR_NAME).iterdir()) == []
