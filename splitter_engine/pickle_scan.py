"""Refuse a PyTorch checkpoint whose pickle names anything but tensors and containers, without unpickling it.

``pickletools.genops`` only parses opcodes, it never runs them, so this is safe in the web process: it reads
what a checkpoint would import (GLOBAL / STACK_GLOBAL) and refuses every import outside the few a state_dict
needs. The worker still reads the file with ``torch.load(weights_only=True)``; this check only lets the door
answer 400 at once instead of a job that fails later.
"""
from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path
from typing import Union

from splitter_engine.runtime import EngineError

# What torch.save writes for a state_dict of tensors (and what weights_only=True accepts for one).
ALLOWED_MODULES = ("torch", "collections")
_MAX_PICKLE_BYTES = 64 * 1024**2  # the object structure of a state_dict is small; tensor data lives beside it
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


class UnsafePickleError(EngineError):
    """The checkpoint would import something other than tensors and containers."""


def _allowed(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ALLOWED_MODULES)


def _imports(data: bytes) -> list[tuple[str, str]]:
    """(module, name) of every import in the pickle; raises UnsafePickleError where it cannot tell."""
    found, memo, last = [], {}, []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = opcode.name
            if name in _STRINGS:
                last.append(arg if isinstance(arg, str) else arg.decode("latin-1"))
            elif name == "MEMOIZE":
                memo[len(memo)] = last[-1] if last else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = last[-1] if last else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                last.append(memo.get(arg))
            elif name in ("GLOBAL", "INST"):
                module, _, attr = arg.partition(" ")
                found.append((module, attr))
            elif name == "STACK_GLOBAL":
                module, attr = (last[-2], last[-1]) if len(last) >= 2 else (None, None)
                if not isinstance(module, str) or not isinstance(attr, str):
                    raise UnsafePickleError("the checkpoint imports an object whose name it computes; save a plain "
                                            "state_dict (torch.save(model.state_dict(), path)) or use .safetensors")
                found.append((module, attr))
            elif name in ("OBJ", "NEWOBJ", "NEWOBJ_EX", "REDUCE", "BUILD", "EXT1", "EXT2", "EXT4"):
                last.append(None)
    except (ValueError, EOFError, KeyError, IndexError) as exc:
        raise EngineError(f"the checkpoint's pickle is corrupt or truncated ({exc}); save it again") from exc
    return found


def _pickle_of(path: Path) -> bytes:
    """The object pickle of a checkpoint: data.pkl inside torch.save's zip, or the whole file (legacy format)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"]
                if len(members) != 1:
                    raise EngineError("the .pt archive has no single data.pkl: it was not written by torch.save; "
                                      "save a state_dict with torch.save or use .safetensors")
                if members[0].file_size > _MAX_PICKLE_BYTES:
                    raise UnsafePickleError(f"the checkpoint's object pickle is {members[0].file_size:,} bytes, more "
                                            f"than a state_dict needs ({_MAX_PICKLE_BYTES:,}); use .safetensors")
                return zf.read(members[0])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise EngineError(f"the .pt archive is corrupt or truncated ({exc}); save it again") from exc
    with open(path, "rb") as handle:
        return handle.read(_MAX_PICKLE_BYTES + 1)[:_MAX_PICKLE_BYTES]


def check_torch_checkpoint(path: Union[str, Path]) -> None:
    """Raise UnsafePickleError naming the first import that is not a tensor or a container."""
    for module, attr in _imports(_pickle_of(Path(path))):
        if not _allowed(module):
            raise UnsafePickleError(
                f"the checkpoint would run Python code when loaded: it imports {module}.{attr}, which a state_dict "
                "never needs (python objects other than tensors are refused); save only the weights "
                "(torch.save(model.state_dict(), path)) or use .safetensors")
