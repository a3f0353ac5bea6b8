"""Imports inside functions only where pyproject.toml's [tool.mlgate.import-policy] allows them:
heavy third-party libraries anywhere, anything in a fast-path module, and the named exceptions."""

from __future__ import annotations

import ast
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mlgate"]["import-policy"]


def _module(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _fast(module: str) -> bool:
    return any(module == name or (name.endswith(".*") and (module == name[:-2] or module.startswith(name[:-1])))
               for name in POLICY["fast-paths"])


def _function_imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement inside a function, with the function's name."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and function is not None:
                found.append((child, function))
            walk(child, child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function)

    for node in tree.body:  # a module's __getattr__ (PEP 562 lazy exports) may import its submodules
        if not (isinstance(node, ast.FunctionDef) and node.name == "__getattr__"):
            walk(node, node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None)
    return found


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return ["mlgate" if node.level else node.module or ""]  # a relative import is mlgate's own
    return [alias.name for alias in node.names]


def violations(src: Path) -> tuple[list[str], set[str]]:
    """The function-level imports under ``src`` (a folder holding the mlgate package) the policy
    does not allow, as ``file:line: why``; and the exceptions that were used."""
    heavy, exceptions = set(POLICY["heavy"]), POLICY.get("exceptions", {})
    heavy_stdlib = POLICY.get("heavy-stdlib", [])
    out, used = [], set()
    for path in sorted((src / "mlgate").rglob("*.py")):
        module = _module(path, src)
        if _fast(module):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, function in _function_imports(tree):
            for name in _imported(node):
                top = name.split(".")[0]
                if top in heavy or any(name == h or name.startswith(f"{h}.") for h in heavy_stdlib):
                    continue
                if f"{module} -> {name}" in exceptions:
                    used.add(f"{module} -> {name}")
                    continue
                kind = ("mlgate's own module" if top == "mlgate" else
                        "the standard library" if top in sys.stdlib_module_names else
                        f"a third-party library not in the policy's heavy list ({top})")
                out.append(f"{path.relative_to(src)}:{node.lineno}: `{ast.unparse(node)}` inside {function}(): "
                           f"{kind} is imported at module top ({module} is not a fast path)")
    return out, used


def test_no_function_level_import_outside_the_policy() -> None:
    found, used = violations(ROOT / "src")
    assert not found, (f"{len(found)} imports inside functions that [tool.mlgate.import-policy] in "
                       "pyproject.toml does not allow:\n" + "\n".join(found))
    stale = set(POLICY.get("exceptions", {})) - used
    assert not stale, f"exceptions no import needs any more (take them out of pyproject.toml): {sorted(stale)}"


def test_the_policy_names_only_what_exists() -> None:
    for name in POLICY["heavy"]:  # third-party top-level packages, installed
        assert name not in sys.stdlib_module_names and not name.startswith("mlgate"), name
    modules = {_module(p, ROOT / "src") for p in (ROOT / "src" / "mlgate").rglob("*.py")}
    for name in POLICY["fast-paths"]:
        assert name.removesuffix(".*") in modules, f"fast path {name} is no module of src/mlgate"
    for name in POLICY.get("heavy-stdlib", []):
        assert name.split(".")[0] in sys.stdlib_module_names, name
    assert POLICY["heavy"] == sorted(POLICY["heavy"])


@pytest.mark.parametrize(("module", "code", "why"), [
    ("config.py", "def _late() -> None:\n    from mlgate.errors import ConfigError  # noqa: F401\n",
     "mlgate's own module"),
    ("stats/rules.py", "def _late() -> None:\n    import json  # noqa: F401\n", "the standard library"),
    ("reports/model.py", "def _late() -> None:\n    try:\n        import tomli_w  # noqa: F401\n"
     "    except ImportError:\n        pass\n", "a third-party library not in the policy's heavy list"),
], ids=["internal", "stdlib", "light-third-party"])
def test_a_function_level_import_is_found(tmp_path: Path, module: str, code: str, why: str) -> None:
    shutil.copytree(ROOT / "src" / "mlgate", tmp_path / "mlgate", ignore=shutil.ignore_patterns("__pycache__"))
    before, _ = violations(tmp_path)
    target = tmp_path / "mlgate" / module
    lines = target.read_text(encoding="utf-8").count("\n")
    allowed = ("\n\ndef _heavy() -> None:\n    import pandas  # noqa: F401\n")  # a heavy library: allowed
    target.write_text(target.read_text(encoding="utf-8") + "\n\n" + code + allowed, encoding="utf-8")
    fast = tmp_path / "mlgate" / "cli" / "_fast.py"  # a fast path may import mlgate lazily
    fast.write_text(fast.read_text(encoding="utf-8") + "\n\ndef _late():\n    from mlgate.config import Config\n")
    after, _ = violations(tmp_path)
    found = [v for v in after if v not in before]
    assert len(found) == 1, found
    where = f"mlgate/{module}:{lines + 4 if 'try' not in code else lines + 5}:"
    assert found[0].startswith(where) and "inside _late()" in found[0] and why in found[0], found
