"""Every data set reader on small archives built here, through the one entry point ``read_dataset``."""
from __future__ import annotations

import io

import numpy as np
import pytest

from archive_builders import (CLASS_COLOURS, cifar10_members, cifar_records, colour_zip_entries, random_cifar,
                              write_tar, write_zip)
from splitter_engine.data import ReadLimits, detect_format, read_dataset
from splitter_engine.data.assemble import channel_stats
from splitter_engine.runtime import RunCancelled, RunContext


def test_image_zip_with_top_folder_decodes_png_and_jpeg_and_resizes(tmp_path):
    entries = colour_zip_entries(per_class=6, top="animals/")
    entries["animals/"] = b""
    entries["__MACOSX/animals/._cat"] = b"junk"
    path = write_zip(tmp_path / "animals.zip", entries)

    data = read_dataset(path, image_size=(8, 6), channels=3)

    assert data.name == "animals"
    assert data.class_names == sorted(CLASS_COLOURS)
    assert data.images.shape == (18, 3, 8, 6) and data.images.dtype == np.uint8
    assert data.class_counts() == [6, 6, 6]
    for label, name in enumerate(data.class_names):
        pixels = data.images[data.labels == label].astype(int)
        expected = np.array(CLASS_COLOURS[name]).reshape(1, 3, 1, 1)
        assert np.abs(pixels - expected).max() <= 4  # PNG exact, JPEG within a few levels
    assert (data.spec.channels, data.spec.height, data.spec.width) == (3, 8, 6)


def test_image_zip_without_top_folder_reads_grey_at_native_size(tmp_path):
    path = write_zip(tmp_path / "flat.zip", colour_zip_entries(per_class=4, jpeg_every=0))
    data = read_dataset(path, channels=1)
    assert data.images.shape == (12, 1, 12, 10)  # the first image's size
    grey_cat = round(0.299 * 200 + 0.587 * 30 + 0.114 * 30)
    assert abs(int(data.images[data.labels == 0].mean()) - grey_cat) <= 1


def test_splits_are_seeded_stratified_and_statistics_come_from_train(tmp_path):
    path = write_zip(tmp_path / "a.zip", colour_zip_entries(per_class=20, jpeg_every=0))
    first = read_dataset(path, seed=3, image_size=4)
    again = read_dataset(path, seed=3, image_size=4)
    other = read_dataset(path, seed=4, image_size=4)
    for split in ("train", "val", "test"):
        assert np.array_equal(first.splits[split], again.splits[split])
        assert first.class_counts(split) == [first.class_counts(split)[0]] * 3
    assert not np.array_equal(first.splits["train"], other.splits["train"])
    assert first.class_counts("train") == [14, 14, 14] and first.class_counts("test") == [3, 3, 3]
    assert sum(len(v) for v in first.splits.values()) == 60
    train = first.images[first.splits["train"]].astype(np.float64) / 255.0
    assert np.allclose(first.spec.mean, train.mean(axis=(0, 2, 3)), atol=1e-5)
    assert np.allclose(first.spec.std, train.std(axis=(0, 2, 3)), atol=1e-5)


def test_channel_stats_in_chunks_equal_a_direct_computation():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5000, 3, 4, 4), dtype=np.uint8)
    idx = np.arange(0, 5000, 2)
    mean, std = channel_stats(images, idx)
    direct = images[idx].astype(np.float64) / 255.0
    assert np.allclose(mean, direct.mean(axis=(0, 2, 3)), atol=1e-6)
    assert np.allclose(std, direct.std(axis=(0, 2, 3)), atol=1e-6)


def test_cifar10_binary_archive_keeps_records_exactly_and_its_test_batch(tmp_path):
    rng = np.random.default_rng(1)
    images, labels = random_cifar(rng, 10, 8)
    test_images, test_labels = random_cifar(rng, 10, 2)
    path = write_tar(tmp_path / "cifar-10-binary.tar.gz", cifar10_members(images, labels, test_images, test_labels))

    data = read_dataset(path)

    assert data.name == "cifar-10-binary"
    assert data.class_names[:3] == ["airplane", "automobile", "bird"] and data.num_classes == 10
    test = data.splits["test"]
    assert np.array_equal(data.images[test], test_images) and np.array_equal(data.labels[test], test_labels)
    rest = np.setdiff1d(np.arange(len(data.labels)), test)
    assert np.array_equal(data.images[rest], images) and np.array_equal(data.labels[rest], labels)
    assert np.array_equal(np.sort(np.concatenate([data.splits["train"], data.splits["val"]])), rest)
    assert data.class_counts("test") == [2] * 10
    assert data.spec.shape == (3, 32, 32)


