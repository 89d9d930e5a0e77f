"""huggingface_hub against the loopback Hub in tests/hub_server.py: uploads, listings, downloads, errors.

These pin down the protocol subset synthface relies on, so a huggingface_hub upgrade
that changes a request shows up here rather than in a user's publish.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx2
import pytest

BIG_SIZE = 10 * 1024 * 1024 + 4096  # just over the Hub's regular-file limit: must travel as LFS


def _folder(root: Path) -> dict[str, bytes]:
    files = {
        "notes.txt": b"plain text, a regular git blob\n",
        "weights/model.safetensors": os.urandom(3000),  # LFS by the default .gitattributes
        "big.dat": os.urandom(BIG_SIZE),  # LFS because of its size
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


@pytest.fixture
def uploaded(hub_server, tmp_path):
    """A model repo with one regular and two LFS files in one commit."""
    from huggingface_hub import HfApi

    folder = tmp_path / "upload"
    files = _folder(folder)
    api = HfApi()
    api.create_repo("user/proto", exist_ok=True)
    commit = api.upload_folder(folder_path=folder, repo_id="user/proto", commit_message="add files")
    return api, files, commit


def test_upload_sends_big_and_binary_files_through_lfs(hub_server, uploaded):
    api, files, commit = uploaded
    head = hub_server.store.repos[("model", "user/proto")].resolve("main")
    assert head.sha == commit.oid and head.title == "add files"
    assert {p: e.lfs for p, e in head.files.items() if p in files} == {
        "notes.txt": False, "weights/model.safetensors": True, "big.dat": True
    }
    for path, data in files.items():
        assert hub_server.store.read_blob(head.files[path].sha256) == data
    assert hub_server.unknown_requests == []


def test_create_repo_is_idempotent_and_keeps_the_private_flag(hub_server):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    api = HfApi()
    first = api.create_repo("user/secret", repo_type="dataset", private=True)
    again = api.create_repo("user/secret", repo_type="dataset", private=True, exist_ok=True)
    assert first == again == f"{hub_server.url}/datasets/user/secret"
    assert api.dataset_info("user/secret").private is True
    with pytest.raises(RepositoryNotFoundError):  # anonymous readers cannot see it at all
        HfApi(token=False).dataset_info("user/secret")
    assert api.whoami()["name"] == "user"


def test_tree_listing_pages_and_reports_lfs(hub_server, uploaded):
    api, files, _ = uploaded
    hub_server.httpd.page_size = 2  # force several pages, followed through the Link header
    entries = {e.path: e for e in api.list_repo_tree("user/proto", recursive=True, expand=True)}
    assert set(entries) == {".gitattributes", "notes.txt", "big.dat", "weights", "weights/model.safetensors"}
    big = entries["big.dat"]
    assert big.size == BIG_SIZE and big.lfs.sha256 == hashlib.sha256(files["big.dat"]).hexdigest()
    assert entries["notes.txt"].lfs is None and entries["notes.txt"].last_commit.title == "add files"
    top = [e.path for e in api.list_repo_tree("user/proto")]
    assert sorted(top) == [".gitattributes", "big.dat", "notes.txt", "weights"]
    infos = api.get_paths_info("user/proto", ["notes.txt", "weights", "missing.txt"])
    assert [i.path for i in infos] == ["notes.txt", "weights"]


def test_downloads_match_and_revisions_pin_content(hub_server, uploaded, tmp_path):
    from huggingface_hub import hf_hub_download, snapshot_download

    api, files, first = uploaded
    assert Path(hf_hub_download("user/proto", "big.dat")).read_bytes() == files["big.dat"]
    snapshot = Path(snapshot_download("user/proto"))
    for path, data in files.items():
        assert (snapshot / path).read_bytes() == data

    api.upload_file(path_or_fileobj=b"second version\n", path_in_repo="notes.txt", repo_id="user/proto")
    assert api.model_info("user/proto").sha != first.oid
    assert api.model_info("user/proto", revision=first.oid).sha == first.oid
    old = hf_hub_download("user/proto", "notes.txt", revision=first.oid, cache_dir=tmp_path / "c")
    new = hf_hub_download("user/proto", "notes.txt", cache_dir=tmp_path / "c")
    assert Path(old).read_bytes() == files["notes.txt"] and Path(new).read_bytes() == b"second version\n"
    assert [c.title for c in api.list_repo_commits("user/proto")][:2] == [
        "Upload notes.txt with huggingface_hub", "add files"
    ]


def test_resolve_headers_head_and_ranges(hub_server, uploaded):
    from huggingface_hub import get_hf_file_metadata

    api, files, commit = uploaded
    data = files["weights/model.safetensors"]
    url = hub_server.file_url("user/proto", "weights/model.safetensors")
    meta = get_hf_file_metadata(url)
    expected = (commit.oid, hashlib.sha256(data).hexdigest(), len(data))
    assert (meta.commit_hash, meta.etag, meta.size) == expected

    with httpx2.Client() as client:
        head = client.head(url)
        assert head.headers["X-Linked-Size"] == head.headers["Content-Length"] == str(len(data))
        assert head.content == b""
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        assert client.get(url, headers={"Range": "bytes=-10"}).content == data[-10:]
        assert client.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
        regular = client.head(hub_server.file_url("user/proto", "notes.txt"))
        assert "X-Linked-Etag" not in regular.headers and regular.headers["X-Repo-Commit"] == commit.oid

    from huggingface_hub import HfFileSystem

    with HfFileSystem().open("user/proto/weights/model.safetensors", "rb", block_size=256) as handle:
        handle.seek(1000)
        assert handle.read(500) == data[1000:1500]


def test_missing_things_raise_the_hub_errors(hub_server, uploaded):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api, _, _ = uploaded
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("user/nothing-here")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("user/proto", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("user/proto", "no/such/file.txt")
    with pytest.raises(HfHubHTTPError) as refused:
        api.whoami(token="hf_wrong")
    assert refused.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as forbidden:
        api.create_repo("someone-else/repo")
    assert forbidden.value.response.status_code == 403


def test_invalid_readme_yaml_is_refused(hub_server, tmp_path):
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo("user/bad-card", repo_type="dataset")
    with pytest.raises(ValueError, match="configs"):
        api.upload_file(
            path_or_fileobj=b"---\nconfigs: not-a-list\n---\n# card\n",
            path_in_repo="README.md",
            repo_id="user/bad-card",
            repo_type="dataset",
        )
    assert [e.path for e in api.list_repo_tree("user/bad-card", repo_type="dataset")] == [".gitattributes"]


def test_loopback_guard_blocks_other_hosts(monkeypatch):
    import socket

    from hub_server import _loopback_only

    blocked: list[str] = []
    _loopback_only(monkeypatch, blocked)
    with pytest.raises(OSError, match="blocked"):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(OSError, match="blocked"), socket.socket() as sock:
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet leaves
    assert blocked == ["DNS huggingface.co", "connect 192.0.2.1"]
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_constants_are_restored_after_a_hub_test():
    import datasets.config
    import huggingface_hub.constants

    # Runs after the tests above (file order): the fixture must have undone its reloads.
    assert "127.0.0.1" not in huggingface_hub.constants.ENDPOINT
    assert "127.0.0.1" not in datasets.config.HF_ENDPOINT
    assert datasets.config.USE_PARQUET_EXPORT is True
