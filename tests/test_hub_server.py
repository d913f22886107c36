"""Round trips through the real huggingface_hub / datasets / transformers clients against the local Hub server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_server import git_blob_oid, start_hub_server

if TYPE_CHECKING:
    from conftest import Hub

README = """---
configs:
- config_name: cfg_a
  data_files:
  - split: train
    path: cfg_a/train-*.parquet
  - split: test
    path: cfg_a/test-*.parquet
- config_name: cfg_b
  data_files:
  - split: train
    path: cfg_b/*.parquet
---
# Test dataset
"""

CFG_A_TRAIN = {"idx": list(range(50)), "text": [f"row {i}" for i in range(50)], "ids": [[i, i + 1] for i in range(50)]}
CFG_A_TEST = {"idx": [100, 101], "text": ["t0", "t1"], "ids": [[7], [8, 9]]}
CFG_B_TRAIN = {"score": [0.5, 1.5, 2.5]}


def _resolved(hub: Hub, start: int, method: str, suffix: str) -> list[int]:
    """Statuses of the ``method`` requests on ``/resolve/...suffix`` served since request number ``start``."""
    return [
        r.status
        for r in hub.requests[start:]
        if r.method == method and "/resolve/" in r.path and r.path.endswith(suffix)
    ]


def test_environment_points_to_local_hub() -> None:
    """Without the fixture: the libraries use the local endpoint and the temporary caches."""
    from huggingface_hub import constants

    assert constants.ENDPOINT == os.environ["HF_ENDPOINT"]
    assert constants.ENDPOINT.startswith("http://127.0.0.1:")
    assert constants.HF_HUB_CACHE.startswith(os.environ["HF_HOME"])
    assert constants.HF_HUB_DISABLE_XET and constants.HF_HUB_DISABLE_TELEMETRY


def test_dataset_repo_roundtrip(hub: Hub, tmp_path: Path) -> None:
    """Upload parquet configs + README YAML, then load_dataset (regular and streaming) from the Hub."""
    import datasets

    api, repo_id = hub.api, hub.repo_id("ds")
    repo_url = api.create_repo(repo_id, repo_type="dataset")
    assert repo_url.repo_id == repo_id and repo_url.repo_type == "dataset"
    assert api.create_repo(repo_id, repo_type="dataset", exist_ok=True).repo_id == repo_id

    folder = tmp_path / "upload"
    (folder / "cfg_a").mkdir(parents=True)
    (folder / "cfg_b").mkdir()
    pq.write_table(pa.table(CFG_A_TRAIN), folder / "cfg_a" / "train-00000-of-00001.parquet")
    pq.write_table(pa.table(CFG_A_TEST), folder / "cfg_a" / "test-00000-of-00001.parquet")
    pq.write_table(pa.table(CFG_B_TRAIN), folder / "cfg_b" / "train.parquet")
    (folder / "README.md").write_text(README)
    commit = api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="dataset", commit_message="Add data")

    assert [c.title for c in api.list_repo_commits(repo_id, repo_type="dataset")] == ["Add data", "initial commit"]
    assert api.list_repo_commits(repo_id, repo_type="dataset")[0].commit_id == commit.oid
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == [
        ".gitattributes",
        "README.md",
        "cfg_a/test-00000-of-00001.parquet",
        "cfg_a/train-00000-of-00001.parquet",
        "cfg_b/train.parquet",
    ]
    info = api.dataset_info(repo_id, files_metadata=True)
    assert info.sha == commit.oid
    assert [c["config_name"] for c in info.card_data["configs"]] == ["cfg_a", "cfg_b"]
    siblings = {s.rfilename: s for s in info.siblings}
    parquet_bytes = (folder / "cfg_b" / "train.parquet").read_bytes()
    assert siblings["cfg_b/train.parquet"].size == len(parquet_bytes)
    assert siblings["cfg_b/train.parquet"].lfs.sha256 == hashlib.sha256(parquet_bytes).hexdigest()  # LFS file
    assert siblings["README.md"].lfs is None and siblings["README.md"].blob_id == git_blob_oid(README.encode())

    hub.clear_cache()
    start = len(hub.requests)
    loaded = datasets.load_dataset(repo_id, "cfg_a", cache_dir=str(tmp_path / "ds-cache"), token=hub.token)
    assert set(loaded) == {"train", "test"}
    assert loaded["train"].to_dict() == CFG_A_TRAIN
    assert loaded["test"].to_dict() == CFG_A_TEST
    assert _resolved(hub, start, "GET", "cfg_a/train-00000-of-00001.parquet") == [200]
    assert all(r.headers.get("authorization") == f"Bearer {hub.token}" for r in hub.requests[start:])
    assert datasets.load_dataset(repo_id, "cfg_b", split="train", cache_dir=str(tmp_path / "ds-cache"))[:] == (
        CFG_B_TRAIN
    )

    start = len(hub.requests)
    streamed = datasets.load_dataset(repo_id, "cfg_a", streaming=True, token=hub.token)
    assert list(streamed["train"]) == loaded["train"].to_list()
    assert list(streamed["test"]) == loaded["test"].to_list()
    # Streaming reads the parquet files through HfFileSystem, with HTTP range requests.
    assert 206 in _resolved(hub, start, "GET", "cfg_a/train-00000-of-00001.parquet")


def test_model_repo_branches_roundtrip(hub: Hub, tmp_path: Path) -> None:
    """Upload a tiny GPT-2 to main and to a branch, then from_pretrained / snapshot_download each revision."""
    import torch
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    api, repo_id = hub.api, hub.repo_id("gpt2")
    api.create_repo(repo_id)
    config = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=10, n_positions=16, bos_token_id=1, eos_token_id=1)
    models = {}
    for revision, seed in (("main", 0), ("step-10", 1)):
        torch.manual_seed(seed)
        models[revision] = GPT2LMHeadModel(config).eval()
        models[revision].save_pretrained(tmp_path / revision)
    assert not torch.equal(models["main"].transformer.wte.weight, models["step-10"].transformer.wte.weight)

    main_commit = api.upload_folder(folder_path=tmp_path / "main", repo_id=repo_id, commit_message="step 0")
    api.create_branch(repo_id, branch="step-10")
    branch_commit = api.upload_folder(
        folder_path=tmp_path / "step-10", repo_id=repo_id, revision="step-10", commit_message="step 10"
    )
    notes = api.upload_file(
        path_or_fileobj=b"trained for 10 steps\n", path_in_repo="notes/step.txt", repo_id=repo_id, revision="step-10"
    )

    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": main_commit.oid, "step-10": notes.oid}
    assert [c.title for c in api.list_repo_commits(repo_id, revision="step-10")] == [
        "Upload notes/step.txt with huggingface_hub",
        "step 10",
        "step 0",
        "initial commit",
    ]
    assert api.model_info(repo_id).sha == main_commit.oid
    (weights_info,) = api.get_paths_info(repo_id, "model.safetensors")
    main_weights_bytes = (tmp_path / "main" / "model.safetensors").read_bytes()
    assert weights_info.lfs.sha256 == hashlib.sha256(main_weights_bytes).hexdigest()  # uploaded with LFS
    assert api.model_info(repo_id, revision="step-10").sha == notes.oid
    assert branch_commit.oid != main_commit.oid

    hub.clear_cache()
    start = len(hub.requests)
    for revision, expected in models.items():
        kwargs = {} if revision == "main" else {"revision": revision}
        loaded = AutoModelForCausalLM.from_pretrained(repo_id, token=hub.token, **kwargs)
        assert isinstance(loaded, GPT2LMHeadModel)
        for name, tensor in expected.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], tensor), (revision, name)
    assert _resolved(hub, start, "GET", "/model.safetensors") == [200, 200]  # one real download per revision

    snapshot = Path(snapshot_download(repo_id, revision="step-10", cache_dir=tmp_path / "snapshots"))
    assert snapshot.name == notes.oid
    files = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file())
    assert files == [".gitattributes", "config.json", "generation_config.json", "model.safetensors", "notes/step.txt"]
    weights = (tmp_path / "step-10" / "model.safetensors").read_bytes()
    assert (snapshot / "model.safetensors").read_bytes() == weights
    assert (snapshot / "notes" / "step.txt").read_bytes() == b"trained for 10 steps\n"

    main_weights = hf_hub_download(repo_id, "model.safetensors", cache_dir=tmp_path / "single")
    assert Path(main_weights).read_bytes() == main_weights_bytes
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "notes/step.txt", cache_dir=tmp_path / "single")


def test_file_endpoints_and_errors(hub: Hub) -> None:
    """Metadata, tree/paths-info listings, ranged reads, tags, deletions and the Hub error codes."""
    from huggingface_hub import CommitOperationAdd, HfFileSystem, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api, repo_id = hub.api, hub.repo_id("files")
    api.create_repo(repo_id, private=True)
    payload, text = bytes(range(256)) * 8, b"plain text\n"
    operations = [
        CommitOperationAdd(path_in_repo="data/deep/blob.bin", path_or_fileobj=payload),  # LFS (*.bin, binary)
        CommitOperationAdd(path_in_repo="data/notes.txt", path_or_fileobj=text),  # regular
    ]
    commit = api.create_commit(repo_id, operations=operations, commit_message="Add files")
    unchanged = api.upload_file(path_or_fileobj=payload, path_in_repo="data/deep/blob.bin", repo_id=repo_id)
    assert unchanged.oid == commit.oid  # the client skipped the unchanged file (preupload returned its sha256)

    meta = get_hf_file_metadata(hf_hub_url(repo_id, "data/deep/blob.bin"), token=hub.token)
    assert (meta.etag, meta.commit_hash, meta.size) == (hashlib.sha256(payload).hexdigest(), commit.oid, len(payload))
    meta = get_hf_file_metadata(hf_hub_url(repo_id, "data/notes.txt"), token=hub.token)
    assert (meta.etag, meta.size) == (git_blob_oid(text), len(text))

    tree = {entry.path: entry for entry in api.list_repo_tree(repo_id, recursive=True)}
    assert {path: type(entry).__name__ for path, entry in tree.items()} == {
        ".gitattributes": "RepoFile",
        "data": "RepoFolder",
        "data/deep": "RepoFolder",
        "data/deep/blob.bin": "RepoFile",
        "data/notes.txt": "RepoFile",
    }
    assert tree["data/deep/blob.bin"].lfs.sha256 == hashlib.sha256(payload).hexdigest()
    assert tree["data/notes.txt"].lfs is None and tree["data/notes.txt"].blob_id == git_blob_oid(text)
    assert [e.path for e in api.list_repo_tree(repo_id, path_in_repo="data")] == ["data/deep", "data/notes.txt"]
    infos = api.get_paths_info(repo_id, ["data", "data/deep/blob.bin", "missing.txt"], expand=True)
    assert [(i.path, i.last_commit.oid) for i in infos] == [("data", commit.oid), ("data/deep/blob.bin", commit.oid)]

    fs = HfFileSystem(token=hub.token)
    with fs.open(f"{repo_id}/data/deep/blob.bin", "rb", block_size=64) as f:
        f.seek(1000)
        assert f.read(10) == payload[1000:1010]
    assert fs.glob(f"{repo_id}/**/*.bin") == [f"{repo_id}/data/deep/blob.bin"]

    api.create_tag(repo_id, tag="v1")
    api.delete_folder("data", repo_id=repo_id)
    assert api.list_repo_files(repo_id) == [".gitattributes"]
    assert api.list_repo_files(repo_id, revision="v1") == [".gitattributes", "data/deep/blob.bin", "data/notes.txt"]
    assert api.list_repo_refs(repo_id).tags[0].target_commit == commit.oid

    with pytest.raises(RepositoryNotFoundError):
        api.model_info(hub.repo_id("missing"))
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_files(repo_id, revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        get_hf_file_metadata(hf_hub_url(repo_id, "data/deep/blob.bin"))
    with pytest.raises(HfHubHTTPError) as conflict:
        api.create_branch(repo_id, branch="main")
    assert conflict.value.response.status_code == 409


def test_dataset_push_to_hub(hub: Hub) -> None:
    """``Dataset.push_to_hub`` (preupload of LFS shards, then commit) and loading the config back."""
    import datasets

    repo_id = hub.repo_id("pushed")
    rows = {"a": list(range(20)), "b": [f"x{i}" for i in range(20)]}
    datasets.Dataset.from_dict(rows).push_to_hub(repo_id, config_name="c1", token=hub.token, commit_message="Push")
    files = hub.api.list_repo_files(repo_id, repo_type="dataset")
    assert "README.md" in files and any(f.startswith("c1/train-") and f.endswith(".parquet") for f in files)
    hub.clear_cache()
    assert datasets.load_dataset(repo_id, "c1", split="train", token=hub.token)[:] == rows


def test_regular_only_server(tmp_path: Path) -> None:
    """With ``lfs=False`` every file (binary ones included) is committed inline and downloaded intact."""
    from huggingface_hub import HfApi, hf_hub_download

    server, url = start_hub_server(tmp_path / "hub", lfs=False)
    try:
        api = HfApi(endpoint=url, token="any")
        repo_id = api.create_repo("inline", repo_type="dataset").repo_id
        assert repo_id == "test-user/inline"
        pq.write_table(pa.table(CFG_B_TRAIN), tmp_path / "train.parquet")
        data = (tmp_path / "train.parquet").read_bytes()
        api.upload_file(path_or_fileobj=data, path_in_repo="train.parquet", repo_id=repo_id, repo_type="dataset")
        (entry,) = [e for e in api.list_repo_tree(repo_id, repo_type="dataset") if e.path == "train.parquet"]
        assert entry.lfs is None and entry.blob_id == git_blob_oid(data)
        path = hf_hub_download(repo_id, "train.parquet", repo_type="dataset", endpoint=url, cache_dir=tmp_path / "c")
        assert Path(path).read_bytes() == data
        assert [r.status for r in server.requests if r.method == "GET" and r.path.endswith("train.parquet")] == [200]
    finally:
        server.stop()
