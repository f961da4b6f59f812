"""Shipped reference catalogue: drugs, consultation acts, lab analyses and
hospitalization acts, with French labels and indicative Tunisian prices.

The catalogue feeds the autocomplete of the claim-entry forms and the demo
data. It is *not* a tariff: what an insurer pays is capped by its barème or
by a convention (see :mod:`.coverage`). Two uses inside the engine:

* an item's category is also looked up here, so an exclusion such as
  ``"cat:cosmetique"`` applies to a catalogue code even when the counter left
  the category blank;
* :data:`ROOM_DAY_CATEGORY` marks room days (``"CH-J"``...), whose unit price
  the contract's ``room_day_cap`` limits.

It is also the nomenclature of last resort (see :mod:`.coverage`): a code
of the catalogue of the claim's care type is priced at most at its catalogue
price when neither the convention nor the insurer's barème lists it, and
whether it is a generic is the catalogue's say, not the counter's. Codes of
no tariff at all are *hors nomenclature*.

Quantity rules carried by the items:

* ``days_supply``: days of treatment of one pack of a drug (the refill
  rule of :mod:`.history` computes when a dispensing runs out from it);
  ``None`` for products without a course of treatment (cosmetics...);
* ``max_per_claim``: at most that many units of the code in one claim
  (every consultation act and every analysis: once);
* ``max_per_day``: at most that many units of the code per day for the
  member, across claims (a consultation or a home visit: once a day).

Codes:

* drugs ``PH0001``... (category: therapeutic class; ``cosmetique`` items are
  the ones contracts usually exclude);
* consultation acts after the Tunisian nomenclature: ``C1`` general
  practitioner, ``C2`` specialist, ``C3`` professor, ``V1``/``V2``/``V3``
  home visits, ``K``/``Z`` technical acts with their coefficient;
* lab analyses ``B-...`` (label ends with the B coefficient);
* hospitalization: ``CH-J`` room/day, ``BLOC`` operating-theatre package,
  ``ACC`` delivery, ``KC..`` surgical acts by coefficient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .text import fold, normalize_code

__all__ = [
    "CARE_TYPES",
    "CARE_TYPE_LABELS",
    "PROVIDER_CARE_TYPE",
    "ROOM_DAY_CATEGORY",
    "CatalogueItem",
    "find",
    "items_for",
    "reference_bareme",
    "search",
]

CARE_TYPES: tuple[str, ...] = ("pharmacy", "consultation", "lab", "hospitalization")

CARE_TYPE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "pharmacy": "Pharmacie",
        "consultation": "Consultation",
        "lab": "Analyses de laboratoire",
        "hospitalization": "Hospitalisation",
    }
)

#: Provider type (``providers.type``) -> the care type it claims.
PROVIDER_CARE_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "pharmacist": "pharmacy",
        "doctor": "consultation",
        "lab": "lab",
        "clinic": "hospitalization",
    }
)

#: Category of the room-day items, capped by ``room_day_cap`` of the contract.
ROOM_DAY_CATEGORY = "chambre"


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One reference entry; ``unit_price`` in millimes."""

    code: str
    label: str
    care_type: str
    unit_price: int
    is_generic: bool = False
    category: str | None = None
    days_supply: int | None = None
    max_per_claim: int | None = None
    max_per_day: int | None = None


def _drug(code: str, label: str, price: int, category: str, generic: bool = False) -> CatalogueItem:
    return CatalogueItem(code, label, "pharmacy", price, generic, category, _DAYS_SUPPLY.get(code))


#: Days of treatment per pack (usual adult posology); absent: no course of treatment.
_DAYS_SUPPLY: Mapping[str, int] = MappingProxyType({
    "PH0001": 6, "PH0002": 4, "PH0003": 6, "PH0004": 6, "PH0005": 3, "PH0006": 3, "PH0007": 5,
    "PH0008": 4, "PH0009": 3, "PH0010": 5, "PH0011": 3, "PH0012": 5, "PH0013": 10, "PH0014": 10,
    "PH0015": 10, "PH0016": 10, "PH0017": 10, "PH0018": 30, "PH0019": 30, "PH0020": 30, "PH0021": 30,
    "PH0022": 28, "PH0023": 30, "PH0024": 30, "PH0025": 2, "PH0026": 30, "PH0027": 30, "PH0028": 30,
    "PH0029": 30, "PH0030": 30, "PH0031": 14, "PH0032": 14, "PH0033": 14, "PH0034": 10, "PH0035": 10,
    "PH0036": 10, "PH0037": 30, "PH0038": 60, "PH0039": 28, "PH0040": 15, "PH0041": 15, "PH0042": 28,
    "PH0043": 15, "PH0044": 28, "PH0045": 14, "PH0046": 10, "PH0047": 7, "PH0048": 10, "PH0049": 28,
    "PH0050": 365, "PH0051": 90, "PH0052": 30, "PH0053": 20, "PH0054": 25, "PH0055": 20,
})


