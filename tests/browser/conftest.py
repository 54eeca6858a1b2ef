"""A live demo shop in a thread and a phone-sized headless Chromium (Debian's) to drive it."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from shopbuilder import create_app, tenancy
from shopbuilder.demo import load_demo
from shopbuilder.extensions import db
from shopbuilder.testing import make_test_config

CHROMIUM = os.environ.get("SHOPBUILDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FULL_PAGE_STYLE = "body{position:relative!important}.th-tabs{position:absolute!important}"


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def live_shop(tmp_path_factory):
    """The demo chain served by werkzeug on a free port of 127.0.0.1, for the whole session."""
    folder = tmp_path_factory.mktemp("live")
    app = create_app(make_test_config(
        "sqlite:///" + str(folder / "shop.sqlite3"), str(folder / "instance"),
    ))
    with app.app_context():
        db.create_all()
        with tenancy.unscoped():
            load_demo(echo=lambda *args: None)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="package")
def browser():
    # Package scope, not session: Playwright's sync API runs one driver at a time, so this one
    # must be closed before other browser tests (a plugin's own, under plugins/) start theirs.
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: install Debian's with "
            "`apt-get update && apt-get install -y chromium` (or set SHOPBUILDER_CHROMIUM)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (a dev dependency: make setup)"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized page (its own cookies) per test."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """Save a page's picture: into docs/screenshots with ``make screenshots``
    (SHOPBUILDER_SCREENSHOTS=1), else into the test's temporary folder, so an ordinary
    test run leaves the committed pictures alone."""
    folder = SCREENSHOTS if os.environ.get("SHOPBUILDER_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True):
        # A full-page shot is one tall viewport: a bar fixed to the bottom of the screen
        # (the tea house's tabs) would be painted across the middle of the page. For the
        # picture only, it goes to the foot of the page, where the page keeps room for it.
        style = page.add_style_tag(content=FULL_PAGE_STYLE) if full_page else None
        try:
            page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
        finally:
            if style is not None:
                style.evaluate("(element) => element.remove()")
        return folder / f"{name}.png"

    return take
