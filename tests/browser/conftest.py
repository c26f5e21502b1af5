"""Browser fixtures: one Chromium per session, a fresh page per test that fails on any console
error or any request to a host other than the test server, and a screenshot per test.

The server is the `live_server` fixture of tests/conftest.py (set LAYERLAB_URL to drive an
already running server instead). Chromium: /usr/bin/chromium when present, else Playwright's own
(`playwright install chromium`); without either the tests skip and say why.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
SYSTEM_CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium for the whole session."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    # Assertions wait as long as actions do (15 s, not Playwright's 5 s): a loaded 2-CPU CI
    # machine trains and streams slower, and a wait that ends early is a flaky failure.
    expect.set_options(timeout=15_000)
    pw = sync_playwright().start()
    kwargs = {"headless": True, "args": ARGS}
    if Path(SYSTEM_CHROMIUM).exists():
        kwargs["executable_path"] = SYSTEM_CHROMIUM
    try:
        chromium = pw.chromium.launch(**kwargs)
    except Exception as e:  # noqa: BLE001 - any launch failure means "no usable Chromium"
        pw.stop()
        pytest.skip(f"no Chromium to drive: install /usr/bin/chromium or run "
                    f"`playwright install chromium` ({str(e).splitlines()[0]})")
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture
def base_url(request):
    """The server under test: $LAYERLAB_URL, else the live_server fixture."""
    url = os.environ.get("LAYERLAB_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("live_server").rstrip("/")


class PageLog:
    """What a page did that a test must not let pass: console errors and foreign requests."""

    def __init__(self):
        self.errors: list[str] = []
        self.foreign: list[str] = []

    def on_console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} @ {msg.location.get('url', '')}")

    def on_page_error(self, error) -> None:
        self.errors.append(f"uncaught: {error}")

    def on_request(self, req) -> None:
        parsed = urlparse(req.url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOOPBACK:
            self.foreign.append(req.url)


def artifact(name: str) -> Path:
    """A path under tests/_artifacts/ for a screenshot or download."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture
def context(browser, request):
    """A fresh browser context (own storage) at 1280x720 that accepts downloads."""
    scheme = getattr(request, "param", None) or "light"
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, color_scheme=scheme)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page_log():
    return PageLog()


@pytest.fixture
def page(context, base_url, page_log, request):
    """The editor page, opened and ready; checked for errors and foreign requests afterwards."""
    page = watch(context.new_page(), page_log)
    page.goto(base_url + "/")
    wait_ready(page)
    yield page
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)
    page.screenshot(path=str(artifact(f"{name}-end.png")))
    # The live connection survived everything the server sent (a bad packet drops it).
    drops = page.evaluate("() => window.layerlab ? window.layerlab.conn.drops : 0")
    assert drops == 0, f"the Socket.IO connection dropped {drops} time(s) during the test"

    assert not page_log.foreign, f"requests to other hosts: {page_log.foreign}"
    assert not page_log.errors, "console errors:\n" + "\n".join(page_log.errors)


def watch(page, log: PageLog):
    """Attach the error and request recorders to a page."""
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    page.on("request", log.on_request)
    return page


def wait_ready(page) -> None:
    """The page has loaded the catalog and drawn its first validation."""
    page.wait_for_selector("body:not(.is-loading)")
    page.wait_for_selector("[data-layer-type]", state="attached")
    page.wait_for_function(
        "() => document.querySelector('.statusbar').dataset.status !== 'checking'")
