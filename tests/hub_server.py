"""A loopback server that speaks the Hugging Face Hub's HTTP protocol, for tests.

Tests must never contact anything but 127.0.0.1, yet publishing and loading from
the Hub is a feature our users rely on. This module serves the subset of the
Hub's API that `huggingface_hub` (with ``HF_HUB_DISABLE_XET=1``, so uploads use
plain git-LFS) and `datasets` actually call, with the Hub's own response shapes
and error headers, so the real client code runs unmodified against it.

Repos live in a temporary folder: file contents are content-addressed blobs and
every commit is a full snapshot with a sha1 id, so revisions (branch names and
commit ids) work. Requests without a handler are logged at WARNING and recorded
in `HubServer.unknown_requests`, and answered 501 with the route in the message,
so a client flow that needs a new endpoint fails loudly and says which.

Use the `hub_server` fixture (``pytest_plugins = ["hub_server"]`` in a test module
or in tests/conftest.py): it starts the server on a free port, points the clients
at it and refuses any connection to a non-loopback address while the test runs.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
import yaml

log = logging.getLogger("hub_server")

DEFAULT_TOKEN = "hf_synthface_test_token"
DEFAULT_USER = "user"
REGULAR_FILE_MAX_BYTES = 10 * 1024 * 1024  # the Hub refuses larger regular (non-LFS) files
LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}

# What the Hub writes into a new repo's first commit: binary formats go to LFS.
LFS_PATTERNS = [
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
    "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
    "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*",
    "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*",
    "*.png", "*.jpg", "*.jpeg", "*.webp", "*.gif", "*.mp3", "*.wav", "*.flac", "*.mp4",
]
INITIAL_GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)


class HubError(Exception):
    """An error the Hub reports with a status, an `X-Error-Code` and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob, as the Hub reports it for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass(frozen=True)
class FileEntry:
    """One file at one commit: its content is the blob `sha256` in the store."""

    size: int
    sha256: str
    lfs: bool
    git_oid: str

    @property
    def pointer_size(self) -> int:
        return len(LFS_POINTER_TEMPLATE.format(oid=self.sha256, size=self.size))


@dataclass
class Commit:
    sha: str
    parent: str | None
    title: str
    description: str
    date: str
    files: dict[str, FileEntry]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    @property
    def url_path(self) -> str:
        return URL_PREFIXES[self.repo_type] + self.repo_id

    def resolve(self, revision: str) -> Commit:
        """A branch name or a full commit id -> that commit (RevisionNotFound otherwise)."""
        sha = self.branches.get(revision, revision if revision in self.commits else None)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[sha]

    def history(self, commit: Commit) -> Iterator[Commit]:
        current: Commit | None = commit
        while current is not None:
            yield current
            current = self.commits.get(current.parent) if current.parent else None


