"""Every option of every command states its default in ``--help``, through the console script.

Help strings once ended in ``[default: X]``, which Rich read as markup and dropped ("Address to
listen on ."), and a flag named ``--no-prediction-log`` got a ``--no-no-prediction-log`` twin.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration


def _help(mlgate_bin: list[str], args: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run([*mlgate_bin, *args, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _subcommands(text: str) -> list[str]:
    found = re.search(r"\nCommands:\n(.*)", text, re.S)
    if not found:
        return []
    return [line.split()[0] for line in found.group(1).splitlines()
            if line.startswith("  ") and not line.startswith("   ")]


def _entries(text: str) -> dict[str, str]:
    """``{"--port <int>": "--port <int>  Port (default: serve.port, 8000)."}``, wrapped lines joined."""
    entries: dict[str, str] = {}
    section, current = "", ""
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section, current = line[:-1], ""
        elif section in ("Options", "Arguments"):
            head = re.match(r"^  (\S.*?)(\s{2,}|$)", line)
            if head and not line.startswith("   "):
                current = head.group(1)
                entries[current] = line.strip()
            elif current:
                entries[current] += " " + line.strip()
    return entries


def test_every_option_of_every_command_states_its_default(mlgate_bin: list[str]) -> None:
    root = _help(mlgate_bin, [])
    commands = [[name] for name in _subcommands(root)]
    assert len(commands) >= 20, root
    with ThreadPoolExecutor(4) as pool:
        texts = dict(zip(map(tuple, commands), pool.map(lambda c: _help(mlgate_bin, c), commands), strict=True))
        groups = [[*c, sub] for c, text in texts.items() for sub in _subcommands(text)]
        texts.update(zip(map(tuple, groups), pool.map(lambda c: _help(mlgate_bin, c), groups), strict=True))
    texts[()] = root
    missing, broken = [], []
    checked = 0
    for command, text in texts.items():
        for name, entry in _entries(text).items():
            if "--help" in name:
                continue
            checked += 1
            if not re.search(r"\bdefault\b|\brequired\b", entry, re.I):
                missing.append(f"mlgate {' '.join(command)} {name}: {entry}")
            if re.search(r"\s\.(\s|$)|no-no-|\\\[", entry):  # markup eaten, a no-no twin, an escape shown
                broken.append(f"mlgate {' '.join(command)} {name}: {entry}")
    assert checked > 100
    assert not missing, "options whose --help states no default:\n" + "\n".join(missing)
    assert not broken, "\n".join(broken)


def test_serve_help_shows_host_and_port_defaults(mlgate_bin: list[str]) -> None:
    entries = {k.split()[0]: v for k, v in _entries(_help(mlgate_bin, ["serve"])).items()}
    assert "127.0.0.1" in entries["--host"]
    assert "8000" in entries["--port"]
    assert "[default: (off)]" in entries["--no-prediction-log"]
