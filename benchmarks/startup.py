"""Start-up: a no-op `mlgate run` and `mlgate --help` against `python -c pass`, same interpreter, same run.

The budget (issue 10): an up-to-date `mlgate run` in at most 8x the interpreter's own start.
Commands are timed in interleaved rounds (pass, import typer, --help, run, pass, ...) so
load on the machine hits every command alike; medians and the ratio to `python -c pass`
are printed with the machine line, for wall-clock time and for CPU time (user + system of
the child, which a busy machine inflates far less than the wall clock).

    python benchmarks/startup.py [--repeats 15] [--project DIR]

Without --project it writes the churn example into a temporary folder and runs the whole
pipeline once (about a minute) so the timed runs are real no-op replays of seven stages.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline_noop import _machine

BUDGET = 8.0


def _project(folder: Path, mlgate: str) -> Path:
    subprocess.run([mlgate, "init", str(folder), "--example", "churn"], check=True, capture_output=True)
    first = subprocess.run([mlgate, "run"], cwd=folder, capture_output=True, text=True)
    if first.returncode != 0:
        raise SystemExit(f"the first mlgate run failed:\n{first.stdout[-2000:]}\n{first.stderr[-2000:]}")
    return folder


def _rounds(commands: dict[str, list[str]], cwd: Path, repeats: int) -> tuple[dict[str, list[float]],
                                                                              dict[str, list[float]]]:
    """Wall-clock and CPU seconds of each command, per round."""
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
            wall[name].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--project", type=Path, default=None)
    args = parser.parse_args()
    mlgate = str(Path(sys.executable).with_name("mlgate"))
    with tempfile.TemporaryDirectory() as tmp:
        project = args.project or _project(Path(tmp) / "churn", mlgate)
        noop = subprocess.run([mlgate, "run"], cwd=project, capture_output=True, text=True)
        if "nothing to do" not in noop.stdout:
            raise SystemExit(f"`mlgate run` in {project} is not a no-op:\n{noop.stdout[-1500:]}")
        wall, cpu = _rounds({"python -c pass": [sys.executable, "-c", "pass"],
                             "python -c 'import typer'": [sys.executable, "-c", "import typer"],
                             "mlgate --help": [mlgate, "--help"],
                             "mlgate run (no-op)": [mlgate, "run"]}, project, args.repeats)
    print(f"machine: {_machine()}")
    for clock, times in (("wall", wall), ("cpu", cpu)):
        base = statistics.median(times["python -c pass"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{clock:<4} {name:<26} median {median:.3f} s, min {min(values):.3f} s, "
                  f"{median / base:5.1f}x python -c pass")
        ratio = statistics.median(times["mlgate run (no-op)"]) / base
        verdict = "within" if ratio <= BUDGET else "OVER"
        print(f"{clock:<4} no-op run: {ratio:.1f}x python -c pass over {args.repeats} rounds "
              f"({verdict} the {BUDGET:g}x budget)")


if __name__ == "__main__":
    main()
