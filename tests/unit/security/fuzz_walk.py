"""A seeded fuzzer for the model-file walk: whatever a real loader looks up, the walk saw or refused.

Cases are valid model files (joblib dumps of small fitted models, with and without object
arrays, compressed and not; plain pickles of protocols 0, 2, 4 and 5) mutated 1 to 3 times: bytes
flipped, inserted, deleted or truncated, a ``posix.system`` call or a byte-dtype array wrapper
followed by such a call (the desynchronising attack) inserted at an opcode boundary, a whole
other stream nested as an object array, segments spliced in from another file, array wrappers
moved.

The oracle is the real loader, watched through Python's ``pickle.find_class`` audit event
(raised by both pickle unpicklers, so also by joblib 1.4/1.5's unchecked ``pickle.load`` of a
nested stream): for every case the walk accepts, each global that ``joblib.load`` (the joblib on
``sys.path``), ``pickle.loads`` (C) and ``pickle._loads`` (Python) for MLflow-style pickles, and
mlgate's own restricted loader look up must be one the walk reported. The hook raises on any
global outside mlgate's allow-list, so nothing dangerous runs even when the walk is wrong.

Run directly to fuzz under another joblib: ``PYTHONPATH=DIR python fuzz_walk.py CASES SEED``.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import random
import sys
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from payloads import _u, system_call, wrapper_ops  # noqa: E402

from mlgate.security.allowlist import TrustPolicy  # noqa: E402
from mlgate.security.loader import _guarded_load  # noqa: E402
from mlgate.security.opcodes import JOBLIB, PICKLE, UNRESOLVABLE, WalkRefused, compat_name, walk_file  # noqa: E402

POLICY = TrustPolicy()


class _Blocked(Exception):
    """Raised by the audit hook: a loader asked for a global outside the allow-list."""


@dataclass
class _Watch:
    active: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)


_WATCH = _Watch()
_HOOKED = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "pickle.find_class" or not _WATCH.active:
        return
    module, name = str(args[0]), str(args[1])
    _WATCH.seen.append((module, name))
    if not POLICY.allows(*compat_name(module, name, 0)):
        raise _Blocked(f"{module}.{name}")


def _install_hook() -> None:
    global _HOOKED
    if not _HOOKED:
        sys.addaudithook(_hook)
        _HOOKED = True


@contextlib.contextmanager
def watching() -> Iterator[list[tuple[str, str]]]:
    """Record every global a pickle loader looks up inside the block (and block refused ones)."""
    _install_hook()
    _WATCH.seen = []
    _WATCH.active = True
    try:
        yield _WATCH.seen
    finally:
        _WATCH.active = False


# ---- seeds and gadgets (the byte-level builders live in payloads.py) -------------------------


def seeds() -> list[tuple[str, bytes]]:
    """Valid files, each with the mode it is read in."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]])
    y = np.array([0, 0, 1, 1, 1, 0])
    models = [LogisticRegression().fit(x, y), DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y),
              make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)]
    out: list[tuple[str, bytes]] = []
    for model in models:
        for obj in (model, {"model": model, "tags": np.array(["a", None, 3], dtype=object), "nan": float("nan")}):
            buf = io.BytesIO()
            joblib.dump(obj, buf)
            out.append((JOBLIB, buf.getvalue()))
        for proto in (0, 2, 4, 5):
            out.append((PICKLE, pickle.dumps(model, protocol=proto)))
    return out


# ---- mutations ------------------------------------------------------------------------------


