"""Fraud rules: each rule, its threshold and its French message."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhamen.domain.coverage import ItemInput
from dhamen.domain.errors import ConfigError
from dhamen.domain.fraud import (
    DEFAULT_POINTS,
    FraudConfig,
    FraudContext,
    RecentClaim,
    assess,
    haversine_km,
    parse_fraud_config,
)

DAY = date(2026, 3, 12)
TUNIS = (36.8065, 10.1815)
ARIANA = (36.8625, 10.1956)
SFAX = (34.7406, 10.7603)
DEFAULTS = FraudConfig()


def item(code="PH0001", quantity=1, unit_price=5_000):
    return ItemInput(code, "x", quantity, unit_price)


def recent(days_before, codes=("PH0001",), provider="P-1", care_type="pharmacy", amount=5_000):
    return RecentClaim(DAY - timedelta(days=days_before), provider, care_type, tuple(codes), amount)


def run(items=None, care_type="pharmacy", config=DEFAULTS, **context):
    return assess(care_type, DAY, items or [item()], FraudContext(**context), config)


def codes(result):
    return [flag["code"] for flag in result.flags]


# -- configuration -------------------------------------------------------------


def test_defaults():
    config = parse_fraud_config(None)
    assert config == parse_fraud_config({}) == DEFAULTS
    assert (config.review_threshold, config.block_threshold) == (40, 75)
    assert config.duplicate_window_days == 3
    assert config.max_claims_per_30_days == 8
    assert config.amount_factor_x100 == 300
    assert dict(config.max_quantity) == {"pharmacy": 10, "default": 20}
    assert config.distance_km == 150
    assert dict(config.points) == dict(DEFAULT_POINTS)
    assert config.max_quantity_for("pharmacy") == 10
    assert config.max_quantity_for("lab") == 20


def test_overrides():
    config = parse_fraud_config(
        {
            "review_threshold": 30,
            "block_threshold": 60,
            "duplicate_window_days": 7,
            "max_claims_per_30_days": 4,
            "amount_factor": "2,5",
            "max_quantity": {"lab": 5},
            "distance_km": 80,
            "points": {"DUPLICATE": 60},
        }
    )
    assert (config.review_threshold, config.block_threshold) == (30, 60)
    assert config.amount_factor_x100 == 250
    assert dict(config.max_quantity) == {"pharmacy": 10, "default": 20, "lab": 5}
    assert config.points["DUPLICATE"] == 60
    assert config.points["FAR_PROVIDER"] == 15
    assert parse_fraud_config({"max_quantity": 30}).max_quantity_for("pharmacy") == 30
    assert parse_fraud_config({"amount_factor": 2.5}).amount_factor_x100 == 250


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ([], "objet JSON"),
        ({"seuil": 3}, "clé inconnue « seuil »"),
        ({"review_threshold": 101}, "review_threshold"),
        ({"review_threshold": "40"}, "review_threshold"),
        ({"block_threshold": 0}, "block_threshold"),
        ({"review_threshold": 80, "block_threshold": 70}, "seuil de contrôle"),
        ({"duplicate_window_days": -1}, "duplicate_window_days"),
        ({"max_claims_per_30_days": 0}, "max_claims_per_30_days"),
        ({"amount_factor": 0.5}, "de 1 à 100"),
        ({"amount_factor": "trois"}, "amount_factor"),
        ({"amount_factor": None}, "amount_factor"),
        ({"max_quantity": {"dental": 3}}, "dental"),
        ({"max_quantity": {"pharmacy": 0}}, "max_quantity.pharmacy"),
        ({"max_quantity": "10"}, "max_quantity"),
        ({"distance_km": 0}, "distance_km"),
        ({"points": {"NEW_RULE": 10}}, "NEW_RULE"),
        ({"points": {"DUPLICATE": 150}}, "points.DUPLICATE"),
        ({"points": 10}, "points"),
    ],
)
def test_config_errors(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_fraud_config(raw)


# -- rules ---------------------------------------------------------------------


def test_clean_claim_scores_zero():
    result = run()
    assert result.score == 0
    assert result.flags == ()


def test_duplicate_within_the_window():
    result = run(recent_claims=[recent(3, provider="P-2")], provider_id="P-1")
    assert result.score == 40
    assert result.flags == (
        {
            "code": "DUPLICATE",
            "points": 40,
            "message": "Déjà facturé dans un délai de 3 jours : PH0001 le 09/03/2026 (autre prestataire)",
        },
    )


def test_duplicate_message_variants():
    same_day = parse_fraud_config({"duplicate_window_days": 0})
    result = run(recent_claims=[recent(0, provider=None)], config=same_day, provider_id="P-1")
    assert result.flags[0]["message"] == "Déjà facturé le même jour : PH0001 le 12/03/2026"
    one_day = parse_fraud_config({"duplicate_window_days": 1})
    result = run(recent_claims=[recent(1)], config=one_day)
    assert result.flags[0]["message"] == "Déjà facturé dans un délai de 1 jour : PH0001 le 11/03/2026"
    assert run(recent_claims=[recent(1)], config=same_day).flags == ()


def test_duplicate_same_provider_and_later_date():
    result = run(recent_claims=[recent(-1, codes=("ph0001",))], provider_id="P-1")
    assert result.flags[0]["message"].endswith("PH0001 le 13/03/2026 (même prestataire)")


def test_duplicate_lists_each_code_once_with_the_closest_claim():
    result = run(
        [item("PH0002"), item("PH0001")],
        recent_claims=[recent(3, ("PH0001", "PH0002"), "P-2"), recent(1, ("PH0001",), "P-1")],
        provider_id="P-1",
    )
    assert result.flags[0]["message"] == (
        "Déjà facturé dans un délai de 3 jours : PH0001 le 11/03/2026 (même prestataire),"
        " PH0002 le 09/03/2026 (autre prestataire)"
    )


@pytest.mark.parametrize(
    "claim",
    [recent(4), recent(1, codes=("PH0002",)), recent(1, care_type="consultation")],
)
def test_no_duplicate(claim):
    assert "DUPLICATE" not in codes(run(recent_claims=[claim]))


def test_frequency():
    eight = [recent(day, codes=("X",)) for day in range(8)]
    result = run(recent_claims=eight)
    assert codes(result) == ["HIGH_FREQUENCY"]
    assert result.flags[0]["message"] == "9 demandes en 30 jours (maximum habituel : 8)"
    assert result.score == 25
    seven = [recent(day, codes=("X",)) for day in range(7)]
    assert run(recent_claims=seven).flags == ()
    # 30 days before, or 24 days after (no 30-day window holds it with the seven): not counted
    outside = [*seven, recent(30, codes=("X",)), recent(-24, codes=("X",))]
    assert run(recent_claims=outside).flags == ()
    # a claim dated after the care date counts as much as one before (claims entered newest first)
    after = [*seven, recent(-1, codes=("X",))]
    assert codes(run(recent_claims=after)) == ["HIGH_FREQUENCY"]
    edge = [*seven, recent(29, codes=("X",))]
    assert codes(run(recent_claims=edge)) == ["HIGH_FREQUENCY"]


def test_unusual_amount():
    exactly = run([item(unit_price=15_000)], usual_amount=5_000)
    assert exactly.flags == ()
    above = run([item(unit_price=15_001)], usual_amount=5_000)
    assert above.flags == (
        {
            "code": "UNUSUAL_AMOUNT",
            "points": 25,
            "message": "Montant 15,001 TND supérieur à 3 fois le montant habituel (5,000 TND)",
        },
    )
    factor = parse_fraud_config({"amount_factor": 2.5})
    assert run([item(unit_price=12_501)], usual_amount=5_000, config=factor).flags[0]["message"] == (
        "Montant 12,501 TND supérieur à 2,5 fois le montant habituel (5,000 TND)"
    )
    assert run([item(unit_price=10**7)], usual_amount=None).flags == ()
    assert run([item(unit_price=10**7)], usual_amount=0).flags == ()


def test_quantity():
    assert run([item(quantity=10)]).flags == ()
    result = run([item("PH0002", quantity=12), item(quantity=11), item("PH0003", quantity=3)])
    assert result.flags == (
        {
            "code": "HIGH_QUANTITY",
            "points": 20,
            "message": ("Quantité au-delà du maximum (10) : PH0001 (quantité 11), PH0002 (quantité 12)"),
        },
    )
    assert run([item("B-NFS", quantity=20)], care_type="lab").flags == ()
    assert codes(run([item("B-NFS", quantity=21)], care_type="lab")) == ["HIGH_QUANTITY"]


def test_distance():
    far = run(
        member_lat=TUNIS[0],
        member_lng=TUNIS[1],
        member_city="Tunis",
        provider_lat=SFAX[0],
        provider_lng=SFAX[1],
        provider_city="Sfax",
    )
    assert codes(far) == ["FAR_PROVIDER"]
    assert far.score == 15
    message = far.flags[0]["message"]
    assert message.startswith("Prestataire à 23")
    assert message.endswith("km du domicile de l'adhérent (Tunis / Sfax), au-delà de 150 km")
    near = run(member_lat=TUNIS[0], member_lng=TUNIS[1], provider_lat=ARIANA[0], provider_lng=ARIANA[1])
    assert near.flags == ()
    unknown = run(member_lat=TUNIS[0], member_lng=TUNIS[1], provider_lat=SFAX[0])
    assert unknown.flags == ()
    no_cities = run(member_lat=TUNIS[0], member_lng=TUNIS[1], provider_lat=SFAX[0], provider_lng=SFAX[1])
    assert "(" not in no_cities.flags[0]["message"]


def test_haversine():
    assert haversine_km(*TUNIS, *TUNIS) == 0
    assert 225 < haversine_km(*TUNIS, *SFAX) < 245
    assert haversine_km(*TUNIS, *SFAX) == pytest.approx(haversine_km(*SFAX, *TUNIS))
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20015.1, rel=1e-3)


def test_score_adds_points_and_is_capped():
    context = {
        "recent_claims": [recent(day) for day in range(8)],
        "usual_amount": 100,
        "member_lat": TUNIS[0],
        "member_lng": TUNIS[1],
        "provider_lat": SFAX[0],
        "provider_lng": SFAX[1],
    }
    items = [item(quantity=50)]
    result = run(items, **context)
    assert codes(result) == [
        "DUPLICATE",
        "HIGH_FREQUENCY",
        "UNUSUAL_AMOUNT",
        "HIGH_QUANTITY",
        "FAR_PROVIDER",
    ]
    assert result.score == 100  # 40 + 25 + 25 + 20 + 15 = 125, capped
    light = parse_fraud_config({"points": dict.fromkeys(DEFAULT_POINTS, 1)})
    assert run(items, config=light, **context).score == 5


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["PH0001", "PH0002", "C1"]), st.integers(1, 30)),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.tuples(st.integers(-5, 40), st.sampled_from(["PH0001", "PH0002", "X"])), max_size=12),
    st.randoms(use_true_random=False),
)
def test_assessment_ignores_order(lines, history, rnd):
    items = [item(code, quantity) for code, quantity in lines]
    claims = [recent(days, (code,), f"P-{days % 2}") for days, code in history]
    base = run(items, recent_claims=claims, provider_id="P-1", usual_amount=3_000)
    rnd.shuffle(items)
    rnd.shuffle(claims)
    again = run(items, recent_claims=claims, provider_id="P-1", usual_amount=3_000)
    assert again == base
    assert 0 <= base.score <= 100
    assert base.score == min(100, sum(flag["points"] for flag in base.flags))