_PHARMACY = (
    _drug("PH0001", "Amoxicilline 1 g cp B/12", 5_600, "antibiotique", True),
    _drug("PH0002", "Amoxicilline 500 mg gél B/12", 3_450, "antibiotique", True),
    _drug("PH0003", "Augmentin 1 g/125 mg sachets B/12", 13_500, "antibiotique"),
    _drug("PH0004", "Amoxicilline/Acide clavulanique 1 g cp B/12", 10_200, "antibiotique", True),
    _drug("PH0005", "Zithromax 500 mg cp B/3", 14_600, "antibiotique"),
    _drug("PH0006", "Azithromycine 500 mg cp B/3", 7_800, "antibiotique", True),
    _drug("PH0007", "Ciprofloxacine 500 mg cp B/10", 8_400, "antibiotique", True),
    _drug("PH0008", "Céfixime 200 mg cp B/8", 12_300, "antibiotique", True),
    _drug("PH0009", "Doliprane 1000 mg cp B/8", 2_100, "antalgique"),
    _drug("PH0010", "Paracétamol 500 mg cp B/20", 1_350, "antalgique", True),
    _drug("PH0011", "Efferalgan 1 g cp effervescent B/8", 2_450, "antalgique"),
    _drug("PH0012", "Tramadol 50 mg gél B/20", 4_800, "antalgique", True),
    _drug("PH0013", "Ibuprofène 400 mg cp B/30", 3_900, "anti-inflammatoire", True),
    _drug("PH0014", "Voltarène 50 mg cp B/30", 6_700, "anti-inflammatoire"),
    _drug("PH0015", "Diclofénac 50 mg cp B/30", 3_200, "anti-inflammatoire", True),
    _drug("PH0016", "Prednisolone 20 mg cp orodispersible B/20", 5_100, "corticoide", True),
    _drug("PH0017", "Célestène 0,05 % solution buvable 30 ml", 3_700, "corticoide"),
    _drug("PH0018", "Kardégic 75 mg sachets B/30", 4_100, "cardiologie"),
    _drug("PH0019", "Amlor 5 mg gél B/30", 11_200, "cardiologie"),
    _drug("PH0020", "Amlodipine 5 mg cp B/30", 4_500, "cardiologie", True),
    _drug("PH0021", "Bisoprolol 5 mg cp B/30", 6_100, "cardiologie", True),
    _drug("PH0022", "Losartan 50 mg cp B/28", 9_800, "cardiologie", True),
    _drug("PH0023", "Tahor 20 mg cp B/30", 27_900, "cardiologie"),
    _drug("PH0024", "Atorvastatine 20 mg cp B/30", 12_400, "cardiologie", True),
    _drug("PH0025", "Lovenox 4000 UI/0,4 ml seringues B/2", 23_400, "anticoagulant"),
    _drug("PH0026", "Glucophage 1000 mg cp B/30", 5_900, "antidiabetique"),
    _drug("PH0027", "Metformine 850 mg cp B/30", 3_300, "antidiabetique", True),
    _drug("PH0028", "Gliclazide 60 mg cp LM B/30", 7_400, "antidiabetique", True),
    _drug("PH0029", "Lantus 100 UI/ml stylo prérempli B/5", 98_000, "antidiabetique"),
    _drug("PH0030", "Lévothyrox 100 µg cp B/30", 3_200, "endocrinologie"),
    _drug("PH0031", "Inexium 40 mg cp B/14", 19_800, "gastro-enterologie"),
    _drug("PH0032", "Ésoméprazole 40 mg cp B/14", 11_300, "gastro-enterologie", True),
    _drug("PH0033", "Oméprazole 20 mg gél B/14", 5_900, "gastro-enterologie", True),
    _drug("PH0034", "Dompéridone 10 mg cp B/40", 3_600, "gastro-enterologie", True),
    _drug("PH0035", "Smecta 3 g sachets B/30", 6_250, "gastro-enterologie"),
    _drug("PH0036", "Spasfon 80 mg cp B/30", 4_850, "gastro-enterologie"),
    _drug("PH0037", "Ventoline 100 µg suspension pour inhalation", 4_600, "pneumologie"),
    _drug("PH0038", "Seretide 25/250 µg inhalateur 120 doses", 58_300, "pneumologie"),
    _drug("PH0039", "Montélukast 10 mg cp B/28", 18_500, "pneumologie", True),
    _drug("PH0040", "Desloratadine 5 mg cp B/15", 6_800, "antihistaminique", True),
    _drug("PH0041", "Cétirizine 10 mg cp B/15", 3_450, "antihistaminique", True),
    _drug("PH0042", "Sertraline 50 mg gél B/28", 14_200, "psychiatrie", True),
    _drug("PH0043", "Xanax 0,5 mg cp B/30", 5_400, "psychiatrie"),
    _drug("PH0044", "Allopurinol 300 mg cp B/28", 3_900, "rhumatologie", True),
    _drug("PH0045", "Clotrimazole crème 1 % tube 20 g", 2_900, "dermatologie", True),
    _drug("PH0046", "Fucidine crème 2 % tube 15 g", 6_300, "dermatologie"),
    _drug("PH0047", "Tobradex collyre flacon 5 ml", 7_900, "ophtalmologie"),
    _drug("PH0048", "Larmes artificielles collyre 10 ml", 5_600, "ophtalmologie"),
    _drug("PH0049", "Minidril cp B/21", 2_600, "gynecologie"),
    _drug("PH0050", "Vaccin antigrippal seringue 0,5 ml", 18_000, "vaccin"),
    _drug("PH0051", "Vitamine D3 200 000 UI ampoule buvable", 3_150, "vitamine"),
    _drug("PH0052", "Tardyferon 80 mg cp B/30", 5_300, "vitamine"),
    _drug("PH0053", "Acide folique 5 mg cp B/20", 1_900, "vitamine", True),
    _drug("PH0054", "Magnésium B6 cp B/50", 7_800, "vitamine"),
    _drug("PH0055", "Vitamine C 1000 mg cp effervescent B/20", 5_500, "vitamine"),
    _drug("PH0056", "Sérum physiologique unidoses 5 ml B/40", 4_200, "parapharmacie"),
    _drug("PH0057", "Crème solaire SPF 50+ 50 ml", 38_000, "cosmetique"),
    _drug("PH0058", "Crème hydratante visage 50 ml", 29_500, "cosmetique"),
    _drug("PH0059", "Shampooing antipelliculaire 200 ml", 18_900, "cosmetique"),
    _drug("PH0060", "Lait corporel nourrissant 400 ml", 24_000, "cosmetique"),
    _drug("PH0061", "Dentifrice soin gencives 75 ml", 7_500, "cosmetique"),
)