def test_cifar100_uses_fine_labels_and_fine_names(tmp_path):
    rng = np.random.default_rng(2)
    images, fine = random_cifar(rng, 100, 2)
    coarse = fine // 5
    test_images, test_fine = random_cifar(rng, 100, 1)
    fine_names = [f"fine{i:03d}" for i in range(100)]
    members = {"cifar-100-binary/train.bin": cifar_records(images, fine, coarse),
               "cifar-100-binary/test.bin": cifar_records(test_images, test_fine, test_fine // 5),
               "cifar-100-binary/fine_label_names.txt": "\n".join(fine_names).encode(),
               "cifar-100-binary/coarse_label_names.txt": b"c0\nc1\n"}
    data = read_dataset(write_tar(tmp_path / "cifar-100-binary.tar.gz", members), image_size=16, channels=1)
    assert data.class_names == fine_names
    assert np.array_equal(data.labels[data.splits["test"]], test_fine)
    assert data.images.shape == (300, 1, 16, 16)


def test_cifar_without_test_batch_splits_three_ways_and_reads_plain_tar(tmp_path):
    rng = np.random.default_rng(3)
    images, labels = random_cifar(rng, 10, 10)
    path = write_tar(tmp_path / "c.tar", cifar10_members(images, labels, batches=1, top=""), mode="w")
    data = read_dataset(path, fmt="cifar10")
    assert data.class_counts("test") == [2] * 10 and data.class_counts("train") == [6] * 10  # 10 - round(1.5) - round(1.5)


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(4)
    nchw = rng.integers(0, 256, size=(30, 1 if layout == "nhw" else 3, 5, 7), dtype=np.uint8)
    y = np.repeat(np.arange(3), 10).astype(np.int32)
    x = {"nhwc": nchw.transpose(0, 2, 3, 1), "nchw": nchw, "nhw": nchw[:, 0]}[layout]
    np.savez(tmp_path / "d.npz", x=x, y=y, class_names=np.array(["a", "b", "c"]))
    data = read_dataset(tmp_path / "d.npz")
    assert np.array_equal(data.images, nchw) and np.array_equal(data.labels, y)
    assert data.class_names == ["a", "b", "c"] and data.labels.dtype == np.int64


def test_npz_test_arrays_define_the_test_split_and_channels_convert(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(40, 8, 8), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(8, 8, 8), dtype=np.uint8)
    np.savez_compressed(tmp_path / "g.npz", x=x, y=np.arange(40) % 4, x_test=x_test, y_test=np.arange(8) % 4)
    data = read_dataset(tmp_path / "g.npz", channels=3, image_size=(16, 16))
    assert data.class_names == ["0", "1", "2", "3"]
    assert data.images.shape == (48, 3, 16, 16)
    assert np.array_equal(data.images[:, 0], data.images[:, 2])
    assert np.array_equal(data.splits["test"], np.arange(40, 48))


def test_detect_format_and_file_objects(tmp_path):
    zip_path = write_zip(tmp_path / "z.zip", colour_zip_entries(per_class=3, jpeg_every=0))
    np.savez(tmp_path / "n.npz", x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, 0, 1]))
    rng = np.random.default_rng(6)
    tar_path = write_tar(tmp_path / "c.tgz", cifar10_members(*random_cifar(rng, 10, 3)))
    assert detect_format(zip_path) == "image-zip"
    assert detect_format(tmp_path / "n.npz") == "npz"
    assert detect_format(tar_path) == "cifar"
    stream = io.BytesIO(zip_path.read_bytes())
    data = read_dataset(stream, name="from-memory")
    assert data.name == "from-memory" and data.num_classes == 3


def test_reader_reports_progress_and_can_be_cancelled(tmp_path):
    path = write_zip(tmp_path / "a.zip", colour_zip_entries(per_class=3, jpeg_every=0))
    seen = []
    read_dataset(path, ctx=RunContext(progress=lambda f, stage, msg, m: seen.append((f, stage))))
    assert seen[0] == (0.0, "decode") and seen[-1] == (1.0, "decode")
    with pytest.raises(RunCancelled):
        read_dataset(path, ctx=RunContext(is_cancelled=lambda: True))


def test_readers_write_no_files(tmp_path, monkeypatch):
    import tempfile

    sources = tmp_path / "in"
    sources.mkdir()
    write_zip(sources / "a.zip", colour_zip_entries(per_class=3))
    np.savez(sources / "n.npz", x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, 0, 1]))
    rng = np.random.default_rng(7)
    write_tar(sources / "c.tar.gz", cifar10_members(*random_cifar(rng, 10, 3)))
    scratch, cwd = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir(), cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(cwd)
    before = sorted(p.name for p in sources.iterdir())
    for source in sorted(sources.iterdir()):
        read_dataset(source, limits=ReadLimits())
    assert not any(scratch.iterdir()) and not any(cwd.iterdir())
    assert sorted(p.name for p in sources.iterdir()) == before


@pytest.mark.parametrize("given, expected", [(None, None), (32, (32, 32)), ("32", (32, 32)), ("16x8", (16, 8)),
                                             ([32], (32, 32)), ((32, 24), (32, 24))])
def test_image_size_forms(given, expected):
    from splitter_engine.data.transform import parse_size
    assert parse_size(given) == expected


@pytest.mark.parametrize("given", ["abc", [], [1, 2, 3], "0x4"])
def test_bad_image_sizes_are_refused(given):
    from splitter_engine.data import DatasetReadError
    from splitter_engine.data.transform import parse_size
    with pytest.raises(DatasetReadError, match="image size"):
        parse_size(given)
