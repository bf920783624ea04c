"""Every kind of bad data set upload is refused with a message that says what is wrong and what to fix."""
from __future__ import annotations

import io
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest

from archive_builders import (cifar10_members, cifar_records, colour_zip_entries, forge_zip_sizes, image_bytes,
                              random_cifar, solid, write_tar, write_tar_special, write_zip)
from splitter_engine.data import DatasetReadError, ReadLimits, UnsafeArchiveError, read_dataset
from splitter_engine.runtime import EngineError

MiB = 1024 * 1024


def refused(path, error=DatasetReadError, match: str = "", **kwargs) -> str:
    with pytest.raises(error, match=match) as info:
        read_dataset(path, **kwargs)
    assert isinstance(info.value, EngineError)
    return str(info.value)


def good_entries() -> dict[str, bytes]:
    return colour_zip_entries(per_class=3, jpeg_every=0)


# --- image-folder zips -------------------------------------------------------------------------------------

@pytest.mark.parametrize("evil", ["../escape.png", "cat/../../escape.png", "cat\\..\\..\\escape.png"])
def test_zip_with_parent_paths_is_refused_and_nothing_is_written(tmp_path, evil):
    work = tmp_path / "work"
    work.mkdir()
    path = write_zip(work / "evil.zip", {**good_entries(), evil: image_bytes(solid((1, 2, 3)))})
    message = refused(path, UnsafeArchiveError, match=r"outside the archive")
    assert "remove '..'" in message
    assert not (tmp_path / "escape.png").exists() and not (work / "escape.png").exists()


@pytest.mark.parametrize("absolute", ["/tmp/abs.png", "C:/Windows/abs.png", "\\\\server\\share\\abs.png"])
def test_zip_with_absolute_paths_is_refused(tmp_path, absolute):
    path = write_zip(tmp_path / "abs.zip", {**good_entries(), absolute: image_bytes(solid((1, 2, 3)))})
    assert "relative paths" in refused(path, UnsafeArchiveError, match="absolute path")


def test_zip_with_a_non_image_file_is_refused(tmp_path):
    path = write_zip(tmp_path / "txt.zip", {**good_entries(), "cat/notes.txt": b"hello"})
    assert "remove non-image files" in refused(path, match=r"'cat/notes.txt' is not a PNG or JPEG")


def test_zip_with_text_disguised_as_png_is_refused(tmp_path):
    path = write_zip(tmp_path / "fake.zip", {**good_entries(), "cat/fake.png": b"not really a png"})
    refused(path, match=r"cat/fake.png is not a readable PNG or JPEG image")


def test_zip_with_a_gif_named_png_is_refused(tmp_path):
    path = write_zip(tmp_path / "gif.zip", {**good_entries(), "cat/anim.png": image_bytes(solid((9, 9, 9)), "GIF")})
    refused(path, match=r"cat/anim.png is not a readable PNG or JPEG")


