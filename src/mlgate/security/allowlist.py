"""The exact ``(module, name)`` globals a model file may name, and the user's additions.

A pickle runs whatever callable its GLOBAL/STACK_GLOBAL opcodes name, with arguments of the
file's choosing. So a name is allowed only when calling it can do nothing but build model
state:

- ``EXACT``: the numpy, scipy, joblib and builtin reconstructors that pickled models use,
  and the LightGBM/XGBoost model classes (listed by name, so they need not be installed).
- A scikit-learn class, looked up in its own module and checked to *be* that class (not a
  function or a module re-exported under that name) and to derive from ``BaseEstimator``
  or from one of the internal model-state bases in ``_SKLEARN_BASES``. Functions are never
  allowed under sklearn, so ``sklearn.utils._testing.assert_...`` or an ``os`` re-export fail.
- numpy scalar types (``numpy.float64``), dtype classes and ufuncs (``numpy.log1p`` in a
  ``FunctionTransformer``): pure arithmetic.

Deliberately absent: anything that reads or writes files (``numpy.load``, ``numpy.savetxt``,
``pandas.read_pickle``, ``joblib.load``), imports (``builtins.__import__``, ``importlib``),
evaluates (``eval``, ``exec``, ``compile``), or reaches attributes (``getattr``,
``operator.attrgetter``), and every module not named here (``os``, ``subprocess``, ...).
A user extends the list with ``--trust-type module.Name`` or ``security.trusted_types``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

TRUST_ENV = "MLGATE_TRUST_TYPES"

# numpy moved its internals from numpy.core to numpy._core in 2.0; files from either load.
_NUMPY_CORE = ("numpy.core", "numpy._core")
EXACT: frozenset[tuple[str, str]] = frozenset(
    [(core + ".multiarray", n) for core in _NUMPY_CORE for n in ("_reconstruct", "scalar")]
    + [(core + ".numeric", "_frombuffer") for core in _NUMPY_CORE]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.ma.core", "_mareconstruct"),
       ("numpy.ma.core", "MaskedArray")]
    + [("numpy.random._pickle", n) for n in ("__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor")]
    + [("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"),
       ("numpy.random._pcg64", "PCG64DXSM"), ("numpy.random._philox", "Philox"),
       ("numpy.random._sfc64", "SFC64"), ("numpy.random.mtrand", "RandomState"),
       ("numpy.random._generator", "Generator"),
       ("numpy.random.bit_generator", "SeedSequence"),
       ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence")]
    + [(f"scipy.sparse._{k}", f"{k}_{kind}") for k in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")
       for kind in ("matrix", "array")]
    + [("joblib.numpy_pickle", "NumpyArrayWrapper")]
    + [("builtins", n) for n in ("slice", "set", "frozenset", "complex", "bytearray", "bytes",
                                 "range", "object", "list", "dict", "tuple", "int", "float", "str", "bool")]
    + [("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"),
       ("collections", "OrderedDict"), ("collections", "defaultdict"), ("_codecs", "encode"),
       ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("decimal", "Decimal")]
    + [("lightgbm.basic", "Booster")]
    + [("lightgbm.sklearn", n) for n in ("LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")]
    + [("xgboost.core", "Booster")]
    + [("xgboost.sklearn", n) for n in ("XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker",
                                        "XGBRFClassifier", "XGBRFRegressor")]
)

# Internal scikit-learn types that hold a fitted model's state but are not estimators.
_SKLEARN_BASES = (
    ("sklearn._loss.loss", "BaseLoss"),
    ("sklearn._loss.link", "BaseLink"),
    ("sklearn.gaussian_process.kernels", "Kernel"),
    ("sklearn.neural_network._stochastic_optimizers", "BaseOptimizer"),
    ("sklearn.metrics._dist_metrics", "DistanceMetric64"),
    ("sklearn.metrics._dist_metrics", "DistanceMetric32"),
)
_SKLEARN_EXACT = frozenset([
    ("sklearn._loss.link", "Interval"),
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("sklearn.neighbors._kd_tree", "KDTree"),
    ("sklearn.neighbors._ball_tree", "BallTree"),
    ("sklearn.utils._bunch", "Bunch"),
    ("sklearn.compose._column_transformer", "make_column_selector"),
    ("sklearn.calibration", "_CalibratedClassifier"),
    # Cython helpers that only call cls.__new__(cls), for neighbours' trees and distance metrics
    ("sklearn.neighbors._kd_tree", "newObj"), ("sklearn.neighbors._ball_tree", "newObj"),
    ("sklearn.metrics._dist_metrics", "newObj"),
    # SelectKBest/SelectPercentile keep their score function: pure statistics
    *[("sklearn.feature_selection._univariate_selection", f) for f in (
        "f_classif", "f_regression", "chi2", "r_regression", "f_oneway")],
    *[("sklearn.feature_selection._mutual_info", f) for f in ("mutual_info_classif", "mutual_info_regression")],
])
_SCIPY_EXACT = frozenset([
    ("scipy.interpolate._bsplines", "BSpline"),  # SplineTransformer
    ("scipy._lib.array_api_compat.numpy._aliases", "asarray"),
])
_SKLEARN_CYTHON_PREFIX = ("sklearn._loss._loss", "Cy")  # CyHalfBinomialLoss and friends
_CYTHON_UNPICKLE = "__pyx_unpickle_"
_PANDAS_EXACT = frozenset([
    ("pandas.core.frame", "DataFrame"), ("pandas.core.series", "Series"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"), ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.internals.blocks", "new_block"), ("pandas._libs.properties", "AxisProperty"),
])


@dataclass(frozen=True)
class TrustPolicy:
    """What a loader accepts beyond the built-in list: extra exact names, or everything (``--trust``)."""

    extra: frozenset[str] = field(default_factory=frozenset)
    trust_all: bool = False

    def allows(self, module: str, name: str) -> bool:
        """True when a pickle may name ``module.name``."""
        return self.trust_all or f"{module}.{name}" in self.extra or is_builtin_allowed(module, name)

    def with_types(self, names: Iterable[str]) -> TrustPolicy:
        return TrustPolicy(self.extra | frozenset(n.strip() for n in names if n.strip()), self.trust_all)


def policy_from(trusted_types: Iterable[str] = (), *, trust_all: bool = False) -> TrustPolicy:
    """The policy: ``trusted_types`` (the config's) plus ``MLGATE_TRUST_TYPES`` (``--trust-type``)."""
    from_env = os.environ.get(TRUST_ENV, "").split(",")
    return TrustPolicy(trust_all=trust_all).with_types([*trusted_types, *from_env])


def is_builtin_allowed(module: str, name: str) -> bool:
    """True for the names mlgate allows without any user trust (see the module docstring)."""
    if any((module, name) in table for table in (EXACT, _PANDAS_EXACT, _SKLEARN_EXACT, _SCIPY_EXACT)):
        return True
    if module == "numpy" or module == "numpy.dtypes":
        return _numpy_type(module, name)
    if module == "sklearn" or module.startswith("sklearn."):
        return _sklearn_class(module, name)
    return False


@lru_cache(maxsize=4096)
def _numpy_type(module: str, name: str) -> bool:
    import numpy as np

    obj = getattr(importlib.import_module(module), name, None) if not name.startswith("_") else None
    if isinstance(obj, np.ufunc):
        return True
    return isinstance(obj, type) and (issubclass(obj, np.generic) or issubclass(obj, np.dtype))


@lru_cache(maxsize=4096)
def _sklearn_class(module: str, name: str) -> bool:
    """``module.name`` is a scikit-learn estimator class or internal model-state class, defined there."""
    if "." in name or not name.isidentifier():
        return False
    try:
        # importing an installed scikit-learn module runs only scikit-learn's own code
        obj = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return False
    if module == _SKLEARN_CYTHON_PREFIX[0] and name.startswith(_CYTHON_UNPICKLE + _SKLEARN_CYTHON_PREFIX[1]):
        # older Cython (scikit-learn <= 1.4) pickles a loss as a call to its generated rebuild
        # function, which only checks the state's layout and fills a new CyXxxLoss
        return callable(obj)
    if not isinstance(obj, type) or obj.__module__ != module or obj.__qualname__ != name:
        return False
    if module == _SKLEARN_CYTHON_PREFIX[0] and name.startswith(_SKLEARN_CYTHON_PREFIX[1]):
        return True
    from sklearn.base import BaseEstimator

    bases: list[type] = [BaseEstimator]
    for base_module, base_name in _SKLEARN_BASES:
        base = getattr(importlib.import_module(base_module), base_name, None)
        if isinstance(base, type):
            bases.append(base)
    return issubclass(obj, tuple(bases))