class HubStore:
    """Repos, commits and content-addressed blobs under one folder; thread-safe."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lock = threading.RLock()

    # -- blobs -------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256

    def has_blob(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def put_blob(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha256)
        if not path.exists():
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return sha256

    def read_blob(self, sha256: str) -> bytes:
        return self.blob_path(sha256).read_bytes()

    # -- repos -------------------------------------------------------------------------------------
    def get_repo(self, repo_type: str, repo_id: str, user: str | None) -> Repo:
        """The repo if `user` may read it; RepoNotFound otherwise (the Hub hides private repos)."""
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and repo_id.split("/")[0] != user):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> Repo:
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                raise HubError(409, f"You already created this {repo_type} repo")
            repo = Repo(repo_type, repo_id, private, created=_now())
            self.repos[(repo_type, repo_id)] = repo
            gitattributes = self.file_entry(INITIAL_GITATTRIBUTES.encode())
            self.commit(repo, "main", "initial commit", "", {".gitattributes": gitattributes})
            return repo

    def file_entry(self, data: bytes, lfs: bool = False) -> FileEntry:
        sha256 = self.put_blob(data)
        if lfs:
            return self.lfs_entry(sha256, len(data))
        return FileEntry(len(data), sha256, False, git_blob_oid(data))

    @staticmethod
    def lfs_entry(sha256: str, size: int) -> FileEntry:
        pointer = LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode()
        return FileEntry(size, sha256, True, git_blob_oid(pointer))

    def commit(
        self, repo: Repo, branch: str, title: str, description: str, files: dict[str, FileEntry]
    ) -> Commit:
        """Record a snapshot on `branch`; its id hashes parent, tree and message like a git commit."""
        with self.lock:
            parent = repo.branches.get(branch)
            date = _now()
            tree = json.dumps({p: e.git_oid for p, e in sorted(files.items())})
            text = f"{parent}\n{tree}\n{title}\n{description}\n{date}\n{len(repo.commits)}"
            sha = hashlib.sha1(text.encode())
            commit = Commit(sha.hexdigest(), parent, title, description, date, dict(files))
            repo.commits[commit.sha] = commit
            repo.branches[branch] = commit.sha
            return commit


# --------------------------------------------------------------------------------------------------
# Tree helpers shared by the tree, paths-info and info endpoints
# --------------------------------------------------------------------------------------------------
def _folders_of(files: dict[str, FileEntry]) -> set[str]:
    folders = set()
    for path in files:
        parts = path.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def _folder_oid(files: dict[str, FileEntry], folder: str) -> str:
    inside = sorted((p, e.git_oid) for p, e in files.items() if p.startswith(folder + "/"))
    return hashlib.sha1(json.dumps(inside).encode()).hexdigest()


def _last_commit_touching(repo: Repo, commit: Commit, path: str) -> Commit:
    """The newest commit in `commit`'s history that changed `path` (a file, or anything under a folder)."""

    def state(c: Commit) -> list:
        return sorted((p, e.git_oid) for p, e in c.files.items() if p == path or p.startswith(path + "/"))

    newest = commit
    for older in list(repo.history(commit))[1:]:
        if state(older) != state(newest):
            return newest
        newest = older
    return newest


def _path_info(repo: Repo, commit: Commit, path: str, expand: bool) -> dict[str, Any]:
    """One entry as the tree and paths-info endpoints return it."""
    entry = commit.files.get(path)
    if entry is not None:
        info: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": path}
        if entry.lfs:
            info["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    else:
        info = {"type": "directory", "oid": _folder_oid(commit.files, path), "size": 0, "path": path}
    if expand:
        last = _last_commit_touching(repo, commit, path)
        info["lastCommit"] = {"id": last.sha, "title": last.title, "date": last.date}
    return info


def _card_data(store: HubStore, commit: Commit) -> dict[str, Any] | None:
    """The YAML block at the top of README.md, which the Hub returns as `cardData`."""
    readme = commit.files.get("README.md")
    if readme is None:
        return None
    try:
        metadata, _ = _split_front_matter(store.read_blob(readme.sha256).decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return metadata if isinstance(metadata, dict) else None


def _split_front_matter(text: str) -> tuple[Any, str]:
    match = re.match(r"^---\s*\n(.*?)\n---\s*(?:\n|$)", text, flags=re.DOTALL)
    if match is None:
        return None, text
    return yaml.safe_load(match.group(1)), text[match.end() :]


def _validate_card_metadata(metadata: Any, repo_type: str) -> list[str]:
    """The checks the Hub applies to README YAML that matter to us; returns error messages."""
    if not isinstance(metadata, dict):
        return ["YAML metadata must be a mapping"]
    errors = []
    for key in ("tags", "language", "task_categories", "size_categories", "annotations_creators"):
        value = metadata.get(key)
        if value is not None and not (isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )):
            errors.append(f'"{key}" must be a string or a list of strings')
    if "license" in metadata and not isinstance(metadata["license"], (str, list)):
        errors.append('"license" must be a string')
    configs = metadata.get("configs")
    if configs is not None:
        if repo_type != "dataset":
            errors.append('"configs" is only allowed in dataset cards')
        elif not isinstance(configs, list) or not all(
            isinstance(c, dict) and isinstance(c.get("config_name"), str) for c in configs
        ):
            errors.append('"configs" must be a list of mappings, each with a "config_name"')
    return errors


def _gitattributes_lfs_patterns(store: HubStore, commit: Commit) -> list[str]:
    entry = commit.files.get(".gitattributes")
    if entry is None:
        return []
    patterns = []
    for line in store.read_blob(entry.sha256).decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) > 1 and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def _is_lfs_path(path: str, patterns: list[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in p else name, p) for p in patterns)


