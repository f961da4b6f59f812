"""Fixtures of the browser tests: Chromium (Playwright), the test app behind a real HTTP
server in a thread, and a French page that records console problems."""

from __future__ import annotations

import os
import threading

import pytest
from browser_helpers import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("DHAMEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} est absent et DHAMEN_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} absent (installez le paquet chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app):
    """The test app behind a real HTTP server on a free port, in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.csp_problems = problems
    yield pg
    context.close()
