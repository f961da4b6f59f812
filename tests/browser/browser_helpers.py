"""What the browser tests share besides fixtures: Debian's Chromium and its flags."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
