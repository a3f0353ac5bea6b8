"""Model files that cannot run code: the fail-closed loader, hash pinning, signatures, ``mlgate scan``.

- ``allowlist``: the exact ``(module, name)`` globals a model file may name, plus the user's.
- ``opcodes``: the one walk: the globals a pickle/joblib file names, read as the loader reads it.
- ``joblib_format``: joblib's container and array layout, shared by the walk and the loader.
- ``loader``: read once, check the pinned hash, inspect, then load from the same bytes.
- ``folders``: MLflow model folders and registry URIs through the loader, with pins and signatures.
- ``signing``: OpenSSF model signing (``model-signing``) with an offline key pair.
- ``scan``: the security job: bandit, model files, pip-audit, CycloneDX SBOM.
"""

from __future__ import annotations
