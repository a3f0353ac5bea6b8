"""Data tracked by DVC: the hash DVC recorded for a path, and ``dvc pull`` when the data is absent.

DVC records each tracked file's or folder's MD5 in a ``.dvc`` file beside it (``dvc add``) or in
``dvc.lock`` (outputs of ``dvc.yaml`` stages). mlgate reads those records itself (plain YAML, no
DVC import), so a cache key of a file that is not in the workspace costs no download and needs
no DVC; only fetching runs DVC (``dvc pull TARGET``, the optional extra ``mlgate[dvc]``).
"""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import DataError

__all__ = ["DvcOutput", "check_pullable", "default_remote", "local_md5", "pull", "tracked"]

_PULL_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class DvcOutput:
    """One path DVC tracks, as its record says."""

    path: Path  # the tracked file or folder, absolute
    md5: str  # "<hex>" for a file, "<hex>.dir" for a folder
    legacy: bool  # DVC 2's hash (MD5 of text after dos2unix): not a plain MD5 of the bytes
    record: Path  # the .dvc file or dvc.lock that holds it
    repo: Path  # the DVC project (the folder holding .dvc/)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    @property
    def target(self) -> str:
        """What ``dvc pull`` takes, relative to the DVC project: the .dvc file, or the stage output."""
        named = self.record if self.record.suffix == ".dvc" else self.path
        return named.relative_to(self.repo).as_posix()

    def manifest(self) -> dict[str, str] | None:
        """A folder's files and their MD5s from DVC's cache (``relpath -> md5``); None when not cached."""
        if not self.is_dir:
            return None
        digest = self.md5
        for cache in (self.repo / ".dvc" / "cache" / "files" / "md5", self.repo / ".dvc" / "cache"):
            file = cache / digest[:2] / digest[2:]
            if file.is_file():
                try:
                    entries = json.loads(file.read_text(encoding="utf-8"))
                    return {str(e["relpath"]): str(e["md5"]) for e in entries}
                except (OSError, ValueError, KeyError, TypeError):
                    return None
        return None


