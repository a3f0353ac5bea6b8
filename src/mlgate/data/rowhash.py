"""Row hashes for the streamed scan: a few numpy passes a column, computed batch by batch by the scan.

``pandas.util.hash_pandas_object`` (the in-memory path's ``rowmatch.hash_rows``) makes about ten
passes and as many temporary arrays a column; on the 10M x 20 benchmark table that was a quarter of
``mlgate validate``'s CPU. Here each column becomes 64 bits of its value: numbers as their float64
bits (0.0 and -0.0 made one, every NaN made one), text, categories and booleans by pandas' hash of
their text, computed once per distinct value of the batch (``text_codes``); other types (dates) by
pandas' hash of the column. Each column's bits are spread by a xor-shift, times an odd multiplier of
its own, and summed; murmur3's finaliser (fmix64) then mixes the sum, so that the top bits, which
pick the hash partition, are uniform.

Equal rows hash equal under ``hash_rows``' normalisation (ints and floats as float64, booleans and
text as text; here missing text is one value too), so the streamed scan finds the rows the in-memory
path finds. Two rows that differ collide when the multiplied column differences cancel modulo
2^64: the xor-shift puts a difference in any bit into the low 35 bits, so a single difference never
cancels and several cancel with probability about 2^-64 for data not built for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TextCodes = tuple["np.ndarray", "pd.Index"]  # per row its value's position in the index (-1: missing), the values
_MASK = (1 << 64) - 1
_SHIFT = 29
_FMIX = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
_MISSING_TEXT = 0x9E3779B97F4A7C15  # a missing text value (any fixed value: text hashes are pandas' siphash)


def is_text(s: pd.Series) -> bool:
    """Whether a column is hashed and checked through its distinct values: text, objects, categories."""
    import pandas as pd
    from pandas.api import types

    return types.is_object_dtype(s.dtype) or types.is_string_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype)


def text_codes(s: pd.Series) -> TextCodes:
    """``pandas.factorize`` of a text column: per row the position of its value among the batch's
    distinct values (-1: missing), and those values."""
    import pandas as pd

    codes, uniques = pd.factorize(s)
    return codes, pd.Index(uniques)


def row_hashes(frame: pd.DataFrame, columns: tuple[str, ...], codes: dict[str, TextCodes] | None = None) -> np.ndarray:
    """A 64-bit hash per row over ``columns``; ``codes``: ``text_codes`` already computed for some."""
    import numpy as np

    n = len(frame)
    total = np.zeros(n, dtype=np.uint64)
    spare = np.empty(n, dtype=np.uint64)
    for i, name in enumerate(columns):
        bits = _bits(frame[name], (codes or {}).get(name))
        np.right_shift(bits, np.uint64(_SHIFT), out=spare)
        np.bitwise_xor(bits, spare, out=bits)
        np.multiply(bits, np.uint64(_multiplier(i)), out=bits)
        np.add(total, bits, out=total)
    for k in _FMIX:
        _xorshift(total, spare, 33)
        np.multiply(total, np.uint64(k), out=total)
    _xorshift(total, spare, 33)
    return total


def _xorshift(x: np.ndarray, spare: np.ndarray, shift: int) -> None:
    import numpy as np

    np.right_shift(x, np.uint64(shift), out=spare)
    np.bitwise_xor(x, spare, out=x)


def _multiplier(i: int) -> int:
    """Column ``i``'s odd multiplier: splitmix64's ``i``-th output, made odd."""
    z = (0x9E3779B97F4A7C15 * (i + 1)) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) | 1


def _bits(s: pd.Series, codes: TextCodes | None) -> np.ndarray:
    """64 bits of each value of a column (a new array, changed in place by the caller)."""
    import numpy as np
    import pandas as pd
    from pandas.api import types

    if codes is not None or is_text(s) or types.is_bool_dtype(s.dtype):  # booleans as their text
        position, values = codes if codes is not None else text_codes(s)
        return _text_hashes(values)[position]  # position -1 picks the missing value's hash, placed last
    if types.is_numeric_dtype(s.dtype):
        # numpy numbers as they are (a view for float64), others with their missing values as NaN
        plain = isinstance(s.dtype, np.dtype)
        floats = s.to_numpy(dtype="float64") if plain else s.to_numpy(dtype="float64", na_value=np.nan)
        canonical = floats + 0.0  # a new array, and -0.0 + 0.0 is 0.0
        missing = np.isnan(canonical)
        if missing.any():
            canonical[missing] = np.nan
        return canonical.view(np.uint64)
    return pd.util.hash_pandas_object(s, index=False).to_numpy().copy()


def _text_hashes(values: pd.Index) -> np.ndarray:
    """pandas' hash of each value's text, then the missing value's hash."""
    import numpy as np
    from pandas.util import hash_array

    text = np.asarray(values.astype("str"), dtype=object) if len(values) else np.empty(0, dtype=object)
    return np.append(hash_array(text, categorize=False), np.uint64(_MISSING_TEXT))

