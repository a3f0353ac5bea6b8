"""`mlgate evaluate` and `mlgate compare` through the console script on their own, and `--debug`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _support.lifecycle import WEAK, churn, fit, project, save

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("lifecycle-cli")
    frame = churn(2000)
    project(root, frame, gates={"evaluate": {"thresholds": {"roc_auc": 0.7}, "bootstrap": 200},
                                "compare": {"bootstrap": 200}})
    save(fit(frame, rows=slice(0, 1000)), root / "good", frame)
    save(fit(frame, WEAK, rows=slice(0, 1000)), root / "weak", frame)
    return root, frame


def _mlgate(bin_: list[str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*bin_, *args], cwd=root, capture_output=True, text=True, timeout=240)


def test_evaluate_on_its_own_writes_metrics_and_reports(models: tuple[Path, pd.DataFrame],
                                                        mlgate_bin: list[str]) -> None:
    root, _ = models
    ok = _mlgate(mlgate_bin, root, "evaluate", "--model", "good")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    out = root / "mlgate-reports" / "evaluate"
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "report.json", "junit.xml", "summary.md", "report.html"}
    body = json.loads((out / "metrics.json").read_text())
    assert body["primary"] == "roc_auc" and body["bootstrap"] == 200
    assert "evaluate: PASSED · roc_auc 0." in ok.stdout
    weak = _mlgate(mlgate_bin, root, "evaluate", "--model", "weak", "-o", "weak-eval")
    assert weak.returncode == 1 and "roc_auc_min" in weak.stdout and "misses the limit >= 0.7" in weak.stdout


def test_compare_on_its_own_decides_against_a_baseline(models: tuple[Path, pd.DataFrame],
                                                       mlgate_bin: list[str]) -> None:
    root, _ = models
    better = _mlgate(mlgate_bin, root, "compare", "--model", "good", "--baseline", "weak")
    assert better.returncode == 0, better.stdout + better.stderr
    decision = json.loads((root / "mlgate-reports" / "compare" / "decision.json").read_text())
    assert decision["decision"] == "pass" and decision["significance"] == "significantly better"
    worse = _mlgate(mlgate_bin, root, "compare", "--model", "weak", "--baseline", "good", "-o", "worse")
    assert worse.returncode == 1 and "significantly worse" in worse.stdout
    none = _mlgate(mlgate_bin, root, "compare", "--model", "good", "-o", "no-registry")
    assert none.returncode == 0 and "no production model: pass" in none.stdout
    assert "no registry yet" in json.loads((root / "no-registry" / "decision.json").read_text())["reason"]


def test_evaluate_without_a_model_is_a_usage_error(models: tuple[Path, pd.DataFrame],
                                                   mlgate_bin: list[str]) -> None:
    root, _ = models
    proc = _mlgate(mlgate_bin, root, "evaluate")
    assert proc.returncode == 2 and proc.stderr.startswith("Error: no model: pass --model")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_debug_shows_the_traceback_of_an_unexpected_error(models: tuple[Path, pd.DataFrame], debug: bool,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import mlgate.config
    from mlgate.cli import main

    def broken(path: object = None) -> None:
        raise RuntimeError("boom inside a library")

    monkeypatch.setattr(mlgate.config, "load_config", broken)
    monkeypatch.chdir(models[0])
    monkeypatch.setattr(sys, "argv", ["mlgate", *(["--debug"] if debug else []), "evaluate", "--model", "good"])
    if debug:
        with pytest.raises(RuntimeError, match="boom inside a library"):
            main()
        return
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 3
    assert "unexpected RuntimeError: boom inside a library" in err and "re-run as `mlgate --debug evaluate ...`" in err


def test_debug_keeps_user_errors_one_paragraph(models: tuple[Path, pd.DataFrame], mlgate_bin: list[str]) -> None:
    proc = _mlgate(mlgate_bin, models[0], "--debug", "evaluate", "--model", "nowhere")
    assert proc.returncode == 2 and proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