def _boundaries(data: bytes) -> list[int]:
    import pickletools

    found = [0]
    with contextlib.suppress(Exception):
        for _op, _arg, pos in pickletools.genops(data):
            found.append(pos)
    return found


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seeds = seeds()
        self.bounds = [_boundaries(data) for _mode, data in self.seeds]

    def _pos(self, index: int, data: bytes) -> int:
        bounds = [b for b in self.bounds[index] if b <= len(data)]
        if bounds and self.rng.random() < 0.7:
            return self.rng.choice(bounds)
        return self.rng.randrange(len(data) + 1)

    def case(self) -> tuple[str, bytes, bool]:
        """(mode, bytes, compressed): one mutated file."""
        rng = self.rng
        index = rng.randrange(len(self.seeds))
        mode, data = self.seeds[index]
        buf = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            self._mutate(index, buf)
        compressed = mode == JOBLIB and rng.random() < 0.1
        out = bytes(buf)
        return mode, zlib.compress(out, 3) if compressed else out, compressed

    def _mutate(self, index: int, buf: bytearray) -> None:
        rng = self.rng
        kind = rng.randrange(9)
        pos = self._pos(index, bytes(buf))
        if kind == 0 and buf:  # flip a byte
            at = rng.randrange(len(buf))
            buf[at] ^= rng.randrange(1, 256)
        elif kind == 1:  # insert random bytes
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2 and buf:  # delete a range
            del buf[pos:pos + rng.randint(1, 16)]
        elif kind == 3:  # a call
            evil = _u("builtins") + _u("eval") + b"\x93" + _u("1") + b"\x85R0"
            buf[pos:pos] = system_call() if rng.random() < 0.7 else evil
        elif kind == 4:  # a byte wrapper hiding N bytes that are really opcodes (the attack's shape)
            payload = system_call()
            size = len(payload) if rng.random() < 0.7 else rng.randint(0, 40)
            buf[pos:pos] = wrapper_ops((size,), "u1", None if rng.random() < 0.5 else 16) + payload
        elif kind == 5:  # nest another stream as an object array
            _mode, other = self.seeds[rng.randrange(len(self.seeds))]
            buf[pos:pos] = wrapper_ops((1,), "O", 16) + other + b"0"
        elif kind == 6:  # splice a segment of another file
            _mode, other = self.seeds[rng.randrange(len(self.seeds))]
            start = rng.randrange(len(other))
            buf[pos:pos] = other[start:start + rng.randint(1, 64)]
        elif kind == 7:  # move an array wrapper (from its class to a random length) elsewhere
            at = bytes(buf).find(b"NumpyArrayWrapper", rng.randrange(max(1, len(buf))))
            if at < 0:
                at = bytes(buf).find(b"NumpyArrayWrapper")
            if at >= 0:
                start = max(0, at - 22)
                chunk = bytes(buf[start:start + rng.randint(20, 200)])
                del buf[start:start + len(chunk)]
                where = rng.randrange(len(buf) + 1)
                buf[where:where] = chunk
        elif kind == 8 and buf:  # truncate
            del buf[rng.randrange(len(buf)):]


# ---- the oracle -----------------------------------------------------------------------------


@dataclass
class Outcome:
    cases: int = 0
    accepted: int = 0
    loader_lookups: int = 0  # lookups made by real loaders on accepted cases
    missed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _loaders(mode: str, data: bytes) -> list[Any]:
    import joblib

    if mode == PICKLE:
        return [lambda: pickle.loads(data),  # noqa: S301  # nosec B301: watched; refused globals raise
                lambda: pickle._loads(data),  # type: ignore[attr-defined]  # noqa: S301  # nosec B301
                lambda: _guarded_load(data, "fuzz", POLICY, PICKLE)]
    return [lambda: joblib.load(io.BytesIO(data)), lambda: _guarded_load(data, "fuzz", POLICY, JOBLIB)]


def check(mode: str, data: bytes, outcome: Outcome, label: str = "") -> None:
    """One case: when the walk accepts, every real loader's lookups are globals the walk reported."""
    outcome.cases += 1
    try:
        walk, _stream = walk_file(data, mode)
    except WalkRefused:
        return
    reported = set(walk.globals)
    if UNRESOLVABLE in reported or not all(POLICY.allows(*g) for g in reported):
        return
    outcome.accepted += 1
    for load in _loaders(mode, data):
        with watching() as seen, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(Exception):
                load()
        outcome.loader_lookups += len(seen)
        for module, name in seen:
            if (module, name) not in reported and compat_name(module, name, 0) not in reported:
                outcome.missed.append(f"{label}: a loader looked up {module}.{name}, which the walk did not report")


def run(cases: int, seed: int) -> Outcome:
    """``cases`` mutated files from ``seed``; limits memory so a fuzzed size cannot exhaust the machine."""
    outcome = Outcome()
    mutator = Mutator(seed)
    t0 = time.perf_counter()
    with _memory_cap():
        for i in range(cases):
            mode, data, _compressed = mutator.case()
            check(mode, data, outcome, f"case {i} (seed {seed})")
    outcome.seconds = time.perf_counter() - t0
    return outcome


@contextlib.contextmanager
def _memory_cap(extra: int = 2 << 30) -> Iterator[None]:
    try:
        import resource
    except ImportError:  # not on this platform: run without the cap
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as fh:
        current = int(fh.read().split()[0]) * resource.getpagesize()
    cap = current + extra if hard == resource.RLIM_INFINITY else min(hard, current + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


if __name__ == "__main__":
    import joblib

    n, s = int(sys.argv[1]), int(sys.argv[2])
    result = run(n, s)
    print(f"joblib {joblib.__version__}: {result.cases} cases, {result.accepted} accepted by the walk, "
          f"{result.loader_lookups} loader lookups checked, {len(result.missed)} missed, {result.seconds:.1f} s")
    for line in result.missed[:20]:
        print(line)
    sys.exit(1 if result.missed else 0)
