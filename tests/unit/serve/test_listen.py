"""Where `mlgate serve` listens: --host/--port, else environments.E.url for --env E, else serve.host/port."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlgate.config import load_config
from mlgate.errors import UsageError
from mlgate.serve.runner import ServeOptions, listen_address


@pytest.fixture
def config(tmp_path: Path) -> object:
    raw = {"project": "p", "data": {"path": "d.csv"}, "serve": {"host": "127.0.0.1", "port": 8000},
           "environments": {"staging": {"url": "http://127.0.0.2:8001"},
                            "production": {"url": "https://models.internal"},
                            "broken": {"url": "http://127.0.0.1:notaport"}}}
    (tmp_path / "mlgate.yaml").write_text(yaml.safe_dump(raw))
    return load_config(tmp_path / "mlgate.yaml")


def test_env_listens_on_its_url(config: object) -> None:
    assert listen_address(ServeOptions(None, env="staging"), config) == ("127.0.0.2", 8001)  # type: ignore[arg-type]
    # a URL without a port keeps serve.port
    assert listen_address(ServeOptions(None, env="production"), config) == ("models.internal", 8000)  # type: ignore[arg-type]


def test_flags_win_and_model_servers_use_the_serve_section(config: object) -> None:
    assert listen_address(ServeOptions(None, env="staging", host="0.0.0.0", port=9000),  # noqa: S104
                          config) == ("0.0.0.0", 9000)  # type: ignore[arg-type]  # noqa: S104
    assert listen_address(ServeOptions("m"), config) == ("127.0.0.1", 8000)  # type: ignore[arg-type]


def test_a_url_with_a_bad_port_names_the_key(config: object) -> None:
    with pytest.raises(UsageError, match="environments -> broken -> url"):
        listen_address(ServeOptions(None, env="broken"), config)  # type: ignore[arg-type]