def _act(code: str, label: str, price: int, category: str) -> CatalogueItem:
    # Every act once per visit; a consultation or a visit once a day for the member.
    per_day = 1 if category in ("consultation", "visite") else None
    return CatalogueItem(code, label, "consultation", price, False, category, None, 1, per_day)


_CONSULTATION = (
    _act("C1", "Consultation médecin généraliste", 45_000, "consultation"),
    _act("C2", "Consultation médecin spécialiste", 70_000, "consultation"),
    _act("C3", "Consultation professeur agrégé / professeur", 90_000, "consultation"),
    _act("CNP", "Consultation neuropsychiatre", 80_000, "consultation"),
    _act("V1", "Visite à domicile médecin généraliste", 60_000, "visite"),
    _act("V2", "Visite à domicile médecin spécialiste", 90_000, "visite"),
    _act("V3", "Visite à domicile professeur", 110_000, "visite"),
    _act("K5", "Acte technique K5 (électrocardiogramme)", 25_000, "acte technique"),
    _act("K10", "Acte technique K10 (petite suture, infiltration)", 40_000, "acte technique"),
    _act("K15", "Acte technique K15 (frottis cervico-vaginal)", 55_000, "acte technique"),
    _act("K20", "Acte technique K20 (exérèse de lésion cutanée)", 70_000, "acte technique"),
    _act("K30", "Acte technique K30 (fibroscopie)", 110_000, "acte technique"),
    _act("Z15", "Échographie abdominale Z15", 60_000, "imagerie"),
    _act("Z20", "Échographie obstétricale Z20", 80_000, "imagerie"),
    _act("Z30", "Échographie doppler Z30", 120_000, "imagerie"),
)


