"""docs/security.md stays true: its config block validates, and the commands it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlgate.config import SecurityConfig, config_from_dict
from mlgate.errors import ConfigError

DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"


def test_yaml_example_is_a_valid_security_section() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        section = SecurityConfig.model_validate(yaml.safe_load(block)["security"])
        assert section.signing_key and section.public_key


def test_trusted_types_must_be_dotted_names(tmp_path: Path) -> None:
    ok = config_from_dict({"data": {"path": "x.csv"}, "security": {"trusted_types": ["mypkg.mod.Ratio"]}}, tmp_path)
    assert ok.security.trusted_types == ["mypkg.mod.Ratio"]
    try:
        config_from_dict({"data": {"path": "x.csv"}, "security": {"trusted_types": ["Ratio"]}}, tmp_path)
    except ConfigError as exc:
        assert "security -> trusted_types" in str(exc) and "dotted names" in str(exc)
    else:
        raise AssertionError("an undotted trusted type must be a config error")


def test_scan_help_names_its_options() -> None:
    from typer.testing import CliRunner

    from mlgate.cli import get_app

    result = CliRunner().invoke(get_app(), ["scan", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--src", "--models", "--fail-on", "--no-audit", "--no-sbom", "--output"):
        assert option in result.output
