"""The fail-closed loader: payloads refused before anything runs, real models load unchanged."""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from payloads import PAYLOADS, fire

from mlgate.errors import ModelLoadError
from mlgate.security.allowlist import TrustPolicy, policy_from
from mlgate.security.loader import ModelRefused, inspect_bytes, inspect_file, load_bytes, load_file, read_checked
from mlgate.security.opcodes import UNRESOLVABLE, stream_globals


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_payload_fires_unchecked_and_is_refused_by_the_loader(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    control = PAYLOADS[kind](tmp_path / "control.joblib", marker)
    fire(control)
    assert marker.exists(), "control: the payload must really run when loaded unchecked"
    marker.unlink()
    evil = PAYLOADS[kind](tmp_path / "evil.joblib", marker)
    expected = r".*NumpyArrayWrapper inside a nested stream" if kind == "desync" else r"it imports"
    with pytest.raises(ModelRefused, match=r"evil\.joblib was refused: " + expected):
        load_file(evil, TrustPolicy())
    assert not marker.exists()


def test_refusal_names_the_first_global_and_how_to_extend(tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    joblib.dump(FunctionTransformer(func=_user_function), tmp_path / "m.joblib")
    with pytest.raises(ModelRefused) as caught:
        load_file(tmp_path / "m.joblib", TrustPolicy())
    text = str(caught.value)
    assert f"it imports {__name__}._user_function" in text and "--trust-type" in text
    assert "security.trusted_types" in text
    loaded = load_file(tmp_path / "m.joblib", TrustPolicy().with_types([f"{__name__}._user_function"]))
    assert loaded.func is _user_function


def test_known_code_execution_is_not_offered_trust(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    evil = PAYLOADS["os_system"](tmp_path / "evil.joblib", marker)
    with pytest.raises(ModelRefused, match="do not --trust it"):
        load_file(evil, TrustPolicy())


def test_trust_all_loads_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    joblib.dump({"a": _user_function}, tmp_path / "m.joblib")
    assert load_file(tmp_path / "m.joblib", TrustPolicy(trust_all=True))["a"] is _user_function
    assert "WITHOUT the allow-list check" in capsys.readouterr().err


def test_env_trust_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_TRUST_TYPES", f"{__name__}._user_function, other.Thing")
    policy = policy_from(["mine.Type"])
    assert policy.allows(__name__, "_user_function") and policy.allows("mine", "Type")
    assert not policy.allows("os", "system")


def test_pinned_hash_mismatch_names_both_hashes(tmp_path: Path) -> None:
    import hashlib

    file = tmp_path / "m.pkl"
    file.write_bytes(pickle.dumps([1, 2, 3]))
    good = hashlib.sha256(file.read_bytes()).hexdigest()
    assert read_checked(file, good) == file.read_bytes()
    data = bytearray(file.read_bytes())
    data[-2] ^= 1
    file.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ModelRefused, match=f"expected sha256 {good}, actual {actual}"):
        load_file(file, TrustPolicy(), expected_sha256=good)


def test_stack_global_with_a_computed_name_is_unresolvable() -> None:
    # builtins.str is allowed, so str("os") on the stack is built at load time, not a literal
    stream = (b"\x80\x04" + b"cbuiltins\nstr\n" + b"\x8c\x02os\x85R" + b"\x8c\x06system\x93" + b"\x8c\x01x\x85R.")
    walk = stream_globals(stream)
    assert UNRESOLVABLE in walk.globals
    found = inspect_bytes(stream, "computed.pkl", TrustPolicy())
    assert not found.safe and "unresolvable" in found.refused[0]


def test_memoized_names_are_followed() -> None:
    import collections
    import os.path

    # the second STACK_GLOBAL takes its module string from the memo (BINGET), not a literal
    data = pickle.dumps([collections.OrderedDict, collections.defaultdict, os.path.join], protocol=4)
    assert any(op.name == "BINGET" for op, _, _ in pickletools.genops(data))
    assert stream_globals(data).globals == [("collections", "OrderedDict"), ("collections", "defaultdict"),
                                            ("posixpath", "join")]
    assert inspect_bytes(data, "m.pkl", TrustPolicy()).refused == ["posixpath.join"]


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_protocols_and_python2_names(protocol: int) -> None:
    data = pickle.dumps([slice(1, 2), b"bytes", np.arange(3)], protocol=protocol)
    assert inspect_bytes(data, "p.pkl", TrustPolicy()).safe
    assert load_bytes(data, "p.pkl", TrustPolicy())[1] == b"bytes"


def test_not_a_pickle_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.joblib").write_bytes(b"not a pickle")
    found = inspect_file(tmp_path / "broken.joblib", TrustPolicy())
    assert not found.safe and "not a readable pickle/joblib file" in str(found.refusal())
    with pytest.raises(ModelLoadError, match="broken.joblib"):
        load_file(tmp_path / "broken.joblib", TrustPolicy())


def _pipelines() -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    models: dict[str, Any] = {"logistic": LogisticRegression(), "hist_gbm": HistGradientBoostingClassifier(max_iter=5),
                              "random_forest": RandomForestClassifier(n_estimators=3, random_state=0)}
    lightgbm = _optional("lightgbm")
    if lightgbm is not None:
        models["lightgbm"] = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1)
    xgboost = _optional("xgboost")
    if xgboost is not None:
        models["xgboost"] = xgboost.XGBClassifier(n_estimators=3)
    pre = ColumnTransformer([("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["b"])])
    return {name: Pipeline([("pre", pre), ("model", m)]) for name, m in models.items()}


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=120), "b": rng.choice(["x", "y", "z"], 120)})
    return x, (x.a > 0).astype(int)


@pytest.mark.parametrize("name", sorted(_pipelines()))
@pytest.mark.parametrize("writer", ["joblib", "joblib_compressed", "pickle"])
def test_real_pipelines_load_unchanged(name: str, writer: str, tmp_path: Path) -> None:
    x, y = _frame()
    model = _pipelines()[name].fit(x, y)
    path = tmp_path / ("m.pkl" if writer == "pickle" else "m.joblib")
    if writer == "pickle":
        path.write_bytes(pickle.dumps(model))
    else:
        joblib.dump(model, path, compress=3 if writer == "joblib_compressed" else 0)
    loaded = load_file(path, TrustPolicy())
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_xgboost_where_installed(tmp_path: Path) -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = _frame()
    model = xgboost.XGBClassifier(n_estimators=3).fit(x[["a"]], y)
    joblib.dump(model, tmp_path / "x.joblib")
    loaded = load_file(tmp_path / "x.joblib", TrustPolicy())
    np.testing.assert_array_equal(loaded.predict(x[["a"]]), model.predict(x[["a"]]))


def test_skops_trusted_types_come_from_mlgate_not_the_file(tmp_path: Path) -> None:
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    x, y = _frame()
    model = _pipelines()["hist_gbm"].fit(x, y)
    data = skops.io.dumps(model)
    np.testing.assert_array_equal(load_bytes(data, "m.skops", TrustPolicy(), "skops").predict(x), model.predict(x))
    custom = skops.io.dumps(FunctionTransformer(func=_user_function))
    found = inspect_bytes(custom, "c.skops", TrustPolicy(), "skops")
    assert found.refused == [f"{__name__}._user_function"]
    with pytest.raises(ModelRefused, match="_user_function"):
        load_bytes(custom, "c.skops", TrustPolicy(), "skops")


def test_bytes_of_the_check_are_the_bytes_loaded(tmp_path: Path) -> None:
    buf = io.BytesIO()
    joblib.dump([1, 2], buf)
    assert load_bytes(buf.getvalue(), "x", TrustPolicy()) == [1, 2]


def _user_function(x: Any) -> Any:
    return x


def test_cython_rebuild_functions_of_sklearn_losses_are_allowed_and_nothing_beside_them() -> None:
    # scikit-learn <= 1.4 pickles a gradient-boosting loss as a call to Cython's generated
    # __pyx_unpickle_CyXxxLoss; the installed version names at least one such function
    import sklearn._loss._loss as losses

    from mlgate.security.allowlist import is_builtin_allowed

    rebuilders = [n for n in dir(losses) if n.startswith("__pyx_unpickle_Cy")]
    assert rebuilders
    assert all(is_builtin_allowed("sklearn._loss._loss", n) for n in rebuilders)
    assert not is_builtin_allowed("sklearn._loss._loss", "__pyx_unpickle_Enum")  # Cython's own, not a loss
    assert not is_builtin_allowed("sklearn._loss._loss", "__pyx_unpickle_CyNoSuchLoss")
    assert not is_builtin_allowed("sklearn._loss.loss", "__pyx_unpickle_CyHalfBinomialLoss")
