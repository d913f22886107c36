"""Minimal Hugging Face Hub-compatible HTTP server for offline tests.

The server speaks the subset of the Hub HTTP API that ``huggingface_hub`` 2.x, ``datasets`` and
``transformers`` use to create repos, commit files, manage branches/tags, list trees and download files.
Only the standard library is used (plus PyYAML, already a dependency, to expose README metadata).

Storage layout (under ``root_dir``)::

    {repo_type}s/{namespace}/{name}/
        meta.json               # {"private": bool, "createdAt": iso-date}
        refs.json               # {"branches": {name: sha}, "tags": {name: sha}}
        commits/{sha}.json      # {"id", "parents", "tree", "title", "message", "date", "author", "files"}
        objects/{oid[:2]}/{oid} # regular files, addressed by their git blob oid
        lfs/{sha[:2]}/{sha256}  # LFS files, addressed by their sha256

Commit, tree and blob ids are real git object ids (SHA-1 of the git object encoding; for LFS files, of the LFS
pointer file), so they are 40 hex chars like the Hub's.

Uploads follow the Hub: ``preupload`` answers "lfs" for files matching the ``filter=lfs`` patterns of the repo's
``.gitattributes`` (the initial commit has the usual ones: ``*.parquet``, ``*.safetensors``, ...), for binary
samples and for files of 10 MiB or more, and "regular" otherwise. Regular files are sent inline (base64) in the
NDJSON commit payload; LFS files go through the LFS batch API (``basic`` transfer: one PUT to this server) and are
then referenced by ``lfsFile`` commit operations. Clients must not use Xet (set ``HF_HUB_DISABLE_XET=1``), unless
the server runs with ``lfs=False``: then every file is "regular" and neither LFS nor Xet is ever involved.
Authentication is not checked: any token (or none) is accepted.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import itertools
import json
import logging
import mimetypes
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_USER = "test-user"
"""Namespace used when ``create_repo`` is called without an organization (and name returned by ``whoami``)."""

REPO_TYPES: dict[str, str] = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
"""Plural URL segment -> repo type."""

URL_PREFIXES: dict[str, str] = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}
"""Repo type -> prefix of web URLs (``/{prefix}{repo_id}/resolve/...``)."""

GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.joblib", "*.model", "*.msgpack", "*.npy",
        "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.safetensors",
        "*.tar", "*.tflite", "*.tgz", "*.xz", "*.zip", "*.zst", "*tfevents*",
    )
)  # fmt: skip
"""Content of ``.gitattributes`` in the initial commit of every repo (LFS patterns, like on the Hub)."""

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
"""Files of this size or larger are always uploaded with LFS (when LFS is enabled)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA_RE = re.compile(r"^[0-9a-f]{7,39}$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


# --------------------------------------------------------------------------------------------------------- git ids


def git_blob_oid(data: bytes) -> str:
    """Return the git blob id of ``data`` (same as ``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _git_tree_oid(entries: dict[str, tuple[bool, str]]) -> str:
    """Return the git tree id of ``{name: (is_dir, oid)}`` entries."""
    body = b"".join(
        f"{'40000' if is_dir else '100644'} {name}".encode() + b"\0" + bytes.fromhex(oid)
        for name, (is_dir, oid) in sorted(entries.items(), key=lambda item: item[0] + ("/" if item[1][0] else ""))
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def tree_oids(files: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Return the git tree id of every directory of a snapshot (``""`` is the root)."""
    children: dict[str, dict[str, tuple[bool, str]]] = {"": {}}
    for path, info in files.items():
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            parent, directory = "/".join(parts[:depth]), "/".join(parts[: depth + 1])
            children.setdefault(directory, {})
            children.setdefault(parent, {})[parts[depth]] = (True, directory)
        children.setdefault("/".join(parts[:-1]), {})[parts[-1]] = (False, info["oid"])
    oids: dict[str, str] = {}
    for directory in sorted(children, key=lambda d: d.count("/") + 1 if d else 0, reverse=True):
        resolved = {name: (is_dir, oids[ref] if is_dir else ref) for name, (is_dir, ref) in children[directory].items()}
        oids[directory] = _git_tree_oid(resolved)
    return oids


def _git_commit_oid(tree: str, parents: list[str], author: str, timestamp: int, message: str) -> str:
    """Return the git commit id for the given commit fields."""
    ident = f"{author} <{author}@users.noreply.huggingface.co> {timestamp} +0000"
    text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents) + f"author {ident}\ncommitter {ident}\n\n"
    body = (text + message).encode()
    return hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()


def _iso(timestamp: float) -> str:
    """Format a POSIX timestamp like the Hub does (``2024-01-01T00:00:00.000Z``)."""
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


@dataclass(frozen=True)
class LfsPointer:
    """Reference to an LFS object already stored in the repo (commit addition of an ``lfsFile``)."""

    sha256: str
    size: int

    @property
    def pointer(self) -> bytes:
        """The git-lfs pointer file, stored in git in place of the content."""
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()


