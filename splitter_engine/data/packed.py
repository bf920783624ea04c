"""An ImageDataset packed into one pickle-free .npz (images, labels, splits, names, spec) and back."""
from __future__ import annotations

import io
import json

import numpy as np

from splitter_engine.data.dataset import SPLIT_NAMES, ImageDataset
from splitter_engine.specs import InputSpec


def pack(dataset: ImageDataset) -> bytes:
    meta = {"name": dataset.name, "class_names": list(dataset.class_names), "spec": dataset.spec.to_dict()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=dataset.images, labels=dataset.labels,
                        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                        **{f"split_{name}": dataset.splits[name] for name in SPLIT_NAMES})
    return buffer.getvalue()


def unpack(data: bytes | io.IOBase) -> ImageDataset:
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    with np.load(source, allow_pickle=False) as arrays:
        meta = json.loads(arrays["meta"].tobytes().decode())
        return ImageDataset(name=meta["name"], class_names=meta["class_names"], images=arrays["images"],
                            labels=arrays["labels"].astype(np.int64), spec=InputSpec.from_dict(meta["spec"]),
                            splits={name: arrays[f"split_{name}"].astype(np.int64) for name in SPLIT_NAMES})
