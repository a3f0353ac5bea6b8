"""mlgate: CI/CD for machine learning as one tool.

Heavy libraries (pandas, scikit-learn, MLflow) are imported lazily by the modules that need
them, so ``import mlgate`` and ``mlgate --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