# --------------------------------------------------------------------------------------------------
# HTTP handler
# --------------------------------------------------------------------------------------------------
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_TYPED = r"(?P<kind>models|datasets|spaces)"
_PREFIX = r"(?:(?P<kind>datasets|spaces)/)?"
Route = tuple[str, re.Pattern[str], str]
ROUTES: list[Route] = [
    ("GET", re.compile(r"^/api/whoami-v2$"), "whoami"),
    ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
    ("DELETE", re.compile(r"^/api/repos/delete$"), "delete_repo"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("GET", re.compile(rf"^/api/{_TYPED}/{_REPO}(?:/revision/(?P<rev>[^/]+))?$"), "repo_info"),
    ("GET", re.compile(rf"^/api/{_TYPED}/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$"), "tree"),
    ("POST", re.compile(rf"^/api/{_TYPED}/{_REPO}/paths-info/(?P<rev>[^/]+)$"), "paths_info"),
    ("POST", re.compile(rf"^/api/{_TYPED}/{_REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/{_TYPED}/{_REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("GET", re.compile(rf"^/api/{_TYPED}/{_REPO}/refs$"), "refs"),
    ("GET", re.compile(rf"^/api/{_TYPED}/{_REPO}/commits/(?P<rev>[^/]+)$"), "commits"),
    ("POST", re.compile(rf"^/{_PREFIX}{_REPO}\.git/info/lfs/objects/batch$"), "lfs_batch"),
    ("PUT", re.compile(r"^/_lfs/(?P<oid>[0-9a-f]{64})$"), "lfs_upload"),
    ("POST", re.compile(r"^/_lfs/(?P<oid>[0-9a-f]{64})/verify$"), "lfs_verify"),
    ("GET", re.compile(rf"^/{_PREFIX}{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
    ("HEAD", re.compile(rf"^/{_PREFIX}{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
]


class HubRequestHandler(BaseHTTPRequestHandler):
    """Dispatches each request to `handle_<name>` by the first route whose method and path match."""

    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects; every response carries Content-Length
    server: HubHTTPServer

    # -- plumbing ----------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.body = self._read_body()
        self.extra_headers: dict[str, str] = {}
        try:
            self.user = self._authenticated_user()
            for method, pattern, name in ROUTES:
                match = pattern.match(split.path)
                if match and method == self.command:
                    groups = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    getattr(self, f"handle_{name}")(**groups)
                    return
            self.server.record_unknown(self.command, self.path)
            raise HubError(501, f"hub_server has no handler for {self.command} {split.path}")
        except HubError as err:
            self._send_error(err)
        except Exception as err:  # a bug here must reach the test as a 500 with the reason, not a hang
            log.exception("hub_server failed on %s %s", self.command, self.path)
            self._send_error(HubError(500, f"hub_server internal error: {err!r}"))

    def _read_body(self) -> bytes:
        """Read the request body, plain or chunked (httpx streams file uploads chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailer lines until the blank one
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticated_user(self) -> str | None:
        """The user behind the bearer token; a token the server does not know is refused like the Hub does."""
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        token = auth.split(None, 1)[1].strip()
        user = self.server.tokens.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _require_user(self) -> str:
        if self.user is None:
            raise HubError(401, "You must be authenticated to do this")
        return self.user

    def _require_write(self, repo_id: str) -> str:
        user = self._require_user()
        if repo_id.split("/")[0] != user:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return user

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{self.headers.get('Host') or f'{host}:{port}'}"

    def _json_body(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except json.JSONDecodeError as err:
            raise HubError(400, f"Invalid JSON body: {err}") from err

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)

    def _send_error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message, **err.headers}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send_json({"error": err.message}, status=err.status, headers=headers)

    def _repo(self, kind: str | None, repo: str) -> Repo:
        # `kind` is "datasets" in URLs, "dataset" in create/delete payloads, None for models
        repo_type = REPO_TYPES.get(kind or "models", kind or "model")
        return self.server.store.get_repo(repo_type, repo, self.user)

    # -- account -----------------------------------------------------------------------------------
    def handle_whoami(self) -> None:
        """`HfApi.whoami()`: who owns the bearer token (used to check a token before publishing)."""
        user = self._require_user()
        self._send_json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
            }
        )

    # -- repos -------------------------------------------------------------------------------------
    def handle_create_repo(self) -> None:
        """`HfApi.create_repo()`: 200 with the url, or 409 (still with the url) if it exists."""
        payload = self._json_body() or {}
        name, organization = payload.get("name"), payload.get("organization")
        repo_type = payload.get("type") or "model"
        user = self._require_user()
        repo_id = f"{organization or user}/{name}"
        if repo_type not in URL_PREFIXES or not name or not re.fullmatch(r"[\w.-]+", name):
            raise HubError(400, f"Invalid repo name or type: {repo_id!r} ({repo_type})")
        self._require_write(repo_id)
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        url = f"{self._base_url()}/{URL_PREFIXES[repo_type]}{repo_id}"
        try:
            self.server.store.create_repo(repo_type, repo_id, private)
        except HubError as err:
            self._send_json({"error": err.message, "url": url}, status=err.status)
            return
        self._send_json({"url": url, "name": repo_id, "id": hashlib.sha1(url.encode()).hexdigest()[:24]})

    def handle_delete_repo(self) -> None:
        """`HfApi.delete_repo()`."""
        payload = self._json_body() or {}
        repo_id = f"{payload.get('organization') or self._require_user()}/{payload.get('name')}"
        self._require_write(repo_id)
        repo = self._repo(payload.get("type", "model"), repo_id)
        with self.server.store.lock:
            del self.server.store.repos[(repo.repo_type, repo.repo_id)]
        self._send_json({})

    def handle_validate_yaml(self) -> None:
        """`HfApi.create_commit()` posts README.md here first; 400 with `errors` stops the commit."""
        payload = self._json_body() or {}
        try:
            metadata, _ = _split_front_matter(payload.get("content", ""))
        except yaml.YAMLError as err:
            self._send_json({"errors": [{"message": f"Invalid YAML: {err}"}]}, status=400)
            return
        if metadata is None:
            self._send_json({"warnings": [{"message": "empty or missing yaml metadata in repo card"}]})
            return
        errors = _validate_card_metadata(metadata, payload.get("repoType") or "model")
        if errors:
            self._send_json({"errors": [{"message": e} for e in errors]}, status=400)
            return
        self._send_json({"warnings": []})

    def handle_repo_info(self, kind: str, repo: str, rev: str = "main") -> None:
        """`HfApi.model_info/dataset_info/repo_info` (snapshot_download, datasets, HfFileSystem)."""
        r = self._repo(kind, repo)
        commit = r.resolve(rev)
        blobs = self.query.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for path, entry in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.git_oid)
                if entry.lfs:
                    sibling["lfs"] = {
                        "size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size
                    }
            siblings.append(sibling)
        card = _card_data(self.server.store, commit)
        tags = card.get("tags") if card else None
        info = {
            "_id": hashlib.sha1(r.url_path.encode()).hexdigest()[:24],
            "id": r.repo_id,
            "author": r.repo_id.split("/")[0],
            "sha": commit.sha,
            "private": r.private,
            "gated": False,
            "disabled": False,
            "createdAt": r.created,
            "lastModified": commit.date,
            "tags": tags if isinstance(tags, list) else [],
            "cardData": card,
            "siblings": siblings,
            "downloads": 0,
            "likes": 0,
        }
        if r.repo_type == "model" and card:
            info["library_name"] = card.get("library_name")
        self._send_json(info)

    def handle_refs(self, kind: str, repo: str) -> None:
        """`HfApi.list_repo_refs()`."""
        r = self._repo(kind, repo)
        branches = [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
            for name, sha in sorted(r.branches.items())
        ]
        self._send_json({"branches": branches, "converts": [], "tags": []})

    def handle_commits(self, kind: str, repo: str, rev: str) -> None:
        """`HfApi.list_repo_commits()` (and HfFileSystem's last-commit lookups)."""
        r = self._repo(kind, repo)
        commits = [
            {"id": c.sha, "title": c.title, "message": c.description, "date": c.date,
             "authors": [{"user": r.repo_id.split("/")[0]}]}
            for c in r.history(r.resolve(rev))
        ]
        self._send_json(commits)

    # -- listing -----------------------------------------------------------------------------------
    def handle_tree(self, kind: str, repo: str, rev: str, path: str = "") -> None:
        """`HfApi.list_repo_tree()` (snapshot_download, HfFileSystem.ls/glob/find): paged by a Link header."""
        r = self._repo(kind, repo)
        commit = r.resolve(rev)
        path = path.strip("/")
        folders = _folders_of(commit.files)
        if path and path not in folders:
            if path in commit.files:  # the Hub answers a file path with the file's own entry
                self._send_json([_path_info(r, commit, path, False)])
                return
            raise HubError(404, f"{path} does not exist on \"{rev}\"", "EntryNotFound")
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        expand = self.query.get("expand", "").lower() in ("1", "true")
        prefix = path + "/" if path else ""
        children = [
            p for p in sorted(set(commit.files) | folders)
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])
        ]
        # folders first, like the Hub, then files
        children.sort(key=lambda p: (p in commit.files, p))
        start = int(self.query.get("cursor") or 0)
        page = children[start : start + self.server.page_size]
        headers = {}
        if start + self.server.page_size < len(children):
            query = dict(self.query, cursor=str(start + self.server.page_size))
            next_url = f"{self._base_url()}{urlsplit(self.path).path}?{urlencode(query)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json([_path_info(r, commit, p, expand) for p in page], headers=headers)

    def handle_paths_info(self, kind: str, repo: str, rev: str) -> None:
        """`HfApi.get_paths_info()` (HfFileSystem.info): form-encoded `paths`; missing paths are left out."""
        r = self._repo(kind, repo)
        commit = r.resolve(rev)
        form = parse_qs(self.body.decode(), keep_blank_values=True)
        expand = (form.get("expand") or ["false"])[-1].lower() in ("1", "true")
        folders = _folders_of(commit.files)
        infos = [
            _path_info(r, commit, p.strip("/"), expand)
            for p in form.get("paths", [])
            if p.strip("/") in commit.files or p.strip("/") in folders
        ]
        self._send_json(infos)

    # -- uploads -----------------------------------------------------------------------------------
    def handle_preupload(self, kind: str, repo: str, rev: str) -> None:
        """`_fetch_upload_modes` (create_commit, upload_folder): regular or LFS per file, and remote oid."""
        self._require_write(repo)
        r = self._repo(kind, repo)
        commit = r.resolve(rev)
        patterns = _gitattributes_lfs_patterns(self.server.store, commit)
        files = []
        for f in (self._json_body() or {}).get("files", []):
            sample = base64.b64decode(f.get("sample", ""))
            lfs = f["size"] > REGULAR_FILE_MAX_BYTES or b"\0" in sample or _is_lfs_path(f["path"], patterns)
            remote = commit.files.get(f["path"])
            oid = None if remote is None else (remote.sha256 if remote.lfs else remote.git_oid)
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        self._send_json({"files": files, "commitOid": commit.sha})

    def handle_lfs_batch(self, repo: str, kind: str | None = None) -> None:
        """git-LFS batch API (`post_lfs_batch_info`): where to PUT each object, nothing if already stored."""
        self._require_write(repo)
        self._repo(kind, repo)
        payload = self._json_body() or {}
        if payload.get("operation") != "upload":
            raise HubError(400, f"Unsupported LFS operation {payload.get('operation')!r}")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], obj["size"]
            entry: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if not self.server.store.has_blob(oid):
                href = f"{self._base_url()}/_lfs/{oid}"
                entry["actions"] = {
                    "upload": {"href": href, "expires_at": "2099-01-01T00:00:00Z"},
                    "verify": {"href": f"{href}/verify", "expires_at": "2099-01-01T00:00:00Z"},
                }
            objects.append(entry)
        self._send_json({"transfer": "basic", "objects": objects}, headers={
            "Content-Type": "application/vnd.git-lfs+json"})

    def handle_lfs_upload(self, oid: str) -> None:
        """The basic-transfer PUT (`lfs_upload`): the body must hash to the oid it is stored under."""
        if hashlib.sha256(self.body).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match sha256 {oid}")
        self.server.store.put_blob(self.body)
        self._send(200, b"", "text/plain")

    def handle_lfs_verify(self, oid: str) -> None:
        """The LFS verify step after an upload: the object must be stored with the announced size."""
        size = (self._json_body() or {}).get("size")
        path = self.server.store.blob_path(oid)
        if not path.is_file() or path.stat().st_size != size:
            raise HubError(404, f"LFS object {oid} of size {size} not found", "EntryNotFound")
        self._send_json({"success": True})

    def handle_commit(self, kind: str, repo: str, rev: str) -> None:
        """`create_commit` / `upload_folder`: NDJSON with a header, then file/lfsFile/deleted* lines."""
        self._require_write(repo)
        r = self._repo(kind, repo)
        if self.query.get("create_pr"):
            raise HubError(501, "hub_server does not support create_pr")
        store = self.server.store
        with store.lock:
            head = r.resolve(rev)
            if rev not in r.branches:
                raise HubError(400, f"Can only commit to a branch, not to {rev}", "RevisionNotFound")
            files = dict(head.files)
            header: dict[str, Any] | None = None
            for line in self.body.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item.get("key"), item.get("value", {})
                if key == "header":
                    header = value
                    parent = value.get("parentCommit")
                    if parent is not None and parent != head.sha:
                        raise HubError(412, f"Parent commit {parent} is not the head of {rev} ({head.sha})")
                elif key == "file":
                    content = value["content"]
                    is_base64 = value.get("encoding") == "base64"
                    data = base64.b64decode(content) if is_base64 else content.encode()
                    if len(data) > REGULAR_FILE_MAX_BYTES:
                        raise HubError(400, f"{value['path']} is larger than 10MB: upload it with LFS")
                    files[value["path"]] = store.file_entry(data)
                elif key == "lfsFile":
                    oid = value["oid"]
                    if not store.has_blob(oid):
                        raise HubError(400, f"LFS object {oid} for {value['path']} was never uploaded")
                    files[value["path"]] = store.lfs_entry(oid, store.blob_path(oid).stat().st_size)
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        message = f"A file with this name doesn't exist: {value['path']}"
                        raise HubError(404, message, "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    for path in [p for p in files if p.startswith(prefix)]:
                        del files[path]
                else:
                    raise HubError(400, f"Unknown commit operation {key!r}")
            if header is None:
                raise HubError(400, "The commit payload must start with a header line")
            commit = store.commit(r, rev, header.get("summary") or "", header.get("description") or "", files)
        self._send_json({
            "success": True,
            "commitOid": commit.sha,
            "commitUrl": f"{self._base_url()}/{r.url_path}/commit/{commit.sha}",
            "hookOutput": "",
            "pullRequestUrl": None,
        })

    # -- downloads ---------------------------------------------------------------------------------
    def handle_resolve(self, repo: str, rev: str, path: str, kind: str | None = None) -> None:
        """`hf_hub_download` (HEAD, then GET), HfFileSystem reads (Range requests), datasets' file access."""
        r = self._repo(kind, repo)
        commit = r.resolve(rev)
        self.extra_headers["X-Repo-Commit"] = commit.sha
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, "Entry not found", "EntryNotFound", headers={"X-Repo-Commit": commit.sha})
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{entry.git_oid}"'}
        if entry.lfs:  # the Hub answers LFS files with the content's sha256 as linked ETag
            headers.update({"ETag": f'"{entry.sha256}"', "X-Linked-Etag": f'"{entry.sha256}"',
                            "X-Linked-Size": str(entry.size)})
        data = self.server.store.read_blob(entry.sha256)
        byte_range = self.headers.get("Range")
        if byte_range is None:
            self._send(200, data, "application/octet-stream", headers)
            return
        span = _parse_range(byte_range, len(data))
        if span is None:
            raise HubError(416, f"Range not satisfiable: {byte_range}", headers={
                "Content-Range": f"bytes */{len(data)}"})
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(206, data[start : end + 1], "application/octet-stream", headers)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range -> inclusive (start, end); None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end and start < size else None


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: HubStore, tokens: dict[str, str], page_size: int):
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.store, self.tokens, self.page_size = store, tokens, page_size
        self.unknown_requests: list[str] = []

    def record_unknown(self, method: str, path: str) -> None:
        log.warning("hub_server: no handler for %s %s (add one in tests/hub_server.py)", method, path)
        self.unknown_requests.append(f"{method} {path}")


class HubServer:
    """A running loopback Hub: `url`, `token`, `user`, and the `store` to inspect."""

    def __init__(self, root: Path, page_size: int = 50):
        self.token, self.user = DEFAULT_TOKEN, DEFAULT_USER
        self.store = HubStore(root)
        self.httpd = HubHTTPServer(self.store, {self.token: self.user}, page_size)
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="hub_server", daemon=True
        )

    @property
    def unknown_requests(self) -> list[str]:
        return self.httpd.unknown_requests

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def add_token(self, token: str, user: str) -> None:
        self.httpd.tokens[token] = user

    def file_url(self, repo_id: str, path: str, revision: str = "main", repo_type: str = "model") -> str:
        rev = quote(revision, safe="")
        return f"{self.url}/{URL_PREFIXES[repo_type]}{repo_id}/resolve/{rev}/{quote(path)}"


# --------------------------------------------------------------------------------------------------
# Pointing the clients at the server
# --------------------------------------------------------------------------------------------------
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", None, ""}


def _loopback_only(monkeypatch: pytest.MonkeyPatch, blocked: list[str]) -> None:
    """Refuse DNS look-ups and connections to anything but loopback, recording each attempt.

    A constant we failed to redirect would otherwise send a test's request to the
    real Hub (or a DNS server); this turns that into an immediate, named failure.
    """
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOOPBACK_HOSTS and not str(name).startswith("127."):
            blocked.append(f"DNS {name}")
            raise OSError(f"hub_server fixture: blocked a look-up of {name!r}; only 127.0.0.1 is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in _LOOPBACK_HOSTS and not str(host).startswith("127."):
                blocked.append(f"connect {host}")
                raise OSError(f"hub_server fixture: blocked a connection to {host!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@dataclass
class _ModuleSnapshot:
    module: Any
    saved: dict[str, Any]

    def restore(self) -> None:
        self.module.__dict__.clear()
        self.module.__dict__.update(self.saved)


def _reload_under_env(module: Any) -> _ModuleSnapshot:
    """Re-run a constants module under the current environment; the snapshot undoes it.

    huggingface_hub (`constants`) and datasets (`config`) read HF_ENDPOINT, HF_HOME,
    HF_HUB_DISABLE_XET... once, at import. Re-executing those two modules in place
    recomputes every derived value (URL templates, cache and token paths) from the
    patched environment, and every caller that reads `constants.X` / `config.X` at
    call time (which is how both libraries use them) sees the new values. Listing
    the names one by one would silently miss the next derived constant a release adds.
    """
    import importlib

    snapshot = _ModuleSnapshot(module, dict(module.__dict__))
    importlib.reload(module)
    return snapshot


@pytest.fixture
def hub_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A fresh loopback Hub for one test, with huggingface_hub and datasets pointed at it.

    Sets HF_ENDPOINT, HF_HUB_DISABLE_XET=1, HF_HOME, HF_DATASETS_CACHE and HF_TOKEN to
    temporary values, re-evaluates the libraries' import-time constants under them,
    and blocks every non-loopback connection while the test runs.
    """
    # Import before touching the environment, so the snapshots below hold the user's values.
    import datasets.config
    import huggingface_hub.constants
    import huggingface_hub.hf_api
    from huggingface_hub import HfFileSystem

    server_root = Path(tempfile.mkdtemp(prefix="hub-server-", dir=tmp_path))
    server = HubServer(server_root).start()
    home = tmp_path / "hf-home"
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_DATASETS_CACHE": str(home / "datasets"),
        "HF_TOKEN": server.token,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE"):
        monkeypatch.delenv(key, raising=False)

    snapshots = [_reload_under_env(huggingface_hub.constants), _reload_under_env(datasets.config)]
    # The dataset-viewer API lives on another host; datasets would ask it for parquet exports.
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)
    # `huggingface_hub.create_repo` & co. are bound to an HfApi built at import time.
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", server.url)
    blocked: list[str] = []
    _loopback_only(monkeypatch, blocked)
    HfFileSystem.clear_instance_cache()
    try:
        yield server
    finally:
        HfFileSystem.clear_instance_cache()
        for snapshot in reversed(snapshots):
            snapshot.restore()
        server.stop()
        shutil.rmtree(server_root, ignore_errors=True)
    if blocked:
        pytest.fail(f"the test tried to reach non-loopback addresses: {sorted(set(blocked))}")


__all__ = ["HubServer", "HubStore", "git_blob_oid", "hub_server"]
