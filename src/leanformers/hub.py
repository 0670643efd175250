"""Resolve "a local folder or a Hub repo id" to local files, through `huggingface_hub`.

Environment variables are read at call time (not at import), so `HF_HOME`, `HF_HUB_CACHE`,
`HF_HUB_OFFLINE` and `HF_ENDPOINT` set by a test or a notebook cell take effect immediately.
"""

from __future__ import annotations

import os
from typing import Any

from .utils import get_logger

logger = get_logger(__name__)


class HubError(OSError):
    """A file or repository could not be resolved; the message says why and what to do."""


def hub_cache_dir(cache_dir: str | os.PathLike | None = None) -> str:
    """The Hub cache folder: `cache_dir`, else `$HF_HUB_CACHE`, else `$HF_HOME/hub` (~/.cache/huggingface/hub)."""
    if cache_dir is not None:
        return os.fspath(cache_dir)
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return os.path.join(os.path.expanduser(home), "hub")


# Set once the Hub could not be reached: later lookups in this process go straight to the cache
# instead of waiting for huggingface_hub's retries again for every file (about 20 s each).
_HUB_UNREACHABLE: set[str] = set()
_HUB_RESOLVED: set[str] = set()


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def resolve_file(
    path_or_repo: str | os.PathLike,
    filename: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
    subfolder: str = "",
    required: bool = True,
) -> str | None:
    """Local path of `filename` in a folder or Hub repo.

    With `required=False` a file the folder/repo does not have gives `None`; every other failure
    (no such repo, offline with nothing cached, ...) raises `HubError` with a fix in the message.
    """
    path_or_repo = os.fspath(path_or_repo)
    if os.path.isdir(path_or_repo):
        path = os.path.join(path_or_repo, subfolder or "", filename)
        if os.path.isfile(path):
            return path
        if required:
            raise HubError(
                f"{path_or_repo} has no file {os.path.join(subfolder or '', filename)}. "
                f"It holds: {', '.join(sorted(os.listdir(path_or_repo))) or 'nothing'}."
            )
        return None
    return _hub_download(
        path_or_repo,
        filename,
        cache_dir,
        revision,
        token,
        local_files_only,
        force_download,
        subfolder or None,
        required,
    )


def _hub_download(
    repo_id, filename, cache_dir, revision, token, local_files_only, force_download, subfolder, required
):
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    _check_repo_id(repo_id)
    cache = hub_cache_dir(cache_dir)
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    chosen_offline = local_files_only or is_offline()
    offline = chosen_offline or not _host_resolves(endpoint)
    full_name = f"{subfolder}/{filename}" if subfolder else filename
    if offline:
        # Pure cache lookup: no network call at all.
        cached = try_to_load_from_cache(repo_id, full_name, cache_dir=cache, revision=revision)
        if isinstance(cached, str):
            return cached
        # Not cached: either the Hub said the file does not exist (a marker), or the repo is cached without it.
        if not required and (cached is not None or _repo_in_cache(repo_id, cache)):
            return None
        raise HubError(_offline_message(repo_id, full_name, cache, network=not chosen_offline))
    try:
        return hf_hub_download(
            repo_id,
            filename,
            subfolder=subfolder,
            revision=revision,
            cache_dir=cache,
            token=token,
            force_download=force_download,
            endpoint=endpoint,
        )
    except hf_errors.LocalEntryNotFoundError:
        # The network could not be reached: fall back to the cache like the reference does, and do not
        # wait for the network again in this process.
        if endpoint not in _HUB_UNREACHABLE:
            _HUB_UNREACHABLE.add(endpoint)
            logger.warning(
                "The Hub (%s) cannot be reached; using the local cache only from now on.", endpoint
            )
        cached = try_to_load_from_cache(repo_id, full_name, cache_dir=cache, revision=revision)
        if isinstance(cached, str):
            return cached
        if not required and _repo_in_cache(repo_id, cache):
            return None
        raise HubError(_offline_message(repo_id, full_name, cache, network=True)) from None
    except hf_errors.EntryNotFoundError:
        if not required:
            return None
        raise HubError(f"{repo_id} has no file {full_name} (revision {revision or 'main'}).") from None
    except hf_errors.RevisionNotFoundError:
        raise HubError(
            f"{repo_id} has no revision {revision!r}. Check the branch, tag or commit name."
        ) from None
    except hf_errors.RepositoryNotFoundError:
        raise HubError(
            f"{repo_id!r} is neither a local folder nor a repository on the Hub. "
            "Check the spelling, pass a path to a folder holding config.json, or pass token= for a private repo."
        ) from None


