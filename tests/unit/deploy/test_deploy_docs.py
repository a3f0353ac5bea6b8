"""docs/deploy.md stays true: its example runs, every strategy is documented, the defaults table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.config import CanaryConfig, DeployConfig
from mlgate.deploy.strategies import STRATEGIES, Strategy

DOC = Path(__file__).resolve().parents[3] / "docs" / "deploy.md"


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_every_strategy_is_in_the_table_and_the_table_is_complete() -> None:
    text = DOC.read_text()
    for name, cls in STRATEGIES.items():
        assert re.search(rf"^\| `{name}` \|", text, flags=re.M), name
        assert cls.name == name and issubclass(cls, Strategy)
    # mlgate's own classes (a test may define a strategy of its own: tests/integration/test_deploy.py)
    concrete = {c for c in _subclasses(Strategy) if "name" in c.__dict__ and c.__module__.startswith("mlgate.")}
    assert concrete == set(STRATEGIES.values())


def test_default_bounds_table_matches_the_config() -> None:
    text = DOC.read_text()
    defaults = CanaryConfig()
    for name in ("error_rate", "latency", "predictions"):
        row = re.search(rf"^\| `{name}` \|[^|]+\|[^|]+\| ([\d.]+) \| (\d+) \|", text, flags=re.M)
        assert row, name
        check = getattr(defaults, name)
        assert (float(row[1]), int(row[2])) == (check.material, check.min_requests), name


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_lock_and_follower_settings_are_documented_with_their_defaults() -> None:
    from mlgate.config import ServeConfig

    deploy, serve = DeployConfig(), ServeConfig()
    text = DOC.read_text()
    assert f"lock_ttl_s: {deploy.lock_ttl_s:g}" in text and f"lock_wait_s: {deploy.lock_wait_s:g}" in text
    serve_doc = (DOC.parent / "serve.md").read_text()
    assert f"| `state_dir` | `{serve.state_dir}` |" in serve_doc
    assert f"| `converge_interval_s` | `{serve.converge_interval_s:g}` |" in serve_doc
    assert "--lock-wait SECONDS" in text and "--force-unlock" in text


def test_a_misspelt_strategy_names_the_closest_one() -> None:
    import pytest

    from mlgate.deploy.strategies import get_strategy
    from mlgate.errors import UsageError

    assert get_strategy("canary") is STRATEGIES["canary"]
    with pytest.raises(UsageError, match=r"deploy -> strategy: unknown strategy 'cannary' \(did you mean 'canary'\?\); "
                                         r"choose from direct, blue-green, canary, shadow"):
        get_strategy("cannary")
