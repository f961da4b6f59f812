"""Job functions the RQ workers of the fault tests import by name (``jobs_for_tests.…``)."""

from __future__ import annotations

import time
from pathlib import Path


def always_fails(tag: str) -> None:
    raise RuntimeError(f"panne simulée ({tag})")


def slow_first_time(folder: str) -> str:
    """Notes each attempt; the first one lasts long enough to kill its worker mid-job."""
    path = Path(folder)
    attempts = len(list(path.glob("attempt-*")))
    (path / f"attempt-{attempts + 1}").write_text(str(time.time()))
    if attempts == 0:
        time.sleep(60)
    (path / "done").write_text(str(attempts + 1))
    return "fini"
