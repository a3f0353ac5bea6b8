"""CSV text read by pyarrow as ``pandas.read_csv`` reads it: the same cells missing, the same booleans.

Both streamed readers (validate's ``data.stream`` and monitor's ``monitor.batches``) use these
options, so a table read whole by pandas (train, a reference profiled from a frame) and the same
table streamed see the same values; without them pyarrow keeps an empty text cell as the text ""
(a level pandas never sees) and reads 1 and 0 as booleans where pandas reads numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# the text pandas.read_csv reads as missing (its default na_values)
PANDAS_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
CSV_TRUE, CSV_FALSE = ["True", "TRUE", "true"], ["False", "FALSE", "false"]  # pandas.read_csv's booleans


def convert_options(types: Any = None, columns: Sequence[str] | None = None) -> Any:
    """pyarrow's ConvertOptions with pandas' missing values and booleans (``types``: column types
    to read with, a mapping or schema; ``columns``: only those)."""
    import pyarrow.csv as pacsv

    return pacsv.ConvertOptions(column_types=types, null_values=PANDAS_NULLS, true_values=CSV_TRUE,
                                false_values=CSV_FALSE, strings_can_be_null=True,
                                include_columns=list(columns) if columns else [])
