"""A header-only check of a .safetensors file: cheap enough for the web process, whatever the file size.

It reads the 8-byte length and the JSON header, and checks that every tensor's byte range lies inside
the file and that the ranges cover the data exactly, which catches truncation and most corruption
without loading any tensor.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from splitter_engine.runtime import EngineError

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}
FIX = "; upload the complete file written by safetensors.torch.save_file"


def check_safetensors_header(path: str | os.PathLike) -> dict[str, dict]:
    """Returns {tensor name: {dtype, shape}}; raises EngineError naming the problem."""
    size = Path(path).stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise EngineError("the .safetensors file is too short to hold a header" + FIX)
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES or 8 + length > size:
            raise EngineError("the .safetensors header length points past the end of the file" + FIX)
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EngineError(f"the .safetensors header is not valid JSON ({exc})" + FIX) from None
    if not isinstance(header, dict):
        raise EngineError("the .safetensors header is not a JSON object" + FIX)
    header.pop("__metadata__", None)
    if not header:
        raise EngineError("the .safetensors file holds no tensors; save the model's state_dict")
    data_size = size - 8 - length
    ranges = []
    tensors = {}
    for name, entry in header.items():
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise EngineError(f"tensor {name!r} has a malformed header entry" + FIX) from None
        count = 1
        for dim in shape:
            count *= int(dim)
        if dtype not in DTYPE_BYTES or end - start != count * DTYPE_BYTES[dtype] or not 0 <= start <= end:
            raise EngineError(f"tensor {name!r} has inconsistent dtype, shape and offsets" + FIX)
        if end > data_size:
            raise EngineError(f"the .safetensors file is truncated: tensor {name!r} ends past the end of the "
                              "file" + FIX)
        ranges.append((start, end))
        tensors[name] = {"dtype": dtype, "shape": list(shape)}
    ranges.sort()
    position = 0
    for start, end in ranges:
        if start != position:
            raise EngineError("the .safetensors tensor data overlaps or has gaps" + FIX)
        position = end
    if position != data_size:
        raise EngineError("the .safetensors file has bytes after its last tensor" + FIX)
    return tensors
