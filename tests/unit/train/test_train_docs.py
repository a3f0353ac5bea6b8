"""The YAML examples in docs/train.md and docs/tune.md stay valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlgate.config import config_from_dict
from mlgate.train.tuning import search_space
from mlgate.train.zoo import MODEL_TYPES

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _yaml_blocks(name: str) -> list[dict]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_train_doc_config_validates(tmp_path: Path) -> None:
    (block,) = _yaml_blocks("train.md")
    config = config_from_dict(block, tmp_path)
    assert [m.type for m in config.models][:3] == ["logistic-regression", "random-forest",
                                                   "gradient-boosting"]


def test_tune_doc_section_validates(tmp_path: Path) -> None:
    (block,) = _yaml_blocks("tune.md")
    config = config_from_dict({"data": {"train": "x.csv"}, **block}, tmp_path)
    space = search_space(config.tune.model or "", "binary", config.tune.search_space)
    assert set(space) == {"learning_rate", "max_iter", "max_leaf_nodes"}


def test_train_doc_lists_every_model_type() -> None:
    text = (DOCS / "train.md").read_text(encoding="utf-8")
    assert all(f"| `{name}` |" in text for name in MODEL_TYPES)
