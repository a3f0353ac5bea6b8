"""How the CI jobs and the server image install mlgate: ``ci.install`` plus each job's extras.

``ci.install`` is what pip installs mlgate from, in one of three forms:

- a PEP 508 requirement naming mlgate: ``mlgate==1.2.0``, ``mlgate[postgres]>=1.2,<2``,
  ``mlgate @ git+https://gitlab.example.com/team/mlgate@v1.2.0`` (a git URL);
- a wheel (or sdist) path in the repository: ``wheels/mlgate-1.2.0-py3-none-any.whl``;
- nothing: this version of mlgate, pinned (``mlgate==X.Y.Z``).

A private index is pip's own setting: the CI variable ``PIP_INDEX_URL`` (or ``PIP_EXTRA_INDEX_URL``).
Each job adds the extras it needs (``security`` for the scan, ``xgboost``/``lightgbm`` for those
model types, ``postgres`` for a PostgreSQL store); an extra mlgate does not have is an error
naming ``ci -> install``.

It lives in ``deploy`` (the image's Dockerfile reads it) and ``mlgate.ci`` imports it from here:
``ci`` sits above the pipeline, ``deploy`` below it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from mlgate import __version__
from mlgate.errors import ConfigError
from mlgate.train.zoo import MODEL_TYPES

if TYPE_CHECKING:
    from mlgate.config import Config

_ARCHIVES = (".whl", ".tar.gz", ".zip")
_POSTGRES = ("postgresql", "postgres")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<tail>.*)$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_extras(text: str | None) -> frozenset[str]:
    return frozenset(e.strip() for e in (text or "").split(",") if e.strip())


@dataclass(frozen=True)
class InstallSpec:
    """Where mlgate comes from, without extras: a requirement's tail or a file path."""

    path: str | None  # a wheel or sdist in the repository
    tail: str  # after the name and extras: "==1.2.0", " @ git+https://...", "" for a path
    extras: frozenset[str]

    def target(self, extras: set[str] | frozenset[str] = frozenset()) -> str:
        """What pip installs, with ``extras`` added to the spec's own."""
        wanted = sorted(self.extras | set(extras))
        suffix = f"[{','.join(wanted)}]" if wanted else ""
        return f"{self.path}{suffix}" if self.path else f"mlgate{suffix}{self.tail}"

    def line(self, extras: set[str] | frozenset[str] = frozenset()) -> str:
        """``pip install '...'`` with ``extras`` added to the spec's own."""
        target = self.target(extras)
        quoted = shlex.quote(target) if "'" in target else f"'{target}'"
        return f"pip install {quoted}"


def known_extras() -> set[str]:
    """The extras of the installed mlgate distribution (``Provides-Extra``)."""
    try:
        return set(metadata.metadata("mlgate").get_all("Provides-Extra") or [])
    except metadata.PackageNotFoundError:  # a source tree on sys.path: no metadata to check against
        return set()


def parse_install(value: str | None) -> InstallSpec:
    """``ci.install`` checked: mlgate named, its extras known; ConfigError naming the key otherwise."""
    if value is None or not value.strip():
        return InstallSpec(None, f"=={__version__}", frozenset())
    text = value.strip()
    is_path = text.split("[", 1)[0].lower().endswith(_ARCHIVES) and "@" not in text
    spec = _path_spec(text) if is_path else _requirement_spec(text)
    unknown = sorted(spec.extras - known_extras()) if known_extras() else []
    if unknown:
        raise ConfigError(f"ci -> install: {value!r} names the extra {unknown[0]!r}, which mlgate does not have; "
                          f"its extras are {', '.join(sorted(known_extras()))}")
    return spec


def _path_spec(text: str) -> InstallSpec:
    path, _, rest = text.partition("[")
    extras = _split_extras(rest.rstrip("]"))
    name = path.rsplit("/", 1)[-1]
    if _canonical(name.split("-", 1)[0]) != "mlgate":
        raise ConfigError(f"ci -> install: {text!r} is not an mlgate wheel or sdist (its file name should "
                          "start with 'mlgate-')")
    return InstallSpec(path, "", extras)


def _requirement_spec(text: str) -> InstallSpec:
    match = _REQUIREMENT.match(text)
    tail = match.group("tail").strip() if match else ""
    if match is None or (tail and not tail.startswith(("@", "=", "<", ">", "!", "~", ";"))):
        raise ConfigError(f"ci -> install: {text!r} is not a pip requirement; write e.g. 'mlgate==1.2.0', "
                          "'mlgate @ git+https://host/team/mlgate@v1.2.0' or a wheel path")
    if _canonical(match.group("name")) != "mlgate":
        raise ConfigError(f"ci -> install: {text!r} installs {match.group('name')!r}, not mlgate; name mlgate "
                          "(for a git URL: 'mlgate @ git+https://...')")
    return InstallSpec(None, f" {tail}" if tail.startswith("@") else tail, _split_extras(match.group("extras")))


def job_extras(config: Config) -> set[str]:
    """Extras every job needs for this config: model types' libraries, a PostgreSQL store."""
    extras = {MODEL_TYPES[m.type].package or "" for m in config.models if m.type in MODEL_TYPES}
    stores = (config.registry.tracking_uri or "", config.tune.storage or "")
    if any(s.split(":", 1)[0].split("+", 1)[0] in _POSTGRES for s in stores):
        extras.add("postgres")
    return {e for e in extras if e}