def _analysis(code: str, label: str, price: int, category: str) -> CatalogueItem:
    # An analysis once per claim (a prescription asks for it once).
    return CatalogueItem(code, label, "lab", price, False, category, None, 1)


_LAB = (
    _analysis("B-NFS", "Numération formule sanguine (NFS) B40", 12_000, "hematologie"),
    _analysis("B-VS", "Vitesse de sédimentation (VS) B10", 3_500, "hematologie"),
    _analysis("B-TP", "Taux de prothrombine / INR B30", 9_000, "hematologie"),
    _analysis("B-GS", "Groupe sanguin ABO-Rhésus B50", 15_000, "hematologie"),
    _analysis("B-GLY", "Glycémie à jeun B15", 4_000, "biochimie"),
    _analysis("B-HBA1C", "Hémoglobine glyquée (HbA1c) B60", 18_000, "biochimie"),
    _analysis(
        "B-EAL",
        "Bilan lipidique (cholestérol total, HDL, LDL, triglycérides) B80",
        25_000,
        "biochimie",
    ),
    _analysis("B-CREA", "Créatininémie B15", 5_000, "biochimie"),
    _analysis("B-UREE", "Urée sanguine B12", 4_000, "biochimie"),
    _analysis("B-AU", "Acide urique B15", 5_000, "biochimie"),
    _analysis("B-IONO", "Ionogramme sanguin (Na, K, Cl) B45", 14_000, "biochimie"),
    _analysis("B-TRANS", "Transaminases (ASAT, ALAT) B35", 10_000, "biochimie"),
    _analysis("B-GGT", "Gamma-GT B20", 6_000, "biochimie"),
    _analysis("B-CRP", "Protéine C réactive (CRP) B35", 10_000, "immunologie"),
    _analysis("B-FERR", "Ferritinémie B70", 20_000, "biochimie"),
    _analysis("B-TSH", "TSH ultrasensible B70", 22_000, "hormonologie"),
    _analysis("B-BHCG", "Bêta-HCG plasmatique B70", 22_000, "hormonologie"),
    _analysis("B-VITD", "25-OH vitamine D B150", 45_000, "hormonologie"),
    _analysis("B-PSA", "PSA total B90", 28_000, "immunologie"),
    _analysis("B-ECBU", "Examen cytobactériologique des urines (ECBU) B70", 20_000, "microbiologie"),
)


def _hospital(code: str, label: str, price: int, category: str) -> CatalogueItem:
    return CatalogueItem(code, label, "hospitalization", price, False, category)


_HOSPITALIZATION = (
    _hospital("CH-J", "Chambre individuelle (par jour)", 180_000, ROOM_DAY_CATEGORY),
    _hospital("CH-D", "Chambre double (par jour)", 140_000, ROOM_DAY_CATEGORY),
    _hospital("SI-J", "Soins intensifs (par jour)", 450_000, "reanimation"),
    _hospital("REA-J", "Réanimation (par jour)", 650_000, "reanimation"),
    _hospital("HDJ", "Hospitalisation de jour (forfait)", 250_000, "forfait"),
    _hospital("ADM", "Frais d'admission", 30_000, "forfait"),
    _hospital("BLOC", "Forfait bloc opératoire", 400_000, "forfait"),
    _hospital("ACC", "Accouchement voie basse (forfait)", 1_200_000, "maternite"),
    _hospital("ACC-C", "Accouchement par césarienne (forfait)", 2_200_000, "maternite"),
    _hospital("KC50", "Acte chirurgical KC50 (appendicectomie)", 200_000, "chirurgie"),
    _hospital("KC75", "Acte chirurgical KC75 (cure de hernie inguinale)", 300_000, "chirurgie"),
    _hospital("KC100", "Acte chirurgical KC100 (cholécystectomie)", 400_000, "chirurgie"),
    _hospital("KC150", "Acte chirurgical KC150 (prothèse de hanche)", 600_000, "chirurgie"),
    _hospital("KC200", "Acte chirurgical KC200 (chirurgie cardiaque)", 800_000, "chirurgie"),
    _hospital("ANE", "Anesthésie générale (forfait)", 250_000, "anesthesie"),
    _hospital("PHAR-H", "Pharmacie et consommables hospitaliers (forfait)", 150_000, "consommables"),
)

