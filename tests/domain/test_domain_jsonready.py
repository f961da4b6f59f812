"""Every domain result's ``as_dict``: all its fields, in JSON types, copied (one rule: ``domain.jsonready``)."""

import json
from dataclasses import fields
from datetime import date

from dhamen.domain.adjudication import ClaimContext, adjudicate
from dhamen.domain.coverage import ItemInput, Tariffs
from dhamen.domain.eligibility import ContractTerms
from dhamen.domain.jsonready import fields_dict, json_ready
from dhamen.domain.reconciliation import ClaimRow, summarize

CONFIG = {"bareme_version": "B-1", "bareme": {"pharmacy": {"PH0001": 5_000}}}


def _results():
    terms = ContractTerms(id="C-1", status="active", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                          carence_days=0, annual_limit=None, coverage={"pharmacy": {"rate": 80, "generic_rate": 90}})
    ctx = ClaimContext(care_type="pharmacy", care_date=date(2026, 3, 12), terms=terms,
                       tariffs=Tariffs.from_configs(CONFIG, None), insurer_config=CONFIG)
    decision = adjudicate(ctx, [ItemInput("PH0001", "Amoxicilline", 2, 5_600), ItemInput("PH0057", "X", 1, 38_000)])
    summary = summarize([ClaimRow("c1", "p1", "Clinique El Amen", 10_000, 8_000)], 150)
    return [decision, decision.lines[0], decision.eligibility, decision.eligibility.benefits["pharmacy"], summary,
            summary.providers[0]]


def test_every_result_gives_every_field_in_json_types():
    for result in _results():
        data = result.as_dict()
        assert list(data) == [f.name for f in fields(result)], type(result).__name__
        assert json.loads(json.dumps(data)) == data, type(result).__name__


def test_nested_results_and_dates():
    decision = _results()[0]
    data = decision.as_dict()
    assert data["lines"][0] == decision.lines[0].as_dict()
    assert data["eligibility"]["on"] == "2026-03-12"
    assert data["eligibility"]["benefit_period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["eligibility"]["benefits"]["pharmacy"]["rate_bp"] == 8000
    assert isinstance(data["lines"][0]["reason_codes"], list)


def test_copies_share_nothing():
    line = _results()[1]
    data = line.as_dict()
    data["adjudication"][0]["amount"] = -1
    assert line.adjudication[0]["amount"] != -1
    assert line.as_dict() == fields_dict(line)


def test_plain_values():
    assert json_ready({"a": (1, date(2026, 1, 2)), "b": None}) == {"a": [1, "2026-01-02"], "b": None}
