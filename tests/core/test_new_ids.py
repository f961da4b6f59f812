"""``new_ids``: ULIDs in bulk for the import — same form as ``new_id``, unique, increasing, of now."""

from __future__ import annotations

import time

from ulid import ULID

from dhamen.core.sqltypes import new_id, new_ids


def test_bulk_ids_are_ulids_of_now_unique_and_increasing():
    before = time.time() - 1
    ids = new_ids(20_000)
    assert len(set(ids)) == 20_000 and ids == sorted(ids)
    assert all(len(i) == 26 and str(ULID.from_str(i)) == i for i in ids[:100] + ids[-100:])
    assert before <= ULID.from_str(ids[0]).timestamp <= time.time() + 1
    assert len(new_id()) == 26 and new_ids(0) == []
    assert not set(ids) & set(new_ids(20_000))  # another batch: another random start