_BY_CARE_TYPE: Mapping[str, tuple[CatalogueItem, ...]] = MappingProxyType(
    {
        "pharmacy": _PHARMACY,
        "consultation": _CONSULTATION,
        "lab": _LAB,
        "hospitalization": _HOSPITALIZATION,
    }
)

_BY_CODE: Mapping[str, Mapping[str, CatalogueItem]] = MappingProxyType(
    {
        care_type: MappingProxyType({normalize_code(item.code): item for item in items})
        for care_type, items in _BY_CARE_TYPE.items()
    }
)

def _folded(item: CatalogueItem) -> tuple[str, str]:
    """Folded (lower case, no accents) code and "code + label" of an item: what search matches."""
    return fold(item.code), fold(f"{item.code} {item.label}")


# Those of every catalogue item, computed once.
_FOLDED: Mapping[CatalogueItem, tuple[str, str]] = MappingProxyType(
    {item: _folded(item) for items in _BY_CARE_TYPE.values() for item in items}
)


def items_for(care_type: str) -> tuple[CatalogueItem, ...]:
    """All catalogue items of a care type; ``ValueError`` for an unknown one."""
    try:
        return _BY_CARE_TYPE[care_type]
    except KeyError:
        raise ValueError(f"Type de soin inconnu : {care_type!r}") from None


def find(care_type: str, code: str) -> CatalogueItem | None:
    """The item of ``care_type`` with this code (case-insensitive), or ``None``."""
    items_for(care_type)
    return _BY_CODE[care_type].get(normalize_code(code))


def search(care_type: str, query: str, limit: int = 10, extra: Sequence[CatalogueItem] = ()) -> list[CatalogueItem]:
    """Autocomplete: items whose code or label match ``query``.

    ``extra`` adds items the catalogue does not have (the codes of an insurer's
    barème or of a convention); a code of the catalogue keeps its catalogue entry.
    Matching ignores case and accents. Items whose code starts with the query
    (spaces ignored) come first, shortest code first; then the items whose
    code + label contain every word of the query, in catalogue order (the
    extra items after). An empty query returns the first ``limit`` items.
    """
    items = items_for(care_type)
    if limit <= 0:
        return []
    known = _BY_CODE[care_type]
    added = tuple(item for item in extra if normalize_code(item.code) not in known)
    items += added
    folded = fold(query).strip()
    if not folded:
        return list(items[:limit])
    added_keys = {item: _folded(item) for item in added}

    def keys(item: CatalogueItem) -> tuple[str, str]:
        return _FOLDED.get(item) or added_keys[item]

    code_query = folded.replace(" ", "")
    words = folded.split()
    by_prefix = sorted(
        (item for item in items if keys(item)[0].startswith(code_query)),
        key=lambda item: (len(item.code), item.code),
    )
    prefixed = set(by_prefix)
    by_words = [item for item in items if item not in prefixed and all(word in keys(item)[1] for word in words)]
    return (by_prefix + by_words)[:limit]


def reference_bareme(*, exclude_categories: tuple[str, ...] = ("cosmetique",)) -> dict[str, dict[str, int]]:
    """A barème built from the catalogue prices (for demo insurers).

    Returns ``{care_type: {code: unit_price}}`` in the format of the
    insurer ``config_json["bareme"]`` (see :mod:`.coverage`), leaving out the
    items of ``exclude_categories``.
    """
    return {
        care_type: {item.code: item.unit_price for item in items if item.category not in exclude_categories}
        for care_type, items in _BY_CARE_TYPE.items()
    }
