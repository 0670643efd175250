"""A loopback HTTP server speaking the part of the Hugging Face Hub file API that `huggingface_hub`
uses to download files, so tests exercise the real download path without the network.

    with HubServer({"org/model": folder}) as hub:      # or {"org/model": {"main": f1, "v2": f2}}
        monkeypatch.setenv("HF_ENDPOINT", hub.url)

Routes (what huggingface_hub 0.36's `file_download.py` sends and expects):
- `HEAD/GET /{repo_id}/resolve/{revision}/{path}`: small files answer 200 with `X-Repo-Commit`,
  `ETag` (the git blob sha1) and `Content-Length`; weight files (`.safetensors`, `.bin`) answer
  302 to `/lfs/{sha256}` with `Location`, `X-Linked-Etag` (the sha256) and `X-Linked-Size`, as the
  Hub does for LFS files. Missing things answer 404 with the `X-Error-Code` the client maps to an
  exception: `RepoNotFound`, `RevisionNotFound`, `EntryNotFound` (with `X-Repo-Commit`).
- `GET /lfs/{sha256}`: the LFS blob.
- `GET /api/models/{repo_id}[/revision/{revision}]`: id, sha and file list (model_info).
Every request is recorded in `hub.requests`, so tests can prove that offline mode made none.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


class _Repo:
    def __init__(self, repo_id: str, folder: str, revision: str):
        self.folder = os.fspath(folder)
        self.files = sorted(
            os.path.relpath(os.path.join(root, name), self.folder).replace(os.sep, "/")
            for root, _, names in os.walk(self.folder)
            for name in names
        )
        listing = "".join(f"{f}:{os.path.getsize(os.path.join(self.folder, f))}\n" for f in self.files)
        self.commit = hashlib.sha1(f"{repo_id}@{revision}\n{listing}".encode()).hexdigest()

    def path(self, filename: str) -> str:
        return os.path.join(self.folder, *filename.split("/"))


class HubServer:
    """Serve `{repo_id: folder}` (or `{repo_id: {revision: folder}}`) on 127.0.0.1 in a thread."""

    def __init__(self, repos: dict[str, str | os.PathLike | dict[str, str | os.PathLike]]):
        self.repos: dict[str, dict[str, _Repo]] = {}
        for repo_id, spec in repos.items():
            by_revision = spec if isinstance(spec, dict) else {"main": spec}
            self.repos[repo_id] = {rev: _Repo(repo_id, folder, rev) for rev, folder in by_revision.items()}
        self.requests: list[tuple[str, str]] = []
        self._blobs: dict[str, str] = {}  # sha256 -> local path, for /lfs/ downloads
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        hub = self

        class Handler(_Handler):
            server_state = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lookups -----------------------------------------------------------------------------------
    def find(self, repo_id: str, revision: str) -> tuple[_Repo | None, str | None]:
        """(repo at revision, None) or (None, the X-Error-Code to answer)."""
        revisions = self.repos.get(repo_id)
        if revisions is None:
            return None, "RepoNotFound"
        if revision in revisions:
            return revisions[revision], None
        for repo in revisions.values():  # a commit hash is a revision too
            if repo.commit == revision:
                return repo, None
        return None, "RevisionNotFound"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_blob_sha1(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server_state: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    # -- routing -----------------------------------------------------------------------------------
    def _dispatch(self, send_body: bool) -> None:
        hub = self.server_state
        path = unquote(urlsplit(self.path).path)
        hub.requests.append((self.command, path))
        if path.startswith("/lfs/"):
            blob = hub._blobs.get(path[len("/lfs/") :])
            if blob is None:
                return self._error(404, "EntryNotFound", "No such blob")
            return self._file(blob, {}, send_body)
        if path.startswith("/api/models/"):
            return self._model_info(path[len("/api/models/") :], send_body)
        if "/resolve/" not in path:
            return self._error(404, "RepoNotFound", "Unknown route")
        repo_id, rest = path.lstrip("/").split("/resolve/", 1)
        revision, _, filename = rest.partition("/")
        repo, error = hub.find(repo_id, revision)
        if repo is None:
            return self._error(404, error, f"{error}: {repo_id}@{revision}")
        headers = {"X-Repo-Commit": repo.commit}
        if filename not in repo.files:
            return self._error(404, "EntryNotFound", f"{filename} not in {repo_id}", headers)
        local = repo.path(filename)
        if filename.endswith(LFS_SUFFIXES):
            sha256 = _sha256(local)
            hub._blobs[sha256] = local
            headers.update(
                {
                    "Location": f"{hub.url}/lfs/{sha256}",
                    "X-Linked-Etag": f'"{sha256}"',
                    "X-Linked-Size": str(os.path.getsize(local)),
                    "ETag": f'"{_git_blob_sha1(local)}"',
                    "Content-Length": "0",
                }
            )
            return self._reply(302, headers, b"", send_body)
        headers["ETag"] = f'"{_git_blob_sha1(local)}"'
        return self._file(local, headers, send_body)

    def _model_info(self, rest: str, send_body: bool) -> None:
        repo_id, _, revision = rest.partition("/revision/")
        repo, error = self.server_state.find(repo_id, revision or "main")
        if repo is None:
            return self._error(404, error, f"{error}: {repo_id}")
        body = json.dumps(
            {
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.commit,
                "siblings": [{"rfilename": f} for f in repo.files],
            }
        ).encode()
        self._reply(
            200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body, send_body
        )

    # -- responses ---------------------------------------------------------------------------------
    def _file(self, local: str, headers: dict[str, str], send_body: bool) -> None:
        size = os.path.getsize(local)
        start, end = 0, size - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):  # resumed downloads
            first, _, last = range_header[len("bytes=") :].partition("-")
            start = int(first or 0)
            end = int(last) if last else size - 1
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(max(0, end - start + 1))
        headers.setdefault("Content-Type", "application/octet-stream")
        body = b""
        if send_body and size:
            with open(local, "rb") as f:
                f.seek(start)
                body = f.read(end - start + 1)
        self._reply(status, headers, body, send_body)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {**(headers or {}), "X-Error-Code": code, "X-Error-Message": message}
        headers.update({"Content-Type": "application/json", "Content-Length": str(len(body))})
        self._reply(status, headers, body, True)

    def _reply(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body and body and self.command != "HEAD":
            self.wfile.write(body)