def lfs_patterns(gitattributes: str) -> list[str]:
    """Patterns tracked with ``filter=lfs`` in a ``.gitattributes`` file."""
    patterns = []
    for line in gitattributes.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def matches_lfs_pattern(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` matches one of the (gitattributes-style) patterns."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(path, p.lstrip("/")) if "/" in p else fnmatch.fnmatch(name, p) for p in patterns)


# ---------------------------------------------------------------------------------------------------------- errors


class HubError(Exception):
    """An HTTP error answered with the ``X-Error-Code`` / ``X-Error-Message`` headers the Hub uses."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Build the error (``code`` becomes the ``X-Error-Code`` header)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def _repo_not_found(repo_id: str) -> HubError:
    """404 ``RepoNotFound`` error."""
    return HubError(404, f"Repository not found: {repo_id}", "RepoNotFound")


def _revision_not_found(revision: str) -> HubError:
    """404 ``RevisionNotFound`` error."""
    return HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")


# --------------------------------------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class Repo:
    """A repository stored on disk."""

    repo_type: str
    repo_id: str
    path: Path

    @property
    def web_path(self) -> str:
        """Path of the repo in web URLs, e.g. ``datasets/user/name``."""
        return URL_PREFIXES[self.repo_type] + self.repo_id


class HubStore:
    """Repos, refs, commits and blobs stored under a root directory."""

    def __init__(self, root: str | os.PathLike[str], lfs: bool = True) -> None:
        """Use ``root`` as storage directory (created if needed); ``lfs=False`` makes every upload "regular"."""
        self.root = Path(root)
        self.lfs = lfs
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._commits: dict[tuple[Path, str], dict[str, Any]] = {}
        self._trees: dict[tuple[Path, str], dict[str, str]] = {}

    # -- repos
    def repo(self, repo_type: str, repo_id: str) -> Repo:
        """Return an existing repo or raise a ``RepoNotFound`` error."""
        parts = repo_id.split("/")
        if len(parts) != 2 or not all(_NAME_RE.match(p) for p in parts):
            raise _repo_not_found(repo_id)
        path = self.root / f"{repo_type}s" / parts[0] / parts[1]
        if not (path / "refs.json").is_file():
            raise _repo_not_found(repo_id)
        return Repo(repo_type, repo_id, path)

    def list_repos(self, repo_type: str) -> list[Repo]:
        """Return all repos of a type."""
        base = self.root / f"{repo_type}s"
        if not base.is_dir():
            return []
        return [
            Repo(repo_type, f"{ns.name}/{name.name}", name)
            for ns in sorted(base.iterdir())
            for name in sorted(ns.iterdir())
            if (name / "refs.json").is_file()
        ]

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> tuple[Repo, bool]:
        """Create a repo with an initial commit; return ``(repo, created)``."""
        namespace, _, name = repo_id.partition("/")
        if not (_NAME_RE.match(namespace) and _NAME_RE.match(name)) or "--" in name or ".." in name:
            raise HubError(400, f"Invalid repo name: {repo_id}")
        path = self.root / f"{repo_type}s" / namespace / name
        repo = Repo(repo_type, repo_id, path)
        with self.lock:
            if (path / "refs.json").is_file():
                return repo, False
            (path / "commits").mkdir(parents=True, exist_ok=True)
            self._write_json(path / "meta.json", {"private": private, "createdAt": _iso(time.time())})
            self._write_json(path / "refs.json", {"branches": {}, "tags": {}})
            sha = self.commit(
                repo, None, {".gitattributes": GITATTRIBUTES.encode()}, set(), "initial commit", "", author="system"
            )
            self.set_ref(repo, "branches", "main", sha)
        return repo, True

    def delete_repo(self, repo: Repo) -> None:
        """Delete a repo and all its data."""
        with self.lock:
            shutil.rmtree(repo.path)
            self._commits = {k: v for k, v in self._commits.items() if k[0] != repo.path}
            self._trees = {k: v for k, v in self._trees.items() if k[0] != repo.path}

    def meta(self, repo: Repo) -> dict[str, Any]:
        """Return the repo metadata (``private``, ``createdAt``)."""
        return json.loads((repo.path / "meta.json").read_text())

    def update_meta(self, repo: Repo, **values: Any) -> None:
        """Update the repo metadata."""
        with self.lock:
            self._write_json(repo.path / "meta.json", {**self.meta(repo), **values})

    # -- refs
    def refs(self, repo: Repo) -> dict[str, dict[str, str]]:
        """Return ``{"branches": {name: sha}, "tags": {name: sha}}``."""
        with self.lock:
            return json.loads((repo.path / "refs.json").read_text())

    def set_ref(self, repo: Repo, kind: str, name: str, sha: str | None) -> None:
        """Create, move (``sha``) or delete (``sha=None``) a branch or tag."""
        with self.lock:
            refs = self.refs(repo)
            if sha is None:
                refs[kind].pop(name, None)
            else:
                refs[kind][name] = sha
            self._write_json(repo.path / "refs.json", refs)

    def resolve(self, repo: Repo, revision: str) -> str:
        """Resolve a branch, tag, ``refs/heads|tags/...`` name or (short) commit id to a commit id."""
        refs = self.refs(repo)
        for prefix, kind in (("refs/heads/", "branches"), ("refs/tags/", "tags")):
            if revision.startswith(prefix) and revision[len(prefix) :] in refs[kind]:
                return refs[kind][revision[len(prefix) :]]
        if revision in refs["branches"]:
            return refs["branches"][revision]
        if revision in refs["tags"]:
            return refs["tags"][revision]
        if _SHA_RE.match(revision) and (repo.path / "commits" / f"{revision}.json").is_file():
            return revision
        if _SHORT_SHA_RE.match(revision):
            matches = [p.stem for p in (repo.path / "commits").glob(f"{revision}*.json")]
            if len(matches) == 1:
                return matches[0]
        raise _revision_not_found(revision)

    # -- commits
    def get_commit(self, repo: Repo, sha: str) -> dict[str, Any]:
        """Return a commit manifest (cached: commits are immutable)."""
        key = (repo.path, sha)
        with self.lock:
            if key not in self._commits:
                self._commits[key] = json.loads((repo.path / "commits" / f"{sha}.json").read_text())
            return self._commits[key]

    def get_trees(self, repo: Repo, sha: str) -> dict[str, str]:
        """Return ``{directory: tree oid}`` for a commit (``""`` is the root)."""
        key = (repo.path, sha)
        with self.lock:
            if key not in self._trees:
                self._trees[key] = tree_oids(self.get_commit(repo, sha)["files"])
            return self._trees[key]

    def history(self, repo: Repo, sha: str) -> list[dict[str, Any]]:
        """Return the first-parent history of a commit, newest first."""
        commits = [self.get_commit(repo, sha)]
        while commits[-1]["parents"]:
            commits.append(self.get_commit(repo, commits[-1]["parents"][0]))
        return commits

    def commit(
        self,
        repo: Repo,
        parent: str | None,
        additions: dict[str, bytes | LfsPointer],
        deletions: set[str],
        title: str,
        description: str,
        author: str = DEFAULT_USER,
    ) -> str:
        """Create a commit on top of ``parent``; ``deletions`` are files or folders (``"dir/"``).

        ``additions`` maps paths to contents (regular files) or to :class:`LfsPointer` (uploaded LFS objects).
        """
        with self.lock:
            files: dict[str, dict[str, Any]] = dict(self.get_commit(repo, parent)["files"]) if parent else {}
            for path in deletions:
                folder = path.rstrip("/") + "/"
                matched = [f for f in files if f == path or f.startswith(folder)]
                if not matched:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                for f in matched:
                    del files[f]
            for path, data in additions.items():
                entry: dict[str, Any]
                if isinstance(data, LfsPointer):
                    if not self.lfs_path(repo, data.sha256).is_file():
                        raise HubError(422, f"LFS object {data.sha256} of {path} was not uploaded")
                    pointer = data.pointer
                    lfs = {"oid": data.sha256, "size": data.size, "pointerSize": len(pointer)}
                    entry = {"oid": git_blob_oid(pointer), "size": data.size, "lfs": lfs}
                else:
                    oid = git_blob_oid(data)
                    self._write_object(repo.path / "objects" / oid[:2] / oid, data)
                    entry = {"oid": oid, "size": len(data)}
                # A file replaces a folder of the same name and vice versa (like a git checkout would).
                for other in [f for f in files if f.startswith(path + "/") or path.startswith(f + "/")]:
                    del files[other]
                files[path] = entry
            timestamp = time.time()
            tree = tree_oids(files)[""]
            message = title + (f"\n\n{description}" if description else "") + "\n"
            parents = [parent] if parent else []
            sha = _git_commit_oid(tree, parents, author, int(timestamp), message)
            manifest = {
                "id": sha,
                "parents": parents,
                "tree": tree,
                "title": title,
                "message": description,
                "date": _iso(timestamp),
                "author": author,
                "files": dict(sorted(files.items())),
            }
            self._write_json(repo.path / "commits" / f"{sha}.json", manifest)
            return sha

    def read_file(self, repo: Repo, entry: dict[str, Any]) -> bytes:
        """Return the content of a file entry of a commit (regular or LFS)."""
        if "lfs" in entry:
            return self.lfs_path(repo, entry["lfs"]["oid"]).read_bytes()
        return (repo.path / "objects" / entry["oid"][:2] / entry["oid"]).read_bytes()

    @staticmethod
    def lfs_path(repo: Repo, sha256: str) -> Path:
        """Where an LFS object is stored."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HubError(400, f"Invalid LFS oid: {sha256}")
        return repo.path / "lfs" / sha256[:2] / sha256

    def put_lfs(self, repo: Repo, sha256: str, data: bytes) -> None:
        """Store an LFS object after checking its sha256."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise HubError(400, f"Uploaded content does not match sha256 {sha256}")
        self._write_object(self.lfs_path(repo, sha256), data)

    @staticmethod
    def _write_object(path: Path, data: bytes) -> None:
        """Write a content-addressed object atomically (no-op if it exists)."""
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)

    def last_commit(self, repo: Repo, sha: str, path: str, is_dir: bool) -> dict[str, Any]:
        """Return the most recent commit (first-parent history) that changed ``path``."""

        def oid_at(commit: dict[str, Any]) -> str | None:
            """Oid of ``path`` at ``commit`` (None if absent)."""
            if is_dir:
                return self.get_trees(repo, commit["id"]).get(path)
            info = commit["files"].get(path)
            return info["oid"] if info else None

        history = self.history(repo, sha)
        target = oid_at(history[0])
        for current, parent in itertools.pairwise(history):
            if oid_at(parent) != target:
                return current
        return history[-1]

    @staticmethod
    def _write_json(path: Path, data: Any) -> None:
        """Write JSON atomically."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------- server


@dataclass
class RequestRecord:
    """One request served (for assertions in tests); header names are lower-cased."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class HubHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server holding a :class:`HubStore` and a log of served requests."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, store: HubStore, address: tuple[str, int], sock: socket.socket | None = None) -> None:
        """Bind ``address``, or take over the already bound ``sock``, and start listening."""
        super().__init__(address, _HubHandler, bind_and_activate=sock is None)
        if sock is not None:
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()
            self.server_activate()
        self.store = store
        self.requests: list[RequestRecord] = []
        self.requests_lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:8080``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, record: RequestRecord) -> None:
        """Append a request to the log."""
        with self.requests_lock:
            self.requests.append(record)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


def start_hub_server(
    root_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: socket.socket | None = None,
    lfs: bool = True,
) -> tuple[HubHTTPServer, str]:
    """Start a Hub server in a daemon thread; return ``(server, base_url)``. Stop it with ``server.stop()``.

    ``sock`` may be an already bound (not yet listening) socket, e.g. to reserve the port before the clients'
    ``HF_ENDPOINT`` is set. With ``lfs=False`` every file is uploaded inline ("regular"), which also works for
    clients that have Xet enabled.
    """
    server = HubHTTPServer(HubStore(root_dir, lfs=lfs), (host, port), sock=sock)
    server.thread = threading.Thread(target=server.serve_forever, name="hub-server", daemon=True)
    server.thread.start()
    return server, server.base_url


def stop_hub_server(server: HubHTTPServer) -> None:
    """Stop a server started with :func:`start_hub_server`."""
    server.stop()


def _split_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split ``[revision, *rest]``, accepting unencoded special refs like ``refs/pr/1``."""
    if not segments:
        raise HubError(400, "Missing revision")
    if segments[0] == "refs" and len(segments) >= 3:
        return "/".join(segments[:3]), segments[3:]
    return segments[0], segments[1:]


def _check_path(path: str) -> str:
    """Validate a path in repo."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise HubError(400, f"Invalid path in repo: {path!r}")
    return path


def _card_data(readme: bytes) -> dict[str, Any] | None:
    """Parse the YAML front matter of a README, if any."""
    text = readme.decode("utf-8", errors="replace")
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, flags=re.DOTALL)
    if not match:
        return None
    try:
        import yaml

        data = yaml.safe_load(match.group(1))
    except Exception:  # noqa: BLE001 - invalid metadata is simply not exposed
        return None
    return data if isinstance(data, dict) else None


def _as_bool(values: list[str] | None) -> bool:
    """Interpret a query-string flag."""
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


class _HubHandler(BaseHTTPRequestHandler):
    """Request handler implementing the Hub endpoints."""

    server: HubHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "TestHub/1.0"

    # -- plumbing
    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        """Handle HEAD."""
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Log to the module logger instead of stderr."""
        logger.debug("%s - %s", self.address_string(), format % args)

    @property
    def store(self) -> HubStore:
        """The server storage."""
        return self.server.store

    @property
    def base_url(self) -> str:
        """Base URL as seen by the client (from the Host header)."""
        return f"http://{self.headers.get('Host') or self.server.base_url.split('://', 1)[1]}"

    def _read_body(self) -> bytes:
        """Read the request body (``Content-Length`` or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        """Route a request and turn errors into Hub-style error responses."""
        self._status = 500
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.split("/")[1:]]
        if segments and segments[-1] == "" and len(segments) > 1:
            segments = segments[:-1]
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            body = self._read_body()
            self._route(method, segments, query, body)
        except HubError as err:
            headers = {**err.headers, "X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send_json(err.status, {"error": err.message}, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:
            logger.exception("Hub test server error on %s %s", method, self.path)
            # 501 rather than 500: huggingface_hub retries 5xx errors with backoff (up to ~30 s), 501 fails at once.
            message = f"Test Hub server error: {type(err).__name__}: {err}"
            self._send_json(501, {"error": message, "traceback": traceback.format_exc()}, {"X-Error-Message": message})
        finally:
            headers = {key.lower(): value for key, value in self.headers.items()}
            self.server.record(RequestRecord(method, self.path, self._status, headers))

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send a response (the body is omitted for HEAD requests)."""
        self._status = status
        self.send_response(status)
        headers = {"Content-Type": "application/octet-stream", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """Send a JSON response."""
        body = json.dumps(data).encode()
        self._send(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    # -- routing
    def _route(self, method: str, segments: list[str], query: dict[str, list[str]], body: bytes) -> None:
        """Route ``/api/...``, ``/[{type}s/]{repo_id}/resolve|raw/{revision}/{path}`` and the LFS endpoints."""
        if segments[:1] == ["api"]:
            self._route_api(method, segments[1:], query, body)
            return
        repo_type = "model"
        if segments and segments[0] in REPO_TYPES and segments[0] != "models":
            repo_type, segments = REPO_TYPES[segments[0]], segments[1:]
        if len(segments) >= 5 and segments[2] in ("resolve", "raw") and method in ("GET", "HEAD"):
            repo = self.store.repo(repo_type, f"{segments[0]}/{segments[1]}")
            revision, rest = _split_revision(segments[3:])
            self._resolve(repo, revision, "/".join(rest))
            return
        if len(segments) == 6 and segments[1].endswith(".git") and segments[2:5] == ["info", "lfs", "objects"]:
            repo = self.store.repo(repo_type, f"{segments[0]}/{segments[1].removesuffix('.git')}")
            if segments[5] == "batch" and method == "POST":
                self._lfs_batch(repo, json.loads(body or b"{}"))
                return
            if method == "PUT":
                self.store.put_lfs(repo, segments[5], body)
                self._send_json(200, {})
                return
        raise HubError(404, f"Not found: {method} {self.path}")

    def _route_api(self, method: str, rest: list[str], query: dict[str, list[str]], body: bytes) -> None:
        """Route ``/api/...`` requests."""
        if rest == ["whoami-v2"] and method == "GET":
            self._send_json(200, self._whoami())
        elif rest == ["repos", "create"] and method == "POST":
            self._create_repo(json.loads(body or b"{}"))
        elif rest == ["repos", "delete"] and method in ("DELETE", "POST"):
            payload = json.loads(body or b"{}")
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload.get('organization') or DEFAULT_USER}/{payload.get('name')}"
            self.store.delete_repo(self.store.repo(repo_type, repo_id))
            self._send_json(200, {})
        elif rest == ["validate-yaml"] and method == "POST":
            self._send_json(200, {"errors": [], "warnings": []})
        elif rest and rest[0] in REPO_TYPES:
            repo_type = REPO_TYPES[rest[0]]
            if len(rest) == 1 and method == "GET":
                self._list_repos(repo_type, query)
            elif len(rest) >= 3:
                repo = self.store.repo(repo_type, f"{rest[1]}/{rest[2]}")
                self._route_repo(method, repo, rest[3] if len(rest) > 3 else None, rest[4:], query, body)
            else:
                raise HubError(404, f"Not found: {self.path}")
        else:
            raise HubError(404, f"Not found: {self.path}")

    def _route_repo(
        self, method: str, repo: Repo, action: str | None, args: list[str], query: dict[str, list[str]], body: bytes
    ) -> None:
        """Route ``/api/{type}s/{repo_id}[/{action}/...]`` requests."""
        if action is None and method == "GET":
            self._repo_info(repo, "main", query)
        elif action == "revision" and method == "GET":
            self._repo_info(repo, _split_revision(args)[0], query)
        elif action == "refs" and method == "GET":
            self._list_refs(repo, query)
        elif action == "tree" and method == "GET":
            revision, rest = _split_revision(args)
            self._tree(repo, revision, "/".join(rest).strip("/"), query)
        elif action == "paths-info" and method == "POST":
            self._paths_info(repo, _split_revision(args)[0], body)
        elif action == "commits" and method == "GET":
            self._list_commits(repo, _split_revision(args)[0])
        elif action == "preupload" and method == "POST":
            self._preupload(repo, _split_revision(args)[0], json.loads(body or b"{}"))
        elif action == "commit" and method == "POST":
            self._commit(repo, _split_revision(args)[0], query, body)
        elif action == "branch" and method in ("POST", "DELETE") and args:
            self._branch(method, repo, "/".join(args), json.loads(body or b"{}"))
        elif action == "tag" and method in ("POST", "DELETE") and args:
            self._tag(method, repo, "/".join(args), json.loads(body or b"{}"))
        elif action == "settings" and method == "PUT":
            payload = json.loads(body or b"{}")
            if "private" in payload:
                self.store.update_meta(repo, private=bool(payload["private"]))
            self._send_json(200, {})
        else:
            raise HubError(404, f"Not found: {method} {self.path}")

    # -- endpoints
    def _whoami(self) -> dict[str, Any]:
        """``GET /api/whoami-v2``."""
        return {
            "type": "user",
            "id": "0" * 24,
            "name": DEFAULT_USER,
            "fullname": "Test User",
            "email": f"{DEFAULT_USER}@example.com",
            "emailVerified": True,
            "isPro": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
        }

    def _repo_url(self, repo: Repo) -> str:
        """Web URL of a repo."""
        return f"{self.base_url}/{repo.web_path}"

    def _create_repo(self, payload: dict[str, Any]) -> None:
        """``POST /api/repos/create`` (409 with the repo ``url`` if it exists, as the Hub does)."""
        repo_type = payload.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        repo_id = f"{payload.get('organization') or DEFAULT_USER}/{payload.get('name')}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo, created = self.store.create_repo(repo_type, repo_id, private)
        data = {"url": self._repo_url(repo), "name": repo.repo_id, "id": repo.repo_id}
        if not created:
            self._send_json(
                409,
                {**data, "error": f"You already created this {repo_type} repo"},
                {"X-Error-Message": f"You already created this {repo_type} repo"},
            )
            return
        self._send_json(200, data)

    def _repo_summary(self, repo: Repo, sha: str) -> dict[str, Any]:
        """Fields shared by repo listings and repo info."""
        commit = self.store.get_commit(repo, sha)
        meta = self.store.meta(repo)
        data: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": sha,
            "lastModified": commit["date"],
            "createdAt": meta["createdAt"],
            "private": meta["private"],
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
        }
        if repo.repo_type == "model":
            data["modelId"] = repo.repo_id
        return data

    def _list_repos(self, repo_type: str, query: dict[str, list[str]]) -> None:
        """``GET /api/{type}s?author=&search=&limit=``."""
        author = (query.get("author") or [None])[-1]
        search = (query.get("search") or [None])[-1]
        out = []
        for repo in self.store.list_repos(repo_type):
            if author and repo.repo_id.split("/")[0] != author:
                continue
            if search and search.lower() not in repo.repo_id.lower():
                continue
            out.append(self._repo_summary(repo, self.store.resolve(repo, "main")))
        limit = (query.get("limit") or [None])[-1]
        self._send_json(200, out[: int(limit)] if limit else out)

    def _repo_info(self, repo: Repo, revision: str, query: dict[str, list[str]]) -> None:
        """``GET /api/{type}s/{repo_id}[/revision/{revision}][?blobs=true]``."""
        sha = self.store.resolve(repo, revision)
        commit = self.store.get_commit(repo, sha)
        blobs = _as_bool(query.get("blobs"))
        siblings: list[dict[str, Any]] = []
        for path, info in commit["files"].items():
            siblings.append({"rfilename": path})
            if blobs:
                siblings[-1].update(size=info["size"], blobId=info["oid"])
                if "lfs" in info:
                    lfs = info["lfs"]
                    siblings[-1]["lfs"] = {"size": lfs["size"], "sha256": lfs["oid"], "pointerSize": lfs["pointerSize"]}
        data = {**self._repo_summary(repo, sha), "siblings": siblings}
        data["usedStorage"] = sum(info["size"] for info in commit["files"].values())
        if "README.md" in commit["files"]:
            card = _card_data(self.store.read_file(repo, commit["files"]["README.md"]))
            if card is not None:
                data["cardData"] = card
        if repo.repo_type == "model" and "config.json" in commit["files"]:
            try:
                config = json.loads(self.store.read_file(repo, commit["files"]["config.json"]))
                data["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
            except ValueError:
                pass
        self._send_json(200, data)

    def _list_refs(self, repo: Repo, query: dict[str, list[str]]) -> None:
        """``GET /api/{type}s/{repo_id}/refs[?include_prs=1]``."""
        refs = self.store.refs(repo)
        branches = sorted(refs["branches"].items(), key=lambda item: (item[0] != "main", item[0]))
        data: dict[str, Any] = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s} for n, s in branches],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in sorted(refs["tags"].items())],
            "converts": [],
        }
        if _as_bool(query.get("include_prs")):
            data["pullRequests"] = []
        self._send_json(200, data)

    def _entry(self, repo: Repo, sha: str, path: str, expand: bool) -> dict[str, Any]:
        """Tree / paths-info entry of a file or directory (with ``lastCommit`` if ``expand``)."""
        commit = self.store.get_commit(repo, sha)
        info = commit["files"].get(path)
        if info is not None:
            entry: dict[str, Any] = {"type": "file", "oid": info["oid"], "size": info["size"], "path": path}
            if "lfs" in info:
                entry["lfs"] = info["lfs"]
        else:
            entry = {"type": "directory", "oid": self.store.get_trees(repo, sha)[path], "size": 0, "path": path}
        if expand:
            last = self.store.last_commit(repo, sha, path, is_dir=info is None)
            entry["lastCommit"] = {"id": last["id"], "title": last["title"], "date": last["date"]}
        return entry

    def _tree(self, repo: Repo, revision: str, path: str, query: dict[str, list[str]]) -> None:
        """``GET /api/{type}s/{repo_id}/tree/{revision}[/{path}]?recursive=&expand=`` (single page)."""
        sha = self.store.resolve(repo, revision)
        trees = self.store.get_trees(repo, sha)
        if path not in trees:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound", {"X-Repo-Commit": sha})
        recursive = _as_bool(query.get("recursive"))
        prefix = f"{path}/" if path else ""
        candidates = [p for p in trees if p] + list(self.store.get_commit(repo, sha)["files"])
        paths = sorted(p for p in candidates if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :]))
        expand = _as_bool(query.get("expand"))
        self._send_json(200, [self._entry(repo, sha, p, expand) for p in paths], {"X-Repo-Commit": sha})

    def _paths_info(self, repo: Repo, revision: str, body: bytes) -> None:
        """``POST /api/{type}s/{repo_id}/paths-info/{revision}`` (form or JSON ``paths``, ``expand``)."""
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            payload = json.loads(body or b"{}")
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths = form.get("paths", []) + form.get("paths[]", [])
            expand = _as_bool(form.get("expand"))
        sha = self.store.resolve(repo, revision)
        files, trees = self.store.get_commit(repo, sha)["files"], self.store.get_trees(repo, sha)
        out = []
        for path in dict.fromkeys(p.strip("/") for p in paths):
            if path in files or (path and path in trees):
                out.append(self._entry(repo, sha, path, expand))
        self._send_json(200, out, {"X-Repo-Commit": sha})

    def _list_commits(self, repo: Repo, revision: str) -> None:
        """``GET /api/{type}s/{repo_id}/commits/{revision}`` (first-parent history, newest first)."""
        sha = self.store.resolve(repo, revision)
        self._send_json(
            200,
            [
                {
                    "id": c["id"],
                    "title": c["title"],
                    "message": c["message"],
                    "date": c["date"],
                    "authors": [{"user": c["author"], "avatar": None}],
                }
                for c in self.store.history(repo, sha)
            ],
        )

    def _preupload(self, repo: Repo, revision: str, payload: dict[str, Any]) -> None:
        """``POST /api/{type}s/{repo_id}/preupload/{revision}``: "lfs" or "regular" upload mode of each file."""
        sha = self.store.resolve(repo, revision)
        files = self.store.get_commit(repo, sha)["files"]
        attributes = files.get(".gitattributes")
        tracked = lfs_patterns(self.store.read_file(repo, attributes).decode(errors="replace")) if attributes else []
        patterns = [
            line.strip()
            for line in (payload.get("gitIgnore") or "").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        out = []
        for item in payload.get("files", []):
            path = item["path"]
            ignored = any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in patterns)
            sample = base64.b64decode(item.get("sample") or "")
            lfs = self.store.lfs and (
                matches_lfs_pattern(path, tracked) or b"\0" in sample or item.get("size", 0) >= LFS_SIZE_THRESHOLD
            )
            existing = files.get(path)
            # The client compares this oid with its own: the sha256 for LFS uploads, the git blob oid otherwise.
            oid = None
            if existing is not None and lfs:
                oid = existing["lfs"]["oid"] if "lfs" in existing else None
            elif existing is not None:
                oid = existing["oid"]
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": ignored, "oid": oid})
        self._send_json(200, {"files": out, "commitOid": sha})

    def _commit(self, repo: Repo, revision: str, query: dict[str, list[str]], body: bytes) -> None:
        """``POST /api/{type}s/{repo_id}/commit/{revision}`` with an NDJSON payload."""
        if _as_bool(query.get("create_pr")):
            raise HubError(400, "Pull requests are not supported by the test Hub server")
        header: dict[str, Any] = {}
        additions: dict[str, bytes | LfsPointer] = {}
        deletions: set[str] = set()
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value", {})
            if key == "header":
                header = value
            elif key == "file":
                content = value.get("content", "")
                data = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                additions[_check_path(value["path"])] = data
            elif key in ("deletedFile", "deletedFolder"):
                path = value["path"].rstrip("/") if key == "deletedFile" else value["path"].rstrip("/") + "/"
                deletions.add(path)
            elif key == "lfsFile":
                sha256 = value["oid"]
                size = value.get("size")
                if size is None:  # copy of an LFS file: the size is not sent
                    lfs_file = self.store.lfs_path(repo, sha256)
                    size = lfs_file.stat().st_size if lfs_file.is_file() else 0
                additions[_check_path(value["path"])] = LfsPointer(sha256, int(size))
            else:
                raise HubError(400, f"Unknown commit operation: {key}")
        branch = revision.removeprefix("refs/heads/")
        with self.store.lock:
            branches = self.store.refs(repo)["branches"]
            if branch not in branches:
                self.store.resolve(repo, revision)  # 404 RevisionNotFound if the revision does not exist at all
                raise HubError(400, f"Can only commit to a branch, got {revision!r}")
            head = branches[branch]
            parent_commit = header.get("parentCommit")
            if parent_commit and parent_commit != head:
                raise HubError(412, f"A commit has happened since. Please refresh and try again. ({head})")
            sha = self.store.commit(
                repo, head, additions, deletions, header.get("summary") or "Commit", header.get("description") or ""
            )
            self.store.set_ref(repo, "branches", branch, sha)
        self._send_json(
            200,
            {"success": True, "commitOid": sha, "commitUrl": f"{self._repo_url(repo)}/commit/{sha}", "hookOutput": ""},
        )

    def _branch(self, method: str, repo: Repo, branch: str, payload: dict[str, Any]) -> None:
        """``POST|DELETE /api/{type}s/{repo_id}/branch/{branch}`` (``startingPoint`` defaults to main)."""
        with self.store.lock:
            branches = self.store.refs(repo)["branches"]
            if method == "DELETE":
                if branch not in branches:
                    raise _revision_not_found(branch)
                if branch == "main":
                    raise HubError(403, "Cannot delete the default branch")
                self.store.set_ref(repo, "branches", branch, None)
            else:
                if branch.startswith("refs/") or not branch:
                    raise HubError(400, f"Invalid branch name: {branch}")
                if branch in branches:
                    raise HubError(409, f"Reference already exists: refs/heads/{branch}")
                sha = self.store.resolve(repo, payload.get("startingPoint") or "main")
                self.store.set_ref(repo, "branches", branch, sha)
        self._send_json(200, {})

    def _tag(self, method: str, repo: Repo, name: str, payload: dict[str, Any]) -> None:
        """``POST /api/{type}s/{repo_id}/tag/{revision}`` (``{"tag": ...}``) and ``DELETE .../tag/{tag}``."""
        with self.store.lock:
            tags = self.store.refs(repo)["tags"]
            if method == "DELETE":
                if name not in tags:
                    raise _revision_not_found(name)
                self.store.set_ref(repo, "tags", name, None)
            else:
                tag = payload.get("tag") or ""
                if not tag or tag.startswith("refs/"):
                    raise HubError(400, f"Invalid tag name: {tag}")
                if tag in tags:
                    raise HubError(409, f"Reference already exists: refs/tags/{tag}")
                self.store.set_ref(repo, "tags", tag, self.store.resolve(repo, name))
        self._send_json(200, {})

    def _lfs_batch(self, repo: Repo, payload: dict[str, Any]) -> None:
        """``POST /[{type}s/]{repo_id}.git/info/lfs/objects/batch`` (upload, ``basic`` transfer)."""
        if payload.get("operation") != "upload":
            raise HubError(400, "Only the LFS 'upload' operation is supported")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            out: dict[str, Any] = {"oid": oid, "size": size}
            if not self.store.lfs_path(repo, oid).is_file():
                href = f"{self._repo_url(repo)}.git/info/lfs/objects/{oid}"
                out.update(authenticated=True, actions={"upload": {"href": href, "expires_in": 3600}})
            objects.append(out)
        self._send_json(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    def _resolve(self, repo: Repo, revision: str, path: str) -> None:
        """``HEAD|GET /[{type}s/]{repo_id}/resolve/{revision}/{path}``, with ``Range`` support."""
        sha = self.store.resolve(repo, revision)
        info = self.store.get_commit(repo, sha)["files"].get(path)
        if info is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": sha})
        size: int = info["size"]
        data = self.store.read_file(repo, info) if self.command == "GET" else b""
        name = path.rsplit("/", 1)[-1]
        # LFS files: the Hub redirects to a CDN and describes the target with X-Linked-*; here they are served
        # directly, with the same headers (the etag of an LFS file is its sha256, as on the Hub).
        etag = info["lfs"]["oid"] if "lfs" in info else info["oid"]
        linked = {"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)} if "lfs" in info else {}
        headers = {
            "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "ETag": f'"{etag}"',
            **linked,
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\"",
            "Vary": "Origin, Accept",
        }
        range_header = self.headers.get("Range")
        match = _RANGE_RE.match(range_header.strip()) if range_header and self.command == "GET" else None
        if match and (match.group(1) or match.group(2)):
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(size - int(last), 0), size - 1
            if start >= size or start > end:
                raise HubError(416, "Range Not Satisfiable", headers={**headers, "Content-Range": f"bytes */{size}"})
            self._send(206, data[start : end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{size}"})
            return
        self._send(200, data, {**headers, "Content-Length": str(size)})


def _main() -> None:  # pragma: no cover - manual debugging helper
    """Run a server in the foreground: ``python tests/hub_server.py [root_dir] [port]``."""
    import sys

    root = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="hub-server-")
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server, url = start_hub_server(root, port=port)
    print(f"Hub test server on {url} (root: {root}); set HF_ENDPOINT={url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    _main()
