"""joblib's file layout, as joblib 1.4 to 1.6 read it: the container and the arrays in a stream.

- **Container**: joblib picks a decompressor from the first bytes (zlib, gzip, bz2, lzma, xz,
  lz4, or the pre-0.10 ``ZF`` format). zlib, gzip, bz2, lzma and xz are decompressed here with
  the standard library and must be exactly one compressed stream; lz4, ``ZF`` and anything
  after the end of the stream are refused.
- **Arrays**: after the ``BUILD`` of a ``NumpyArrayWrapper`` joblib reads the array from the
  file: an optional padding byte and padding, then ``count * itemsize`` bytes, or, for an
  object array, a nested pickle stream. :func:`array_layout` checks a wrapper's state and says
  which; the walk (:mod:`mlgate.security.opcodes`) and the loader both use it, so they cannot
  disagree on where the next opcode is.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from dataclasses import dataclass
from typing import Any

JOBLIB = "joblib"  # a standalone file, read as joblib.load reads it
PICKLE = "pickle"  # a pickle/cloudpickle file in an MLflow folder, read as pickle.load reads it
_WRAPPER_KEYS = frozenset({"subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes"})
_MAX_ARRAY_BYTES = 1 << 40
# joblib's _detect_compressor: the pre-0.10 prefix first, then its compressors in registration order
_CONTAINERS = (("zlib", b"\x78"), ("gzip", b"\x1f\x8b"), ("bz2", b"BZ"), ("lzma", b"\x5d\x00"),
               ("xz", b"\xfd\x37\x7a\x58\x5a"), ("lz4", b"\x04\x22\x4d\x18"))


class WalkRefused(ValueError):
    """The walk cannot be sure what a loader would do with these bytes, so nothing may load them."""


@dataclass
class ArrayLayout:
    """How joblib reads one wrapped array: one decision, used by the walk and by the loader."""

    dtype: Any
    shape: tuple[int, ...]
    order: str
    padded: bool
    count: int

    @property
    def nested(self) -> bool:
        return bool(self.dtype.hasobject)

    @property
    def nbytes(self) -> int:
        return self.count * int(self.dtype.itemsize)


def container_stream(data: bytes, mode: str = JOBLIB) -> tuple[str, bytes]:
    """The container joblib would detect and the pickle stream inside it (plain pickles: as is)."""
    if mode != JOBLIB:
        return "raw", data
    if data.startswith(b"ZF"):
        raise WalkRefused("it is a joblib file from before joblib 0.10 (ZF format), whose arrays joblib reads from "
                          "other files; save it again with a current joblib")
    for name, prefix in _CONTAINERS:
        if data.startswith(prefix):
            return name, _decompress(name, data)
    return "raw", data


def _decompress(name: str, data: bytes) -> bytes:
    if name == "lz4":
        raise WalkRefused("it is lz4-compressed, which mlgate does not read; save it with compress=('zlib'|'gzip'|"
                          "'bz2'|'lzma'|'xz', LEVEL) or uncompressed")
    decompressor: Any
    if name in ("zlib", "gzip"):
        decompressor = zlib.decompressobj(31 if name == "gzip" else zlib.MAX_WBITS)
    elif name == "bz2":
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_AUTO)
    try:
        out = decompressor.decompress(data)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise WalkRefused(f"its {name} compression cannot be read ({exc})") from exc
    if not decompressor.eof:
        raise WalkRefused(f"its {name}-compressed stream is truncated")
    if decompressor.unused_data:
        raise WalkRefused(f"it has {len(decompressor.unused_data)} byte(s) after the end of its {name}-compressed "
                          "stream, which readers treat differently")
    return bytes(out)


def array_layout(state: Any) -> ArrayLayout:
    """Validate a wrapper's ``BUILD`` state as joblib's ``read_array`` would use it; refuse the rest."""
    import numpy as np

    if type(state) is not dict or not set(state) <= _WRAPPER_KEYS or not {"shape", "dtype"} <= set(state):
        raise WalkRefused("a joblib array wrapper whose state is not the dict joblib writes")
    dtype, shape, order = state["dtype"], state["shape"], state.get("order", "C")
    if not isinstance(dtype, np.dtype) or dtype.itemsize <= 0:
        raise WalkRefused("a joblib array wrapper without a literal numpy dtype")
    if dtype.hasobject and dtype != np.dtype(object):
        raise WalkRefused(f"a joblib array of a structured dtype holding objects ({dtype})")
    if type(shape) is not tuple or any(type(d) is not int or d < 0 for d in shape):
        raise WalkRefused("a joblib array wrapper whose shape is not a tuple of non-negative integers")
    if type(order) is not str or not isinstance(state.get("allow_mmap", False), bool):
        raise WalkRefused("a joblib array wrapper with an unexpected order or allow_mmap")
    align = state.get("numpy_array_alignment_bytes")
    if align is not None and type(align) is not int:
        raise WalkRefused("a joblib array wrapper with a non-integer alignment")
    subclass = state.get("subclass")
    # the real class in the loader; the walk's placeholder for the global numpy.ndarray in the walk
    if subclass is not None and not (subclass is np.ndarray or getattr(subclass, "name", None) == ("numpy", "ndarray")):
        raise WalkRefused("a joblib array wrapper whose subclass is not numpy.ndarray")
    count = 1
    for dim in shape:
        count *= dim
    if count >= 2**63 or count * dtype.itemsize > _MAX_ARRAY_BYTES:
        raise WalkRefused(f"a joblib array of shape {shape} is too large")
    return ArrayLayout(dtype, shape, order, "numpy_array_alignment_bytes" in state and align is not None, count)