def _host_resolves(endpoint: str) -> bool:
    """A name lookup of the Hub's host: where it fails (an air-gapped machine) there is no point in
    huggingface_hub's five HTTP retries (about 20 s per file) before falling back to the cache."""
    import socket
    from urllib.parse import urlparse

    if endpoint in _HUB_UNREACHABLE:
        return False
    if endpoint in _HUB_RESOLVED:
        return True
    parsed = urlparse(endpoint)
    try:
        socket.getaddrinfo(parsed.hostname or "", parsed.port or 443)
        _HUB_RESOLVED.add(endpoint)
        return True
    except (socket.gaierror, UnicodeError):
        _HUB_UNREACHABLE.add(endpoint)
        logger.warning("The Hub (%s) cannot be reached; using the local cache only.", endpoint)
        return False


def _repo_in_cache(repo_id: str, cache: str) -> bool:
    return os.path.isdir(os.path.join(cache, "models--" + repo_id.replace("/", "--"), "snapshots"))


def _offline_message(repo_id: str, filename: str, cache: str, network: bool = False) -> str:
    why = (
        "the Hub could not be reached"
        if network
        else "offline mode is on (HF_HUB_OFFLINE=1 or local_files_only=True)"
    )
    return (
        f"Cannot find {filename} of {repo_id!r}: {why} and it is not in the cache {cache}. "
        f"Download it once with network access, or copy a local folder into the cache with "
        f"`leanformers cache import FOLDER --repo-id {repo_id}`."
    )


def _check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    looks_like_path = (
        repo_id.startswith((".", "/", "~")) or len(parts) > 2 or os.sep in repo_id.replace("/", "")
    )
    if looks_like_path or not all(parts):
        raise HubError(
            f"{repo_id!r} is not an existing folder, and not a valid Hub repo id (ORG/NAME). "
            "Check the path: the folder should hold config.json and the weights."
        )


def file_exists(path_or_repo: str | os.PathLike, filename: str, **hub_kwargs: Any) -> bool:
    return resolve_file(path_or_repo, filename, required=False, **hub_kwargs) is not None


def import_folder_to_cache(
    folder: str | os.PathLike, repo_id: str, cache_dir: str | None = None, revision: str = "main"
) -> str:
    """Put a local model folder into the Hub cache layout so `from_pretrained(repo_id)` works offline.

    Files become content-addressed blobs (`blobs/<sha256>`), linked from `snapshots/<commit>/` with
    `refs/<revision>` pointing at that commit, exactly the layout `huggingface_hub` reads.
    Returns the snapshot folder.
    """
    import hashlib
    import shutil

    from .utils import atomic_path

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise HubError(f"{folder} is not a folder. Pass the folder that holds config.json and the weights.")
    _check_repo_id(repo_id)  # canonical ids without an organisation ("gpt2") are fine too
    cache = hub_cache_dir(cache_dir)
    repo_dir = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    files = sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, dirs, names in os.walk(folder)
        for name in names
        if not any(
            part.startswith(".") for part in os.path.relpath(os.path.join(root, name), folder).split(os.sep)
        )
    )
    if not files:
        raise HubError(f"{folder} is empty: nothing to import.")
    digests = {}
    for rel in files:
        h = hashlib.sha256()
        with open(os.path.join(folder, rel), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digests[rel] = h.hexdigest()
    commit = hashlib.sha1("".join(f"{r}:{d}\n" for r, d in digests.items()).encode()).hexdigest()
    os.makedirs(os.path.join(repo_dir, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo_dir, "refs"), exist_ok=True)
    snapshot = os.path.join(repo_dir, "snapshots", commit)
    for rel, digest in digests.items():
        blob = os.path.join(repo_dir, "blobs", digest)
        if not os.path.exists(blob):
            with atomic_path(blob) as tmp:
                shutil.copyfile(os.path.join(folder, rel), tmp)
        link = os.path.join(snapshot, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    with atomic_path(os.path.join(repo_dir, "refs", revision)) as tmp, open(tmp, "w") as f:
        f.write(commit)
    return snapshot
