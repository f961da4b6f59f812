"""Reference catalogue: content, lookup and autocomplete."""

import pytest

from dhamen.domain import catalogue
from dhamen.domain.catalogue import (
    CARE_TYPES,
    PROVIDER_CARE_TYPE,
    ROOM_DAY_CATEGORY,
    CatalogueItem,
    find,
    items_for,
    reference_bareme,
    search,
)


def test_care_types_and_provider_mapping():
    assert CARE_TYPES == ("pharmacy", "consultation", "lab", "hospitalization")
    assert dict(PROVIDER_CARE_TYPE) == {
        "pharmacist": "pharmacy",
        "doctor": "consultation",
        "lab": "lab",
        "clinic": "hospitalization",
    }
    assert set(catalogue.CARE_TYPE_LABELS) == set(CARE_TYPES)


@pytest.mark.parametrize("care_type", CARE_TYPES)
def test_items_are_well_formed(care_type):
    items = items_for(care_type)
    assert items
    codes = [item.code for item in items]
    assert len(set(codes)) == len(codes)
    for item in items:
        assert isinstance(item, CatalogueItem)
        assert item.care_type == care_type
        assert item.code == item.code.strip().upper()
        assert 1 <= len(item.code) <= 32
        assert item.label.strip()
        assert type(item.unit_price) is int
        assert 0 < item.unit_price <= 10_000_000
        assert item.category


def test_pharmacy_content():
    drugs = items_for("pharmacy")
    assert 55 <= len(drugs) <= 70
    assert sum(item.is_generic for item in drugs) >= 15
    categories = {item.category for item in drugs}
    assert {"antibiotique", "antalgique", "cosmetique", "vitamine"} <= categories
    amox = find("pharmacy", "PH0001")
    assert amox is not None
    assert amox.label == "Amoxicilline 1 g cp B/12"
    assert amox.is_generic


def test_expected_acts_exist():
    for code in ("C1", "C2", "C3", "V1", "V2", "K10"):
        assert find("consultation", code) is not None
    for code in ("B-NFS", "B-GLY", "B-HBA1C", "B-EAL", "B-TSH", "B-CRP", "B-ECBU"):
        assert find("lab", code) is not None
    for code in ("CH-J", "BLOC", "ACC", "KC100"):
        assert find("hospitalization", code) is not None
    room = find("hospitalization", "CH-J")
    assert room is not None
    assert room.category == ROOM_DAY_CATEGORY


def test_find_is_case_insensitive_and_scoped_by_care_type():
    assert find("consultation", " c1 ") == find("consultation", "C1")
    assert find("pharmacy", "C1") is None
    assert find("pharmacy", "NOPE") is None


def test_unknown_care_type():
    with pytest.raises(ValueError, match="Type de soin inconnu"):
        items_for("dental")
    with pytest.raises(ValueError, match="dental"):
        find("dental", "X")
    with pytest.raises(ValueError, match="dental"):
        search("dental", "x")


def test_search_by_label_ignores_case_and_accents():
    codes = [item.code for item in search("pharmacy", "AMOX")]
    assert codes == ["PH0001", "PH0002", "PH0004"]
    assert [item.code for item in search("pharmacy", "cefixime")] == ["PH0008"]
    assert [item.code for item in search("pharmacy", "ESOMEPRAZOLE")] == ["PH0032"]
    assert [item.code for item in search("lab", "glyquee")] == ["B-HBA1C"]


def test_search_all_words_must_match():
    assert [item.code for item in search("pharmacy", "amoxicilline 500")] == ["PH0002"]
    assert search("pharmacy", "amoxicilline zzz") == []


def test_search_code_prefix_first_shortest_first():
    results = search("hospitalization", "kc1")
    assert [item.code for item in results] == ["KC100", "KC150"]
    consultation = [item.code for item in search("consultation", "c", limit=50)]
    assert consultation[:4] == ["C1", "C2", "C3", "CNP"]
    # label matches (e.g. "Échographie") come after the code-prefix matches
    assert "Z15" in consultation
    assert consultation.index("Z15") > 3


def test_search_code_prefix_ignores_spaces():
    assert [item.code for item in search("lab", "b-n fs")] == ["B-NFS"]


def test_search_limit_and_empty_query():
    assert len(search("pharmacy", "", limit=5)) == 5
    assert search("pharmacy", "  ", limit=3) == list(items_for("pharmacy")[:3])
    assert len(search("pharmacy", "ph", limit=7)) == 7
    assert search("pharmacy", "ph", limit=0) == []


def test_reference_bareme_leaves_out_cosmetics():
    bareme = reference_bareme()
    assert set(bareme) == set(CARE_TYPES)
    assert bareme["pharmacy"]["PH0001"] == 5_600
    assert "PH0057" not in bareme["pharmacy"]
    assert bareme["hospitalization"]["CH-J"] == 180_000
    assert "PH0057" in reference_bareme(exclude_categories=())["pharmacy"]


# --- codes of an insurer barème or a convention, beside the catalogue -----------------------------

def test_tariff_items_merge_convention_first_and_ignore_bad_sources():
    from dhamen.domain.coverage import tariff_items

    bareme = {"pharmacy": {"PH0001": 5_600, "phx900 ": 12_000}, "lab": {"B-NFS": 9_000}}
    items = tariff_items("pharmacy", bareme, {"tariffs": {"PHX900": 11_000, "PHX901": 3_000}})
    assert [(i.code, i.unit_price, i.label) for i in items] == [
        ("PH0001", 5_600, ""), ("PHX900", 11_000, ""), ("PHX901", 3_000, "")]
    assert [i.code for i in tariff_items("pharmacy", {"pharmacy": {"X": -1}}, {"tariffs": {"Y": 1}})] == ["Y"]
    assert tariff_items("pharmacy", {"pharmacy": "nope"}, {"oops": 1}) == []
    assert tariff_items("lab", None, None) == []


def test_search_adds_extra_codes_without_shadowing_the_catalogue():
    from dhamen.domain.coverage import tariff_items

    extra = tariff_items("pharmacy", {"pharmacy": {"PH0001": 1, "PHX900": 12_000}}, None)
    found = catalogue.search("pharmacy", "PH0001", 5, extra)
    assert found[0].label and found[0].unit_price == catalogue.find("pharmacy", "PH0001").unit_price
    assert [i.code for i in catalogue.search("pharmacy", "phx", 5, extra)] == ["PHX900"]
    assert catalogue.search("pharmacy", "phx", 5) == []
    assert len(catalogue.search("pharmacy", "", 500, extra)) == len(catalogue.items_for("pharmacy")) + 1
