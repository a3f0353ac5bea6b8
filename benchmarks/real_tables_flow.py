"""`mlgate init` + `mlgate run --until test` on real tables, as a new user runs them: which model the
train stage picks and whether the test stage passes, with init's candidates and with a random
forest added to them.

    nice .venv/bin/python benchmarks/real_tables_flow.py --seeds 3 --log FILE [--tables cars,wine]

The tables are ``robustness_real.tables()`` (scikit-learn, statsmodels, palmerpenguins, and
vega_datasets' cars and Seattle weather when installed), split i.i.d. 75/25 per seed and written as
CSV. One JSON line per table, seed and variant: the model picked, the robustness check's verdict
and excess, the test stage's verdict, the checks that failed it, and the test metrics.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from robustness_real import tables  # noqa: E402  (a sibling script)

MLGATE = str(Path(sys.executable).with_name("mlgate"))
KEPT_METRICS = ("accuracy", "f1_macro", "roc_auc", "r2", "rmse")
# what replaces init's "  - type: gradient-boosting" line (``init``: the candidates as init writes them)
VARIANTS = {"plus_rf": "  - type: gradient-boosting\n  - type: random-forest\n",
            "rf": "  - type: random-forest\n"}


def case(table: str, seed: int, variant: str, root: Path) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    load, _task = tables()[table]
    frame = load().dropna(subset=["target"]).reset_index(drop=True)
    train, test = train_test_split(frame, test_size=0.25, random_state=seed)
    folder = root / f"{table}_{seed}_{variant}"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    subprocess.run([MLGATE, "init", "--target", "target"], cwd=folder, capture_output=True, text=True, check=True)
    if variant in VARIANTS:
        config = (folder / "mlgate.yaml").read_text()
        (folder / "mlgate.yaml").write_text(config.replace("  - type: gradient-boosting\n", VARIANTS[variant], 1))
    done = subprocess.run([MLGATE, "run", "--until", "test"], cwd=folder, capture_output=True, text=True)
    row: dict[str, Any] = {"table": table, "seed": seed, "variant": variant, "exit_code": done.returncode}
    runs = folder / ".mlgate" / "runs" / "latest"
    try:
        row["model"] = json.loads((runs / "train" / "best_model.json").read_text())["model_type"]
        report = json.loads((runs / "test" / "report.json").read_text())
    except (OSError, KeyError, ValueError) as exc:
        return {**row, "error": f"{type(exc).__name__}: {exc}", "output": done.stdout[-300:]}
    robust = [c for c in report["checks"] if c["name"] == "robustness"]
    row.update(robustness_passed=robust[0]["passed"] if robust else None,
               excess=robust[0]["details"].get("excess_change") if robust else None,
               test_passed=report["passed"],
               failed=[c["name"] for c in report["checks"] if not c["passed"] and c["severity"] == "error"],
               metrics={k: v for k, v in report.get("metrics", {}).items() if k in KEPT_METRICS})
    shutil.rmtree(folder, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tables", default=None, help="comma-separated (default: all)")
    parser.add_argument("--log", type=Path, required=True, help="append one JSON line per run here")
    parser.add_argument("--variants", default="init,plus_rf",
                        help=f"comma-separated, of init,{','.join(VARIANTS)} (rf: a random forest instead of boosting)")
    args = parser.parse_args()
    names = args.tables.split(",") if args.tables else list(tables())
    with tempfile.TemporaryDirectory(prefix="mlgate-flow-") as tmp, args.log.open("a") as log:
        for table in names:
            for seed in range(args.seeds):
                for variant in args.variants.split(","):
                    row = case(table, seed, variant, Path(tmp))
                    print(json.dumps(row), file=log, flush=True)
                    print(f"{table} seed {seed} {variant}: {row.get('model')} test "
                          f"{'passed' if row.get('test_passed') else 'FAILED ' + str(row.get('failed'))}", flush=True)


if __name__ == "__main__":
    main()
