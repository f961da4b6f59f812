"""Short claim references: shape, check symbol, reading as typed."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain import reference

CARE_TYPES = st.sampled_from(sorted(reference.PREFIXES))


@settings(deadline=None)  # a shared, busy machine: no per-example time limit
@given(care_type=CARE_TYPES, value=st.integers(min_value=0, max_value=reference.SPACE - 1))
def test_a_reference_reads_back_as_typed_by_a_person(care_type, value):
    ref = reference.new_reference(care_type, date(2026, 3, 1), value)
    assert len(ref) == reference.LENGTH and ref.startswith(reference.PREFIXES[care_type] + "-26-")
    assert reference.normalise(ref) == ref
    assert reference.normalise(ref.lower().replace("-", " ")) == ref
    assert reference.normalise(ref.replace("-", "").replace("0", "O").replace("1", "I")) == ref


@settings(deadline=None)  # a shared, busy machine: no per-example time limit
@given(care_type=CARE_TYPES, value=st.integers(min_value=0, max_value=reference.SPACE - 1),
       position=st.integers(min_value=0, max_value=9), data=st.data())
def test_one_wrong_symbol_or_a_swap_of_neighbours_is_caught(care_type, value, position, data):
    ref = reference.new_reference(care_type, date(2026, 3, 1), value)
    compact = ref.replace("-", "")
    index = 2 + position  # year and symbols
    alphabet = "0123456789" if index < 4 else reference.ALPHABET
    wrong = data.draw(st.sampled_from([c for c in alphabet if c != compact[index]]))
    assert reference.normalise(compact[:index] + wrong + compact[index + 1:]) is None
    pair = {compact[index], compact[index + 1]} if index + 1 < len(compact) else set()
    # Luhn mod 32 misses the swap of 0 and Z only (as Luhn mod 10 misses 09/90).
    if len(pair) == 2 and pair != {"0", "Z"} and (index > 3 or compact[index + 1].isdigit()):
        swapped = compact[:index] + compact[index + 1] + compact[index] + compact[index + 2:]
        assert reference.normalise(swapped) is None


def test_not_a_reference():
    for text in (None, "", "PH-26", "XX-26-4K7Q-9MXC", "PH-2X-4K7Q-9MXC", "01M8MQ0MRZJGAW6329KFZZMBBV", "PH" * 30):
        assert reference.normalise(text) is None
    assert reference.looks_like("ph 26 4k7q 9mxz") and not reference.looks_like("Ben Ali")


def test_spread_numbers_give_distinct_references():
    refs = {reference.new_reference("lab", date(2026, 1, 1), n * reference.SPREAD) for n in range(10_000)}
    assert len(refs) == 10_000


def test_dates_typed_the_french_way_or_by_a_date_field():
    from dhamen.domain.text import parse_date

    assert parse_date("12/03/2026") == parse_date("12-03-2026") == parse_date("2026-03-12") == date(2026, 3, 12)
    assert parse_date(" 1/3/2026 ") == date(2026, 3, 1)
    for bad in ("31/02/2026", "hier", "2026/03/12", "12/03/26", ""):
        try:
            parse_date(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
