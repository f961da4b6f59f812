"""Dhamen domain engine: pure Python, no Flask, no SQLAlchemy.

Modules:

- :mod:`.money`: millimes, TND formatting/parsing, basis-point rates.
- :mod:`.catalogue`: the shipped reference catalogue (drugs, acts, analyses).
- :mod:`.reasons`: stable reason codes and their French labels.
- :mod:`.eligibility`: contract terms, contract year, eligibility check.
- :mod:`.coverage`: per-line pricing (tariff caps, rates, exclusions) and the
  annual-limit allocation.
- :mod:`.fraud`: explainable fraud score.
- :mod:`.config`: the insurer ``config_json`` settings, parsed and checked.
- :mod:`.adjudication`: the claim engine tying the above together.
- :mod:`.reconciliation`: the per-provider statement (*bordereau*) totals.

Every amount is an ``int`` number of millimes; every rate an ``int`` number
of basis points (10000 = 100 %). Messages meant for users are in French.
"""
