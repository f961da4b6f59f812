"""Fixtures of the counter tests: a signed-in pharmacist on a contract's entry page."""

from __future__ import annotations

import pytest
from test_portal_support import PORTALS, entry_url, login, open_entry

PHARMACY = PORTALS["PHARMACIST"]


@pytest.fixture
def counter(client, shop):
    """A signed-in pharmacist on the entry page of the ``active`` contract: (client, hidden fields, url)."""
    login(client, shop.users["pharmacist"])
    _page, hidden = open_entry(client, PHARMACY, shop.contracts["active"])
    return client, hidden, entry_url(PHARMACY, shop.contracts["active"])
