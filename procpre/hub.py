"""Publishing to the Hugging Face Hub: folders pushed as they are, with retries; the local copy is never touched."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, HFValidationError

try:  # the Hub client's HTTP library base error (httpx / httpx2): refused connections, timeouts... are not OSErrors
    from huggingface_hub.errors import HTTPError as _ClientError
except ImportError:  # pragma: no cover - older clients on requests, whose errors are OSErrors
    _ClientError = HfHubHTTPError

log = logging.getLogger(__name__)
T = TypeVar("T")


class PushError(RuntimeError):
    """An upload failed after its retries; the local files are intact."""


def with_retries(action: Callable[[], T], what: str, attempts: int = 3, wait: float = 2.0) -> T:
    """Run `action`, retrying network failures with exponential back-off, then raise PushError."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except HFValidationError as err:  # a malformed repo id or revision: retrying cannot help
            raise PushError(f"{what} failed: {err}") from err
        except (HfHubHTTPError, _ClientError, OSError) as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            if attempt == attempts or (status is not None and 400 <= status < 500 and status not in (408, 429)):
                raise PushError(f"{what} failed after {attempt} attempt{'s' * (attempt > 1)}: {err}") from err
            log.warning("%s failed (attempt %d/%d): %s; retrying", what, attempt, attempts, err)
            time.sleep(wait * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def push_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    repo_type: str = "model",
    revision: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
) -> str:
    """Upload `folder` to `repo_id` (creating the repo, and the branch `revision` if needed); return its URL."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PushError(f"nothing to push: {folder} is not a folder")
    api = HfApi(token=token)
    with_retries(
        lambda: api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True), f"creating {repo_id}"
    )
    if revision and revision != "main":
        with_retries(
            lambda: api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True),
            f"creating branch {revision} of {repo_id}",
        )
    info = with_retries(
        lambda: api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            revision=revision,
            commit_message=commit_message or f"Upload {folder.name} with procpre",
            ignore_patterns=[".*", "**/.*"],
        ),
        f"uploading {folder} to {repo_id}",
    )
    return str(getattr(info, "commit_url", None) or repo_id)


def push_run(save_dir: str | os.PathLike[str], repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Latest checkpoint -> main; earlier ones -> branches `step-<N>` (optimiser state stays local)."""
    from procpre.checkpoint import list_checkpoints

    checkpoints = list_checkpoints(save_dir)
    if not checkpoints:
        raise PushError(f"no checkpoint-<step> folders in {save_dir} to push")
    for ckpt in checkpoints[:-1]:
        step = ckpt.name.split("-")[1]
        push_checkpoint(ckpt, repo_id, revision=f"step-{step}", private=private, token=token)
    return push_checkpoint(checkpoints[-1], repo_id, private=private, token=token)


def push_checkpoint(
    checkpoint: str | os.PathLike[str],
    repo_id: str,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
) -> str:
    """One checkpoint folder without its optimiser state (`training_state/`)."""
    folder = Path(checkpoint)
    api = HfApi(token=token)
    with_retries(lambda: api.create_repo(repo_id, private=private, exist_ok=True), f"creating {repo_id}")
    if revision:
        with_retries(lambda: api.create_branch(repo_id, branch=revision, exist_ok=True), f"creating branch {revision}")
    info = with_retries(
        lambda: api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            revision=revision,
            commit_message=f"procpre {folder.name}",
            ignore_patterns=["training_state/*", ".*"],
        ),
        f"uploading {folder} to {repo_id}",
    )
    return str(getattr(info, "commit_url", None) or repo_id)
