"""``/api/v1/docs`` in Chromium (issue 15): rendered from the OpenAPI document, French,
no request leaves the portal (no CDN), nothing blocked by the Content-Security-Policy."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_docs_page_renders_every_operation(page, live_server, client, tmp_path):
    doc = client.get("/api/v1/openapi.json").get_json()
    operations = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto("/api/v1/docs")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text().startswith("Dhamen — API de tiers payant")
    headings = page.locator("section.api-op h2").all_inner_texts()
    assert len(headings) == len(operations)
    for method, path in operations:
        assert f"{method} /api/v1{path}" in headings
    text = page.locator("main").inner_text()
    for word in ("NO_CONVENTION", "WRONG_CLAIM_TYPE", "NATIONAL_ID_IN_URL", "Idempotency-Key", "Retry-After",
                 "otpCode", "Bearer", "Paracétamol", "Pharmacien"):
        assert word in text
    page.screenshot(path=str(tmp_path / "api-docs.png"))
    assert all(url.startswith(live_server) for url in requests), [u for u in requests if not u.startswith(live_server)]
    assert page.csp_problems == []
