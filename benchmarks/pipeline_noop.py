"""An up-to-date `mlgate run` against an up-to-date `dvc repro`, same machine, same run.

Builds the churn example project, runs `mlgate run` once to fill the cache, then times
repeated no-op runs of the whole process (Python start-up included). For DVC it builds a
pipeline of the same shape (seven stages, each depending on the data files and on the
stage before), runs `dvc repro` once, then times repeated no-op `dvc repro` runs.

    python benchmarks/pipeline_noop.py [--repeats 10] [--dvc /path/to/venv/bin/dvc]

DVC is not a dependency of mlgate: install it in a separate venv
(`python -m venv /tmp/bench-dvc && /tmp/bench-dvc/bin/pip install dvc`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("validate", "tune", "train", "test", "evaluate", "compare", "register")


def _time(cmd: list[str], cwd: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def _mlgate(folder: Path, repeats: int) -> list[float]:
    mlgate = str(Path(sys.executable).with_name("mlgate"))
    subprocess.run([mlgate, "init", str(folder), "--example", "churn"], check=True, capture_output=True)
    first = subprocess.run([mlgate, "run"], cwd=folder, capture_output=True, text=True)
    if first.returncode != 0:
        raise SystemExit(f"the first mlgate run failed:\n{first.stdout[-2000:]}\n{first.stderr[-2000:]}")
    return _time([mlgate, "run"], folder, repeats)


def _dvc(dvc: str, folder: Path, data: Path, repeats: int) -> list[float]:
    folder.mkdir(parents=True)
    shutil.copytree(data, folder / "data")
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=folder, check=True)
    lines = ["stages:"]
    previous = None
    for name in STAGES:
        deps = ["data/train.csv", "data/test.csv"] + ([f"out/{previous}.txt"] if previous else [])
        lines += [f"  {name}:", f"    cmd: mkdir -p out && echo {name} > out/{name}.txt",
                  "    deps:"] + [f"      - {d}" for d in deps] + ["    outs:", f"      - out/{name}.txt"]
        previous = name
    (folder / "dvc.yaml").write_text("\n".join(lines) + "\n")
    subprocess.run([dvc, "repro", "-q"], cwd=folder, check=True, capture_output=True)
    return _time([dvc, "repro"], folder, repeats)


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--dvc", default=shutil.which("dvc") or "/tmp/bench-dvc/bin/dvc")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mlgate_times = _mlgate(root / "mlgate", args.repeats)
        help_times = _time([str(Path(sys.executable).with_name("mlgate")), "--help"], root, args.repeats)
        print(f"machine: {_machine()}")
        print(f"mlgate --help:      median {statistics.median(help_times):.3f} s, min {min(help_times):.3f} s")
        print(f"mlgate run (no-op): median {statistics.median(mlgate_times):.3f} s, "
              f"min {min(mlgate_times):.3f} s over {args.repeats} runs")
        if Path(args.dvc).exists():
            dvc_times = _dvc(args.dvc, root / "dvc", root / "mlgate" / "data", args.repeats)
            ratio = statistics.median(dvc_times) / statistics.median(mlgate_times)
            print(f"dvc repro (no-op):  median {statistics.median(dvc_times):.3f} s, "
                  f"min {min(dvc_times):.3f} s over {args.repeats} runs")
            print(f"ratio dvc/mlgate: {ratio:.2f}x (above 1 means mlgate is faster)")
        else:
            print(f"dvc not found at {args.dvc}; install it in a separate venv to compare")


if __name__ == "__main__":
    main()
