"""The sweep of dead processes' temporary files touches only files the hub named, even in a shared directory."""
import os
import time

from modules_registry import blobs
from modules_registry.processes import process_tag


def test_the_sweep_leaves_files_it_did_not_write(tmp_path):
    long_ago = time.time() - 7200
    theirs = tmp_path / "someone-elses-notes.txt"
    theirs.write_text("keep me")
    folder = tmp_path / f"{process_tag(pid=2 ** 22 + 1)}-a-folder"
    folder.mkdir()
    old_hub_file = tmp_path / f"{process_tag()}-old.part"
    old_hub_file.write_bytes(b"partial")
    fresh_hub_file = tmp_path / f"{process_tag()}-fresh.part"
    fresh_hub_file.write_bytes(b"partial")
    for path in (theirs, folder, old_hub_file):
        os.utime(path, (long_ago, long_ago))

    assert blobs.remove_stale_temp_files(older_than_seconds=3600, directory=tmp_path) == 1

    assert theirs.exists() and folder.is_dir() and fresh_hub_file.exists()
    assert not old_hub_file.exists()
