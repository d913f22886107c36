"""Test configuration: isolated Hugging Face caches and a local Hub server (``hub`` fixture).

The environment is set at import time, i.e. before any test module imports ``huggingface_hub``, ``datasets`` or
``transformers`` (those libraries read it once, at import). ``HF_ENDPOINT`` points to a localhost port that is
reserved here but only starts listening when a test requests the ``hub`` fixture; until then connections to it are
refused, so tests that do not use the fixture can never reach the real Hub (nor hang on the local one).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub_server import DEFAULT_USER, HubHTTPServer, RequestRecord, start_hub_server

if TYPE_CHECKING:
    from huggingface_hub import HfApi

HUB_TOKEN = "hf_local_test_token"
"""Token used by the ``hub`` fixture (the local server accepts any token, or none)."""

_HF_LIBRARIES = ("huggingface_hub", "datasets", "transformers")
_IMPORTED_TOO_EARLY = [name for name in _HF_LIBRARIES if name in sys.modules]

# Reserve the port now: bound but not listening => "connection refused" until the `hub` fixture starts the server.
_HUB_SOCKET = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
_HUB_SOCKET.bind(("127.0.0.1", 0))
HUB_URL = f"http://127.0.0.1:{_HUB_SOCKET.getsockname()[1]}"

_HF_HOME = Path(tempfile.mkdtemp(prefix="procpre-tests-hf-home-"))
atexit.register(shutil.rmtree, _HF_HOME, True)


def _configure_environment() -> None:
    """Point every Hugging Face library to the local endpoint and to fresh caches."""
    for name in (
        # anything that would bypass the local endpoint, the fresh caches or the anonymous-by-default setup
        "HUGGINGFACE_CO_STAGING",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HUGGINGFACE_HUB_CACHE",
        "HUGGINGFACE_ASSETS_CACHE",
        "TRANSFORMERS_CACHE",
    ):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "HF_ENDPOINT": HUB_URL,
            "HF_HOME": str(_HF_HOME),
            "HF_HUB_CACHE": str(_HF_HOME / "hub"),
            "HF_ASSETS_CACHE": str(_HF_HOME / "assets"),
            "HF_XET_CACHE": str(_HF_HOME / "xet"),
            "HF_DATASETS_CACHE": str(_HF_HOME / "datasets"),
            "HF_MODULES_CACHE": str(_HF_HOME / "modules"),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        }
    )
    no_proxy = [h for h in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",") if h]
    no_proxy += [h for h in ("127.0.0.1", "localhost") if h not in no_proxy]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(no_proxy)


_configure_environment()


@dataclass
class Hub:
    """Handle on the local Hub server yielded by the ``hub`` fixture."""

    url: str
    token: str
    server: HubHTTPServer
    user: str = DEFAULT_USER

    @property
    def api(self) -> HfApi:
        """An ``HfApi`` client for the local server."""
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.url, token=self.token)

    @property
    def requests(self) -> list[RequestRecord]:
        """All requests served so far (oldest first)."""
        with self.server.requests_lock:
            return list(self.server.requests)

    def repo_id(self, name: str) -> str:
        """A fresh ``user/name-xxxxxxxx`` repo id (the server is shared by the whole session)."""
        return f"{self.user}/{name}-{uuid.uuid4().hex[:8]}"

    def clear_cache(self) -> None:
        """Empty the Hub and datasets caches (and cached HfFileSystem listings) so that next downloads use HTTP."""
        for key in ("HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_XET_CACHE"):
            shutil.rmtree(os.environ[key], ignore_errors=True)
        if "huggingface_hub" in sys.modules:
            from huggingface_hub import HfFileSystem

            HfFileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Start the local Hub server (once per session, only when requested) and yield a :class:`Hub`."""
    from huggingface_hub import constants

    if constants.ENDPOINT != HUB_URL:
        pytest.fail(
            f"huggingface_hub uses endpoint {constants.ENDPOINT!r} instead of {HUB_URL!r}: "
            f"{', '.join(_IMPORTED_TOO_EARLY) or 'it'} was imported before tests/conftest.py set HF_ENDPOINT"
        )
    server, url = start_hub_server(tmp_path_factory.mktemp("hub-server"), sock=_HUB_SOCKET)
    try:
        yield Hub(url=url, token=HUB_TOKEN, server=server)
    finally:
        server.stop()
