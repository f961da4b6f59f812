"""``/api/v1/docs`` in Chromium (issue 15): rendered from the OpenAPI document, French,
no request leaves the portal (no CDN), nothing blocked by the Content-Security-Policy."""

from __future__ import annotations

import os
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_docs_page_renders_every_operation(live_server, client, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("DHAMEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} est absent et DHAMEN_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} absent")
    from playwright.sync_api import sync_playwright

    doc = client.get("/api/v1/openapi.json").get_json()
    operations = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests, problems = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        response = page.goto(f"{live_server}/api/v1/docs")
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("h1").inner_text().startswith("Dhamen — API de tiers payant")
        headings = page.locator("section.api-op h2").all_inner_texts()
        assert len(headings) == len(operations)
        for method, path in operations:
            assert f"{method} /api/v1{path}" in headings
        text = page.locator("main").inner_text()
        for word in ("NO_CONVENTION", "WRONG_CLAIM_TYPE", "NATIONAL_ID_IN_URL", "Idempotency-Key", "Retry-After",
                     "otpCode", "Bearer"):
            assert word in text
        page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=False)
        browser.close()
    assert all(url.startswith(live_server) for url in requests), [u for u in requests if not u.startswith(live_server)]
    assert problems == []