def dvc_repo(path: Path) -> Path | None:
    """The DVC project holding ``path``: the nearest folder above it with a ``.dvc`` folder."""
    for folder in (path, *path.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def tracked(path: Path) -> tuple[DvcOutput, str] | None:
    """The DVC output that holds ``path`` and the path's place inside it ("" when it is the output).

    ``data/train.csv`` with ``data/train.csv.dvc`` -> (that output, ""); ``data/raw/a.csv`` with a
    ``data/raw.dvc`` folder record -> (the folder's output, "a.csv"); outputs of ``dvc.yaml`` stages
    come from ``dvc.lock``. None when no record names it (or there is no DVC project).
    """
    path = Path(path).absolute()
    repo = dvc_repo(path.parent)
    if repo is None:
        return None
    for candidate in (path, *path.parents):
        if candidate == repo:
            break
        for out in _outputs(candidate.parent / f"{candidate.name}.dvc", repo):
            if out.path == candidate:
                return out, path.relative_to(candidate).as_posix() if candidate != path else ""
    for folder in (path.parent, *path.parent.parents):
        for out in _outputs(folder / "dvc.lock", repo):
            if out.path == path or out.path in path.parents:
                return out, "" if out.path == path else path.relative_to(out.path).as_posix()
        if folder == repo:
            break
    return None


def _outputs(record: Path, repo: Path) -> list[DvcOutput]:
    if not record.is_file():
        return []
    import yaml  # already imported by the config on every path that gets here

    try:
        body = yaml.safe_load(record.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{record} is not a readable DVC file: {exc}") from exc
    if record.name == "dvc.lock":
        outs = [o for stage in (body.get("stages") or {}).values() if isinstance(stage, dict)
                for o in stage.get("outs") or []]
    else:
        outs = body.get("outs") or []
    found = []
    for out in outs:
        if isinstance(out, dict) and out.get("path") and out.get("md5"):
            found.append(DvcOutput(path=(record.parent / str(out["path"])).absolute(), md5=str(out["md5"]),
                                   legacy=out.get("hash") != "md5", record=record.absolute(), repo=repo))
    return found


def local_md5(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 of a file's bytes, as DVC 3 records it."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _dvc_command() -> list[str]:
    beside = Path(sys.executable).with_name("dvc")
    if beside.exists():
        return [str(beside)]
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    found = shutil.which("dvc")
    return [found] if found else []


def check_pullable(output: DvcOutput, wanted: str) -> None:
    """DataError unless ``dvc pull`` could fetch the output: DVC installed and a default remote set.

    No network: what the remote holds is known only by pulling."""
    if not _dvc_command():
        raise DataError(f"{wanted} is {output.path}, which is not in the workspace; it is tracked by DVC "
                        f"({output.record.name}), and DVC is not installed to pull it: pip install 'mlgate[dvc]' "
                        "(or run `dvc pull` before mlgate)")
    if not default_remote(output.repo)[1]:
        raise DataError(f"{wanted} is {output.path}, which is not in the workspace; it is tracked by DVC "
                        f"({output.record.relative_to(output.repo).as_posix()}), but the DVC project {output.repo} "
                        "has no default remote to pull it from: `dvc remote add -d NAME URL` (committed in "
                        ".dvc/config), credentials with `dvc remote modify --local NAME ...` or the storage's "
                        "environment variables")


def default_remote(repo: Path, local: bool = True) -> tuple[str, str]:
    """The DVC project's default remote: (name, URL) from .dvc/config and .dvc/config.local
    (the latter wins, as in DVC); ("", "") when none is set. ``local=False``: the committed
    .dvc/config alone, as a CI job's checkout has it (config.local is git-ignored)."""
    parser = configparser.ConfigParser()
    files = [repo / ".dvc" / "config", *([repo / ".dvc" / "config.local"] if local else [])]
    try:
        parser.read(files, encoding="utf-8")
    except configparser.Error as exc:
        raise DataError(f"{repo / '.dvc' / 'config'} does not parse: {exc}") from exc
    name = parser.get("core", "remote", fallback="").strip()
    for section in parser.sections():  # DVC writes ['remote "name"'], quotes included
        if name and section.strip("'") == f'remote "{name}"':
            return name, parser.get(section, "url", fallback="").strip()
    return name, ""


def pull(outputs: list[DvcOutput], wanted: str) -> list[str]:
    """``dvc pull`` the outputs' targets (one call per DVC project); the targets pulled.

    ``wanted`` names what needed them (``data.train in mlgate.yaml``) in error messages.
    """
    if not outputs:
        return []
    command = _dvc_command()
    shown = ", ".join(sorted({str(o.path) for o in outputs}))
    if not command:
        raise DataError(f"{shown} (tracked by DVC) is not in the workspace, and DVC is not installed to fetch "
                        f"it for {wanted}: pip install 'mlgate[dvc]', or run `dvc pull` before mlgate")
    pulled: list[str] = []
    for repo in sorted({o.repo for o in outputs}):
        targets = sorted({o.target for o in outputs if o.repo == repo})
        print(f"mlgate: dvc pull {' '.join(targets)} (in {repo}; needed by {wanted})", file=sys.stderr, flush=True)
        try:
            done = subprocess.run([*command, "pull", *targets], cwd=repo, capture_output=True, text=True,
                                  timeout=_PULL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataError(f"`dvc pull {' '.join(targets)}` in {repo} failed to run: {exc}") from exc
        if done.returncode != 0:
            raise DataError(_pull_failed(repo, targets, done.stdout + done.stderr))
        pulled += targets
    missing = [str(o.path) for o in outputs if not o.path.exists()]
    if missing:
        raise DataError(f"`dvc pull` in {outputs[0].repo} succeeded but {', '.join(missing)} is still absent; "
                        "check the paths in the .dvc file (or dvc.lock)")
    return pulled


def _pull_failed(repo: Path, targets: list[str], output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines[-1:] or ["no output"]
    pulling = f"`dvc pull {' '.join(targets)}` in {repo} failed"
    text = output.lower()
    if "no remote provided" in text or "no default remote" in text or "no remote specified" in text:
        return (f"{pulling}: the DVC project has no default remote. Configure the one the data was pushed to "
                "(`dvc remote add -d NAME URL`, committed in .dvc/config; credentials with "
                "`dvc remote modify --local NAME ...` or the storage's environment variables)")
    if "missing cache files" in text or "neither locally nor on remote" in text:
        return (f"{pulling}: the remote does not hold the data these .dvc files record ({errors[0]}). "
                "Was it pushed? Run `dvc push` where it was added, or check `dvc remote list`")
    return f"{pulling}: {errors[-1]}. Check the remote (`dvc remote list`) and its credentials"

