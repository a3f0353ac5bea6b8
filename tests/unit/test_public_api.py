from __future__ import annotations

import subprocess
import sys

import mlgate


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert mlgate.__all__ == sorted(mlgate.__all__)
    for name in mlgate.__all__:
        assert getattr(mlgate, name) is not None, name


def test_import_mlgate_is_light() -> None:
    code = "import sys, mlgate; print(','.join(m for m in ('pandas', 'sklearn', 'mlflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
