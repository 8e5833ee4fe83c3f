"""/docs and /redoc render with no internet: headless Chromium (Debian's ``chromium``; .ci/run installs it)
loads the example app's pages from a local server, and every script and style comes from the app itself."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from examples.host_app.app import create_app

import semantik_chunks
from semantik_chunks.config import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(database_url="memory://")), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def rendered(url: str) -> str:
    """The DOM after the page's scripts ran, as headless Chromium dumps it (no network but this machine's)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed: apt-get install -y chromium (.ci/run does)"
    with tempfile.TemporaryDirectory(prefix="semantik-chromium-") as profile:
        done = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=15000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_pages_reference_only_the_apps_own_assets(base_url: str) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(base_url + page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html
        assert all(s.startswith("/") for s in sources), sources  # no CDN, no fonts from elsewhere
        for source in sources:
            assert httpx.get(base_url + source).status_code == 200, source


def test_the_openapi_document_carries_the_library_version(base_url: str) -> None:
    info = httpx.get(base_url + "/openapi.json").json()["info"]
    assert info["version"] == semantik_chunks.__version__


def test_swagger_ui_renders_the_operations_in_headless_chromium(base_url: str) -> None:
    paths = httpx.get(base_url + "/openapi.json").json()["paths"]
    dom = rendered(base_url + "/docs")
    assert 'class="swagger-ui' in dom
    # Every operation, drawn by Swagger UI from /openapi.json (none of it is in the page's HTML).
    assert dom.count('class="opblock opblock-get') == sum("get" in operations for operations in paths.values())
    for path in paths:
        assert f'data-path="{path}"' in dom


def test_redoc_renders_the_operations_in_headless_chromium(base_url: str) -> None:
    dom = rendered(base_url + "/redoc")
    assert "/api/v2/partitions/health" in dom
    assert "Full partition health check" in dom
