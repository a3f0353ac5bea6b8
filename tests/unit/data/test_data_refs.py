"""Data references: parsing, DVC records, fingerprints without reading data, the no-op inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import ConfigError, DataError
from mlgate.locations import dvc
from mlgate.locations.objectstore import explain, is_uri
from mlgate.locations.refs import as_ref, check, fingerprints, flag_ref, label, local_inputs

TRAIN = b"a,target\n1,0\n2,1\n3,0\n"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _dvc_project(root: Path) -> Path:
    """A DVC project as `dvc init` + `dvc add data/train.csv` leave it (written by hand: no DVC run)."""
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text("[core]\n    remote = store\n['remote \"store\"']\n    url = /mnt/dvc\n")
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_bytes(TRAIN)
    (root / "data" / "train.csv.dvc").write_text(
        f"outs:\n- md5: {_md5(TRAIN)}\n  size: {len(TRAIN)}\n  hash: md5\n  path: train.csv\n")
    return root / "data" / "train.csv"


def _rel(root: Path):  # type: ignore[no-untyped-def]
    return lambda p: str(p.relative_to(root))


@pytest.mark.parametrize(("given", "expected"), [
    ("s3://bucket/train.parquet", "s3://bucket/train.parquet"),
    ("gs://bucket/folder/", "gs://bucket/folder/"),
    ("az://container/x.csv", "az://container/x.csv"),
    ("file:///data/train.csv", Path("/data/train.csv")),
    ("file:///data/with%20space.csv", Path("/data/with space.csv")),
    ("data/train.csv", Path("/project/data/train.csv")),
    ("/abs/train.csv", Path("/abs/train.csv")),
])
def test_as_ref_keeps_uris_and_resolves_paths(given: str, expected: object) -> None:
    assert as_ref(given, Path("/project")) == expected


def test_flag_ref_keeps_a_relative_path_as_given_and_a_uri_unfolded() -> None:
    assert flag_ref("s3://b/k.csv") == "s3://b/k.csv"  # Path("s3://b/k.csv") would be s3:/b/k.csv
    assert flag_ref("data/x.csv") == Path("data/x.csv")
    assert flag_ref("file:///x/y.csv") == Path("/x/y.csv")
    assert label("s3://b/prefix/") == "prefix" and label(Path("/d/x.csv")) == "x.csv"


@pytest.mark.parametrize("bad", ["ftp://host/x.csv", "http://host/x.csv", "hdfs://x/y"])
def test_an_unknown_scheme_is_an_error_naming_the_config_key(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"data -> train: mlgate reads local paths, file:// and s3://"):
        config_from_dict({"data": {"train": bad}}, Path("/p"))
    with pytest.raises(DataError, match="got ftp://"):
        as_ref("ftp://x/y")
    assert not is_uri(bad)


def test_file_uri_with_a_host_is_refused() -> None:
    with pytest.raises(DataError, match="not host 'server'"):
        as_ref("file://server/share/x.csv")


def test_dvc_record_of_a_file_a_folder_an_inner_file_and_a_stage_output(tmp_path: Path) -> None:
    train = _dvc_project(tmp_path)
    out, inner = dvc.tracked(train) or (None, None)
    assert out is not None and inner == "" and out.md5 == _md5(TRAIN) and not out.legacy
    assert out.target == "data/train.csv.dvc" and out.repo == tmp_path

    (tmp_path / "data" / "raw.dvc").write_text("outs:\n- md5: abc.dir\n  path: raw\n")
    found = dvc.tracked(tmp_path / "data" / "raw" / "part-1.csv")
    assert found is not None and found[0].is_dir and found[1] == "part-1.csv"

    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  prepare:\n    cmd: python prep.py\n"
                                       "    outs:\n    - path: data/features.parquet\n      hash: md5\n"
                                       "      md5: 0123456789abcdef0123456789abcdef\n")
    found = dvc.tracked(tmp_path / "data" / "features.parquet")
    assert found is not None and found[0].md5.startswith("0123") and found[0].target == "data/features.parquet"

    assert dvc.tracked(tmp_path / "data" / "untracked.csv") is None
    assert dvc.tracked(tmp_path.parent / "elsewhere.csv") is None  # outside any DVC project


def test_dvc_data_keys_the_same_present_or_absent_and_changes_when_edited(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = _dvc_project(tmp_path)
    memo: dict[str, object] = {}
    present = fingerprints([train], memo, _rel(tmp_path))
    assert present == {"data/train.csv": f"dvc-md5:{_md5(TRAIN)}"}
    train.unlink()
    assert fingerprints([train], {}, _rel(tmp_path)) == present  # from the .dvc file: nothing to read
    edited = TRAIN + b"4,1\n"
    train.write_bytes(edited)  # a local edit not yet `dvc add`ed: what is read is what is keyed
    assert fingerprints([train], memo, _rel(tmp_path))["data/train.csv"] == f"dvc-md5:{_md5(edited)}"
    assert "is not the version data/train.csv.dvc records" in capsys.readouterr().err


def test_a_plain_file_keeps_its_sha256_key_and_is_read_once(tmp_path: Path) -> None:
    file = tmp_path / "train.csv"
    file.write_bytes(TRAIN)
    memo: dict[str, object] = {}
    assert fingerprints([file], memo, _rel(tmp_path)) == {"train.csv": hashlib.sha256(TRAIN).hexdigest()}
    memo[str(file)]["sha256"] = "remembered"  # type: ignore[index]
    assert fingerprints([file], memo, _rel(tmp_path)) == {"train.csv": "remembered"}  # (size, mtime) unchanged


def test_a_dvc_folder_as_recorded_is_keyed_by_its_dir_hash(tmp_path: Path) -> None:
    _dvc_project(tmp_path)
    folder = tmp_path / "data" / "raw"
    folder.mkdir()
    parts = {"a.csv": b"x\n1\n", "b.csv": b"x\n2\n"}
    for name, body in parts.items():
        (folder / name).write_bytes(body)
    manifest = [{"md5": _md5(body), "relpath": name} for name, body in parts.items()]
    digest = _md5(json.dumps(manifest).encode()) + ".dir"
    (tmp_path / "data" / "raw.dvc").write_text(f"outs:\n- md5: {digest}\n  hash: md5\n  path: raw\n")
    cache = tmp_path / ".dvc" / "cache" / "files" / "md5" / digest[:2]
    cache.mkdir(parents=True)
    (cache / digest[2:]).write_text(json.dumps(manifest))
    assert fingerprints([folder], {}, _rel(tmp_path)) == {"data/raw": f"dvc-md5:{digest}"}
    (folder / "b.csv").write_bytes(b"x\n3\n")
    changed = fingerprints([folder], {}, _rel(tmp_path))
    assert set(changed) == {"data/raw/a.csv", "data/raw/b.csv"}  # no longer as recorded: per file
    for name in parts:
        (folder / name).unlink()
    folder.rmdir()
    assert fingerprints([folder], {}, _rel(tmp_path)) == {"data/raw": f"dvc-md5:{digest}"}


def test_no_op_inputs_include_the_dvc_record_and_none_for_a_bucket(tmp_path: Path) -> None:
    train = _dvc_project(tmp_path)
    assert local_inputs([train]) == [tmp_path / "data" / "train.csv.dvc", train]
    assert local_inputs([train, "s3://b/test.parquet"]) is None


def test_check_names_the_key_and_what_to_configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = _dvc_project(tmp_path)
    train.unlink()
    check(train, "data.train in mlgate.yaml")  # tracked, a remote is set: pullable when needed
    (tmp_path / ".dvc" / "config").write_text("[core]\n")
    with pytest.raises(DataError, match=r"data.train in mlgate.yaml is .*train.csv.dvc.*no default remote.*"
                                        r"dvc remote add -d"):
        check(train, "data.train in mlgate.yaml")
    with pytest.raises(DataError, match="does not exist .nor does a DVC record of it"):
        check(tmp_path / "nothing.csv", "--data")


@pytest.mark.parametrize(("error", "expected"), [
    (FileNotFoundError("Path does not exist 'b/k'"), "does not exist"),
    (OSError("AWS Error ACCESS_DENIED during HeadObject operation"), "AWS_ACCESS_KEY_ID and AWS_SECRET"),
    (OSError("AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7"), "check AWS_ENDPOINT_URL"),
    (OSError("something else entirely"), "cannot read s3://b/k: something else"),
])
def test_object_store_errors_say_what_to_configure(error: OSError, expected: str) -> None:
    assert expected in explain("s3://b/k", error)
