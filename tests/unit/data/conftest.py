"""Small churn tables for the data-gate tests: a reference and a fresh sample of the same source."""

from __future__ import annotations

import pandas as pd
import pytest

from mlgate.data.schema import Schema, infer_schema
from mlgate.examples.churn import generate


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    return generate(1500, seed=1)


@pytest.fixture(scope="session")
def fresh() -> pd.DataFrame:
    """A clean sample of the same source with other ids (so it never leaks into the reference)."""
    frame = generate(600, seed=2)
    frame["customer_id"] = [f"C{i:06d}" for i in range(500_001, 500_001 + len(frame))]
    return frame


@pytest.fixture(scope="session")
def schema(reference: pd.DataFrame) -> Schema:
    return infer_schema(reference, target="target", keys=["customer_id"])