def test_zip_with_a_truncated_png_is_refused(tmp_path):
    png = image_bytes(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    path = write_zip(tmp_path / "cut.zip", {**good_entries(), "cat/cut.png": png[: len(png) // 2]})
    refused(path, match=r"cat/cut.png is not a readable")


def test_zip_with_an_empty_class_folder_is_refused(tmp_path):
    path = write_zip(tmp_path / "empty.zip", {**good_entries(), "zebra/": b""})
    assert "add images or remove" in refused(path, match=r"\['zebra'\] contain no images")


def test_zip_with_a_file_outside_class_folders_is_refused(tmp_path):
    path = write_zip(tmp_path / "loose.zip", {**good_entries(), "README.png": image_bytes(solid((1, 1, 1)))})
    refused(path, match="not inside a class folder")


def test_zip_with_one_class_is_refused(tmp_path):
    path = write_zip(tmp_path / "one.zip", {"cat/a.png": image_bytes(solid((1, 1, 1)))})
    refused(path, match="at least 2 classes")


def test_zip_bomb_is_refused_from_its_headers_before_inflating(tmp_path):
    bomb = {**good_entries(), "cat/bomb.png": bytes(40 * MiB)}  # 40 MiB of zeros deflate to ~40 KiB
    path = write_zip(tmp_path / "bomb.zip", bomb)
    assert path.stat().st_size < MiB
    tracemalloc.start()
    try:
        message = refused(path, UnsafeArchiveError, match="decompression bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "cat/bomb.png" in message and peak < 8 * MiB


def test_zip_bomb_with_forged_small_sizes_is_stopped_while_decompressing(tmp_path):
    honest = write_zip(tmp_path / "honest.zip", {**good_entries(), "cat/bomb.png": bytes(60 * MiB)}).read_bytes()
    forged = tmp_path / "forged.zip"
    forged.write_bytes(forge_zip_sizes(honest, 500))  # headers now claim 500 bytes per member: ratios look fine
    with zipfile.ZipFile(forged) as zf:
        assert all(info.file_size == 500 for info in zf.infolist())
    tracemalloc.start()
    try:
        refused(forged, DatasetReadError, match="corrupt|beyond its declared size")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB  # the 60 MiB member was never inflated


def test_zip_over_the_total_size_limit_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    noisy = {f"cat/{i}.png": image_bytes(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for i in range(4)}
    path = write_zip(tmp_path / "big.zip", {**noisy, "dog/0.png": noisy["cat/0.png"]})
    refused(path, UnsafeArchiveError, match="more than the limit", limits=ReadLimits(max_total_bytes=30_000))


def test_zip_with_too_many_entries_is_refused(tmp_path):
    path = write_zip(tmp_path / "many.zip", good_entries())
    refused(path, UnsafeArchiveError, match="9 entries, more than the limit of 5", limits=ReadLimits(max_entries=5))


def test_zip_with_an_oversized_image_is_refused(tmp_path):
    path = write_zip(tmp_path / "huge.zip", {**good_entries(), "cat/huge.png": image_bytes(solid((0, 0, 0), 300, 300))})
    refused(path, match=r"cat/huge.png is 300x300 pixels", limits=ReadLimits(max_image_pixels=200 * 200))


def test_zip_with_a_symlink_is_refused(tmp_path):
    link = zipfile.ZipInfo("cat/link.png")
    link.create_system = 3
    link.external_attr = (0o120777 << 16)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in good_entries().items():
            zf.writestr(name, data)
        zf.writestr(link, "/etc/passwd")
    (tmp_path / "link.zip").write_bytes(buf.getvalue())
    refused(tmp_path / "link.zip", UnsafeArchiveError, match="symbolic link")


def test_zip_with_bzip2_members_is_refused(tmp_path):
    path = write_zip(tmp_path / "bz.zip", good_entries(), compression=zipfile.ZIP_BZIP2)
    refused(path, match="compression method 12")


def test_a_declared_size_too_large_is_refused(tmp_path):
    path = write_zip(tmp_path / "ok.zip", good_entries())
    refused(path, match="larger than the limit", image_size=4000)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"just some text"])
def test_garbage_and_truncated_uploads_are_refused(tmp_path, content):
    path = tmp_path / "garbage.zip"
    path.write_bytes(content)
    refused(path, match="not a readable zip|not a format the hub reads")


# --- npz ----------------------------------------------------------------------------------------------------

def test_npz_with_object_arrays_is_refused_and_never_unpickled(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([np.zeros((2, 2), np.uint8)] * 2 + [None], dtype=object),
             y=np.array([0, 1, 0]))
    assert "never unpickled" in refused(tmp_path / "obj.npz", match="'x' holds Python objects")


def test_npz_with_object_class_names_is_refused(tmp_path):
    np.savez(tmp_path / "names.npz", x=np.zeros((2, 2, 2), np.uint8), y=np.array([0, 1]),
             class_names=np.array(["a", "b"], dtype=object))
    refused(tmp_path / "names.npz", match="'class_names' holds Python objects")


def test_npz_with_mismatched_lengths_is_refused(tmp_path):
    np.savez(tmp_path / "len.npz", x=np.zeros((5, 4, 4), np.uint8), y=np.array([0, 1, 0, 1]))
    assert "one label per image" in refused(tmp_path / "len.npz", match=r"shape \(4,\) but there are 5 images")


def test_npz_with_float_images_is_refused(tmp_path):
    np.savez(tmp_path / "f.npz", x=np.zeros((4, 4, 4), np.float32), y=np.array([0, 1, 0, 1]))
    assert "astype(np.uint8)" in refused(tmp_path / "f.npz", match="dtype float32; images must be uint8")


def test_npz_with_float_labels_is_refused(tmp_path):
    np.savez(tmp_path / "fy.npz", x=np.zeros((4, 4, 4), np.uint8), y=np.array([0.0, 1.0, 0.0, 1.0]))
    refused(tmp_path / "fy.npz", match="labels must be integers")


def test_npz_without_y_is_refused(tmp_path):
    np.savez(tmp_path / "noy.npz", x=np.zeros((4, 4, 4), np.uint8), labels=np.array([0, 1, 0, 1]))
    refused(tmp_path / "noy.npz", match="has no array 'y'.*x=images, y=labels")


def test_npz_with_a_bad_image_shape_is_refused(tmp_path):
    np.savez(tmp_path / "shape.npz", x=np.zeros((4, 5, 5, 5), np.uint8), y=np.array([0, 1, 0, 1]))
    refused(tmp_path / "shape.npz", match="C = 1 or 3")


def test_npz_with_labels_beyond_the_class_names_is_refused(tmp_path):
    np.savez(tmp_path / "lab.npz", x=np.zeros((4, 4, 4), np.uint8), y=np.array([0, 1, 2, 1]),
             class_names=np.array(["a", "b"]))
    refused(tmp_path / "lab.npz", match=r"labels must lie in 0..1")


def test_npz_with_an_unused_class_name_is_refused(tmp_path):
    np.savez(tmp_path / "unused.npz", x=np.zeros((4, 4, 4), np.uint8), y=np.array([0, 1, 0, 1]),
             class_names=np.array(["a", "b", "c"]))
    refused(tmp_path / "unused.npz", match=r"\['c'\] have no images")


def test_npz_bomb_is_refused(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros((4000, 3, 64, 64), np.uint8), y=np.arange(4000) % 2)
    refused(tmp_path / "bomb.npz", UnsafeArchiveError, match="decompression bomb")


# --- CIFAR tar archives -------------------------------------------------------------------------------------

def cifar_tar_members(seed: int = 0) -> dict[str, bytes]:
    return cifar10_members(*random_cifar(np.random.default_rng(seed), 10, 2))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_with_links_is_refused(tmp_path, kind):
    info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
    info.type, info.linkname = kind, "/etc/passwd"
    path = write_tar_special(tmp_path / "link.tar.gz", info, cifar_tar_members())
    refused(path, UnsafeArchiveError, match="contains a link")


def test_tar_with_a_device_is_refused(tmp_path):
    info = tarfile.TarInfo("cifar-10-batches-bin/dev")
    info.type = tarfile.CHRTYPE
    path = write_tar_special(tmp_path / "dev.tar.gz", info, cifar_tar_members())
    refused(path, UnsafeArchiveError, match="special file")


@pytest.mark.parametrize("name", ["../data_batch_1.bin", "/abs/data_batch_1.bin"])
def test_tar_with_path_traversal_is_refused(tmp_path, name):
    members = {**cifar_tar_members(), name: b"x" * 3073}
    refused(write_tar(tmp_path / "trav.tar.gz", members), UnsafeArchiveError, match="outside the archive|absolute")


def test_truncated_cifar_archive_is_refused(tmp_path):
    whole = write_tar(tmp_path / "whole.tar.gz", cifar_tar_members()).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    refused(cut, match="truncated")


def test_cifar_batch_with_a_partial_record_is_refused(tmp_path):
    members = cifar_tar_members()
    members["cifar-10-batches-bin/data_batch_1.bin"] += b"\x01" * 100
    message = refused(write_tar(tmp_path / "partial.tar.gz", members), match="not a whole number of 3,073-byte")
    assert "data_batch_1.bin" in message


def test_cifar_label_out_of_range_is_refused(tmp_path):
    members = cifar_tar_members()
    images, labels = random_cifar(np.random.default_rng(1), 10, 1)
    labels[0] = 42
    members["cifar-10-batches-bin/data_batch_2.bin"] = cifar_records(images, labels)
    refused(write_tar(tmp_path / "label.tar.gz", members), match="label 42")


def test_cifar_without_class_names_is_refused(tmp_path):
    members = {k: v for k, v in cifar_tar_members().items() if not k.endswith("batches.meta.txt")}
    refused(write_tar(tmp_path / "nonames.tar.gz", members), match="no batches.meta.txt")


def test_tar_without_cifar_batches_is_refused(tmp_path):
    refused(write_tar(tmp_path / "other.tar.gz", {"photos/a.bin": b"123"}), match="no CIFAR batch files")


def test_tar_bomb_is_refused_while_reading(tmp_path):
    members = {**cifar_tar_members(), "cifar-10-batches-bin/padding.bin": bytes(30 * MiB)}
    refused(write_tar(tmp_path / "tarbomb.tar.gz", members), UnsafeArchiveError, match="decompression bomb")


def test_unknown_format_names_are_refused(tmp_path):
    path = write_zip(tmp_path / "a.zip", good_entries())
    refused(path, match="unknown data set format", fmt="parquet")
