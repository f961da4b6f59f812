"""The domain tests run plain Python: no Flask app, no database (the rules import no Flask)."""

from __future__ import annotations

import pytest
from flask import has_app_context


@pytest.fixture(autouse=True)
def _no_app():
    """A domain test that needed an app (``ctx``, ``app``) would hide a Flask import in the rules."""
    assert not has_app_context()
    yield
