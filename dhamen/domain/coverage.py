"""Per-line coverage: tariff caps, rates, exclusions, and the annual limit.

Tariff sources
--------------

Insurer ``config_json["bareme"]`` (with ``config_json["bareme_version"]``)::

    {"pharmacy": {"PH0001": 5600,
                  "PX77": {"price": 9000, "category": "cosmetique", "generic": false}},
     "consultation": {"C1": 45000}, ...}

maps care type -> code -> maximum unit price in millimes, or an object with
the price and what the insurer says of the code: its ``category`` (which
exclusions such as ``"cat:cosmetique"`` match, whatever the counter
declares) and whether it is a ``generic``. Without them, the catalogue's
category and generic flag apply to a catalogue code.

Convention ``bareme_json`` (between the insurer and *this* provider), every
key optional::

    {"version": "CONV-STAR-PH-2026",
     "tariffs": {"PH0001": 5200},        # unit price caps, millimes
     "rates": {"pharmacy": 85},          # percent, overrides the contract rate
     "generic_rate": 95}                 # percent, overrides the contract's
                                         # generic rate

Codes are compared in upper case, without surrounding spaces.

Pricing of a line (:func:`price_claim`)
---------------------------------------

1. ``line_total = quantity * unit_price``.
2. Tariff of reference: a price agreed by the insurer's agent for the line
   (``agreed_unit_price``, ``AGREED_TARIFF``), else the convention's tariff
   for the code, else the insurer's barème for the care type and code, else
   the catalogue price of the code *for this care type*
   (``CATALOGUE_TARIFF``), else none: the code is **hors nomenclature**
   (``NO_TARIFF``) and the line is **covered 0**, whatever its price
   (capped unit price and rate 0: nothing is eligible); the counter may
   submit the claim to the insurer, whose agent may agree a price. ``capped_unit_price = min(unit_price, tariff)``; for a room day
   (category ``"chambre"``) it is further capped by the contract's
   ``room_day_cap``. ``capped_total = quantity * capped_unit_price``.
3. Rate: the convention's rate for the care type if set, else the contract's;
   for a generic, the generic rate (the convention's if set, else the
   contract's) replaces it when one is set. Whether a known code is a
   generic is the nomenclature's say (the barème's ``generic``, else the
   catalogue's), never the counter's: a line whose declared flag disagrees
   is priced with the nomenclature's value, shows it, and carries
   ``GENERIC_CORRECTED``.
4. An excluded code or category (see :mod:`.eligibility`) covers nothing.
   The category of a code is the barème's or the catalogue's; the category
   declared on the line can only add an exclusion, never avoid one.
5. ``covered = floor(capped_total * rate_bp / 10000)``,
   ``copay = line_total - covered``.

Lines the insurer does not pay automatically (:class:`PricingRules`)
--------------------------------------------------------------------

Some lines are *held*: the engine does not pay them (or pays part of them)
unless the counter submits the claim to the insurer (``submitted``), in
which case the claim waits for an agent with the line's full coverage
(hors nomenclature: 0 until a price is agreed):

``NO_TARIFF``
    hors nomenclature (above): covered 0.
``QUANTITY_LIMIT``
    the code's quantity goes beyond what is allowed (per claim from the
    catalogue, per day or per period across the member's claims, per the
    insurer's ``quantity_limits``): the allowed quantity is covered, the
    rest is not. With several lines of one code, the allowed quantity goes
    to the lines in canonical order (:func:`line_key`), never in the order
    entered.
``LINE_CEILING``
    the line's eligible amount (``capped_total``) is above the insurer's
    line ceiling: covered 0.
``REFILL_TOO_SOON``
    the drug was dispensed to the member too recently (see
    :mod:`.history`): covered 0, with the date it becomes payable.

Annual limit
------------

When the sum of the lines' coverage exceeds ``remaining`` (what the annual
limit still allows), the claim's coverage becomes exactly ``remaining``,
shared **in proportion** to each line's coverage, with the largest-remainder
method: every line gets ``floor(covered * remaining / total)``, then the
millimes left go one by one to the lines with the largest remainders, ties
broken by the canonical line key ``(code, unit_price, quantity, is_generic,
label, category)``. The result depends on the lines' contents only, never on
their order. A line reduced to 0 is marked ``LIMIT_REACHED``, a line reduced
otherwise ``LIMIT_PARTIAL``.

``bareme_version`` of a claim
-----------------------------

The versions of the tariff sources that decided a non-excluded line, joined
by ``/``, convention first: ``"CONV-STAR-PH-2026/STAR-2026.1"`` when both a
convention (tariff or rate) and the insurer's barème (tariff) were used,
``"CONV-STAR-PH-2026"`` or ``"STAR-2026.1"`` when only one was. When no
tariff nor convention rate was used, the insurer's version is recorded (it is
the barème that was consulted). Sources without a version are left out;
``None`` when nothing is left.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import reasons
from .catalogue import CARE_TYPE_LABELS, CARE_TYPES, ROOM_DAY_CATEGORY, CatalogueItem, find
from .eligibility import Benefit, config_rate, matching_exclusion
from .errors import ConfigError, ItemError, refuse_unknown_keys
from .jsonready import fields_dict
from .money import apply_rate, format_tnd, percent_label
from .text import fold, normalize_code

__all__ = [
    "MAX_CODE_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_UNIT_PRICE",
    "SUBMITTED_NOTE",
    "BaremeEntry",
    "Convention",
    "ItemInput",
    "LineResult",
    "PricedClaim",
    "PricingRules",
    "Reference",
    "Tariffs",
    "Allowance",
    "allocate_limit",
    "allowed_per_line",
    "line_key",
    "parse_bareme",
    "parse_bareme_entries",
    "parse_convention",
    "price_claim",
    "reference_of",
    "unpriced_lines",
    "validate_items",
]

MAX_LINES = 50
MAX_QUANTITY = 999
MAX_UNIT_PRICE = 10_000_000
MAX_CODE_LENGTH = 32
MAX_LABEL_LENGTH = 200
MAX_CATEGORY_LENGTH = 64
#: appended to the rule of a held line the counter sent to the insurer (``PricingRules.submitted``)
SUBMITTED_NOTE = "soumis à l'assureur"

_CONVENTION_KEYS = ("version", "tariffs", "rates", "generic_rate")


@dataclass(frozen=True, slots=True)
class ItemInput:
    """A claim line as entered at the counter (amounts in millimes)."""

    code: str
    label: str
    quantity: int
    unit_price: int
    is_generic: bool = False
    category: str | None = None
    #: unit price agreed by the insurer's agent (review of the claim): it is the line's tariff
    agreed_unit_price: int | None = None


@dataclass(frozen=True, slots=True)
class Convention:
    """A checked convention ``bareme_json`` (rates in basis points)."""

    version: str | None = None
    tariffs: Mapping[str, int] = field(default_factory=dict)
    rates_bp: Mapping[str, int] = field(default_factory=dict)
    generic_rate_bp: int | None = None


@dataclass(frozen=True, slots=True)
class Tariffs:
    """The tariffs a claim is priced with.

    ``insurer_bareme`` is the insurer's ``config_json["bareme"]``,
    ``insurer_version`` its ``config_json["bareme_version"]``, ``convention``
    the ``bareme_json`` of the active convention between the insurer and the
    provider (``None`` without convention).
    """

    insurer_bareme: Mapping[str, Any] = field(default_factory=dict)
    insurer_version: str | None = None
    convention: Mapping[str, Any] | None = None

    @classmethod
    def from_configs(
        cls, insurer_config: Mapping[str, Any], convention: Mapping[str, Any] | None = None
    ) -> Tariffs:
        """Build from the insurer ``config_json`` and a convention ``bareme_json``."""
        return cls(
            insurer_bareme=insurer_config.get("bareme") or {},
            insurer_version=insurer_config.get("bareme_version"),
            convention=convention,
        )


@dataclass(frozen=True, slots=True)
class LineResult:
    """A priced claim line.

    Amounts in millimes, ``rate_bp`` in basis points. ``reason_codes`` are
    stable codes (:mod:`.reasons`), the first one being the main reason;
    ``rule_applied`` is the French sentence stored with the line;
    ``adjudication`` lists FHIR-like steps ``{"category", "amount",
    "value_bp"}`` with categories ``submitted``, ``eligible``, ``rate``,
    ``benefit`` and ``copay``.
    """

    code: str
    label: str
    quantity: int
    unit_price: int
    line_total: int
    capped_unit_price: int
    capped_total: int
    rate_bp: int
    covered: int
    copay: int
    is_generic: bool
    category: str | None
    reason_codes: tuple[str, ...]
    rule_applied: str
    adjudication: tuple[dict[str, Any], ...]
    #: why the line is not paid automatically (``NO_TARIFF``...), ``None`` when it is
    held: str | None = None

    as_dict = fields_dict  # JSON-ready form


@dataclass(frozen=True, slots=True)
class PricedClaim:
    """Lines priced by :func:`price_claim`, with the claim's tariff version
    and how much the annual limit took off."""

    lines: tuple[LineResult, ...]
    bareme_version: str | None
    limit_reduction: int


@dataclass(frozen=True, slots=True)
class PricingRules:
    """What limits a claim's lines beyond tariffs and rates (see the module docstring).

    ``line_ceiling``: maximum eligible amount of a line (millimes, ``None`` =
    none). ``allowed_quantity``: code -> :class:`Allowance`, the units still
    allowed in this claim (per-claim, per-day and per-period limits, the
    member's other claims already subtracted); codes absent are unlimited. ``refill``: code ->
    French reason for a drug dispensed too recently. ``submitted``: the
    counter sends the claim to the insurer's review, held lines included.
    """

    line_ceiling: int | None = None
    allowed_quantity: Mapping[str, Allowance] = field(default_factory=dict)
    refill: Mapping[str, str] = field(default_factory=dict)
    submitted: bool = False


@dataclass(frozen=True, slots=True)
class BaremeEntry:
    """One code of an insurer's barème."""

    price: int
    category: str | None = None
    generic: bool | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """What the nomenclature (barème entry, else catalogue) says of a code."""

    category: str | None
    is_generic: bool
    catalogue: CatalogueItem | None


# -- input validation ---------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_items(care_type: str, items: Sequence[ItemInput]) -> list[ItemError]:
    """Check claim lines before pricing; an empty list means valid.

    Rules: a known care type; 1 to :data:`MAX_LINES` lines; per line a code
    (1 to :data:`MAX_CODE_LENGTH` characters once trimmed), a label of at
    most :data:`MAX_LABEL_LENGTH` characters (may be empty: the counter can
    rely on the code), a whole quantity from 1 to :data:`MAX_QUANTITY`, a
    unit price from 1 to :data:`MAX_UNIT_PRICE` millimes (10 000 TND), a
    boolean generic flag and an optional category. Messages are French and
    name the line and the field.
    """
    errors: list[ItemError] = []
    if care_type not in CARE_TYPES:
        errors.append(ItemError(None, "care_type", f"Type de soin inconnu : « {care_type} »."))
    if not items:
        errors.append(ItemError(None, None, "Ajoutez au moins une ligne à la demande."))
        return errors
    if len(items) > MAX_LINES:
        errors.append(
            ItemError(None, None, f"{MAX_LINES} lignes au maximum par demande (reçu {len(items)}).")
        )
    for number, item in enumerate(items, start=1):
        prefix = f"Ligne {number}"
        code = item.code
        if not isinstance(code, str) or not code.strip():
            errors.append(ItemError(number, "code", f"{prefix} : le code est obligatoire."))
        elif len(code.strip()) > MAX_CODE_LENGTH:
            errors.append(
                ItemError(number, "code", f"{prefix} : le code dépasse {MAX_CODE_LENGTH} caractères.")
            )
        if not isinstance(item.label, str):
            errors.append(ItemError(number, "label", f"{prefix} : le libellé doit être un texte."))
        elif len(item.label.strip()) > MAX_LABEL_LENGTH:
            errors.append(
                ItemError(number, "label", f"{prefix} : le libellé dépasse {MAX_LABEL_LENGTH} caractères.")
            )
        if not _is_int(item.quantity) or not 1 <= item.quantity <= MAX_QUANTITY:
            errors.append(
                ItemError(
                    number,
                    "quantity",
                    f"{prefix} : la quantité doit être un nombre entier de 1 à {MAX_QUANTITY}.",
                )
            )
        if not _is_int(item.unit_price) or not 1 <= item.unit_price <= MAX_UNIT_PRICE:
            errors.append(
                ItemError(
                    number,
                    "unit_price",
                    f"{prefix} : le prix unitaire doit être compris entre {format_tnd(1)}"
                    f" et {format_tnd(MAX_UNIT_PRICE)}.",
                )
            )
        if not isinstance(item.is_generic, bool):
            errors.append(
                ItemError(
                    number,
                    "is_generic",
                    f"{prefix} : l'indication « générique » doit être oui ou non.",
                )
            )
        agreed = item.agreed_unit_price
        if agreed is not None and (not _is_int(agreed) or not 1 <= agreed <= MAX_UNIT_PRICE):
            errors.append(
                ItemError(
                    number,
                    "agreed_unit_price",
                    f"{prefix} : le prix accordé doit être compris entre {format_tnd(1)}"
                    f" et {format_tnd(MAX_UNIT_PRICE)}.",
                )
            )
        category = item.category
        if category is not None and (not isinstance(category, str) or len(category) > MAX_CATEGORY_LENGTH):
            errors.append(
                ItemError(
                    number,
                    "category",
                    f"{prefix} : la catégorie doit être un texte de {MAX_CATEGORY_LENGTH}"
                    " caractères au plus.",
                )
            )
    return errors


# -- tariff sources -----------------------------------------------------------


def _coded(where: str, table: object) -> Iterator[tuple[str, object]]:
    """The ``(code, value)`` pairs of a tariff table; :class:`ConfigError` for a non-object or an empty code."""
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where} : un objet {{"CODE": prix en millimes}} est attendu.')
    for code, value in table.items():
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"{where} : code vide.")
        yield code, value


def _price_table(where: str, table: object) -> dict[str, int]:
    prices: dict[str, int] = {}
    for code, price in _coded(where, table):
        if not _is_int(price) or price <= 0:
            raise ConfigError(
                f"{where}, code « {code} » : le prix doit être un entier de millimes strictement positif."
            )
        prices[normalize_code(code)] = price
    return prices


_ENTRY_KEYS = ("price", "category", "generic", "label")


def _bareme_entry(where: str, code: str, value: object) -> BaremeEntry:
    if _is_int(value) and value > 0:  # type: ignore[operator]
        return BaremeEntry(value)  # type: ignore[arg-type]  # the common case, checked without a detour
    if not isinstance(value, Mapping):
        return BaremeEntry(_price_table(where, {code: value})[normalize_code(code)])
    refuse_unknown_keys(f"{where}, code « {code} »", value, _ENTRY_KEYS)
    price = _price_table(where, {code: value.get("price")})[normalize_code(code)]
    category = value.get("category")
    if category is not None and (
        not isinstance(category, str) or not category.strip() or len(category) > MAX_CATEGORY_LENGTH
    ):
        raise ConfigError(f"{where}, code « {code} » : la catégorie doit être un texte non vide.")
    generic = value.get("generic")
    if generic is not None and not isinstance(generic, bool):
        raise ConfigError(f"{where}, code « {code} » : « generic » doit valoir true ou false.")
    return BaremeEntry(price, category.strip() if category else None, generic)


def parse_bareme_entries(bareme: Mapping[str, Any]) -> dict[str, dict[str, BaremeEntry]]:
    """Check an insurer barème and return its entries with normalised codes.

    A code maps to a price (positive integer of millimes) or to an object
    ``{"price": ..., "category": "...", "generic": true}`` (category and
    generic optional). Raises :class:`ConfigError` for an unknown care type,
    a non-object table, a bad price, category or generic flag.
    """
    if not isinstance(bareme, Mapping):
        raise ConfigError("Barème : un objet par type de soin est attendu.")
    parsed: dict[str, dict[str, BaremeEntry]] = {}
    for care_type, table in bareme.items():
        if care_type not in CARE_TYPES:
            raise ConfigError(
                f"Barème : type de soin inconnu « {care_type} » (attendus : {', '.join(CARE_TYPES)})."
            )
        where = f"Barème {CARE_TYPE_LABELS[care_type]}"
        parsed[care_type] = {normalize_code(code): _bareme_entry(where, code, value)
                             for code, value in _coded(where, table)}
    return parsed


def parse_bareme(bareme: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Check an insurer barème and return its prices with normalised codes
    (see :func:`parse_bareme_entries`)."""
    return {
        care_type: {code: entry.price for code, entry in entries.items()}
        for care_type, entries in parse_bareme_entries(bareme).items()
    }


def parse_convention(bareme_json: Mapping[str, Any] | None) -> Convention | None:
    """Check a convention ``bareme_json``; ``None`` stays ``None``.

    Raises :class:`ConfigError` for unknown keys, a non-string version,
    malformed tariffs or rates.
    """
    if bareme_json is None:
        return None
    if not isinstance(bareme_json, Mapping):
        raise ConfigError("Convention : un objet JSON est attendu.")
    refuse_unknown_keys("Convention", bareme_json, _CONVENTION_KEYS)
    version = bareme_json.get("version")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise ConfigError("Convention : « version » doit être un texte non vide.")
    tariffs = _price_table("Convention, tarifs", bareme_json.get("tariffs") or {})
    rates = bareme_json.get("rates") or {}
    if not isinstance(rates, Mapping):
        raise ConfigError("Convention : « rates » doit être un objet {type de soin: taux}.")
    rates_bp: dict[str, int] = {}
    for care_type, value in rates.items():
        if care_type not in CARE_TYPES:
            raise ConfigError(f"Convention : type de soin inconnu « {care_type} » dans « rates ».")
        rates_bp[care_type] = config_rate(f"Convention, taux {CARE_TYPE_LABELS[care_type]}", value)
    generic = bareme_json.get("generic_rate")
    generic_bp = None if generic is None else config_rate("Convention, taux générique", generic)
    return Convention(version.strip() if version else None, tariffs, rates_bp, generic_bp)


def tariff_items(care_type: str, insurer_bareme: Mapping[str, Any] | None,
                 convention_bareme: Mapping[str, Any] | None) -> list[CatalogueItem]:
    """The codes a counter may bill under these tariffs, as autocomplete entries.

    The convention's tariffs first, then the insurer's barème for the care type;
    ``unit_price`` is the tariff cap, ``label`` is empty (a barème has no labels).
    A malformed source gives nothing: the claim itself reports the error.
    """
    caps: dict[str, int] = {}
    try:
        convention = parse_convention(convention_bareme)
        caps.update(convention.tariffs if convention else {})
    except ConfigError:
        pass
    try:
        for code, price in parse_bareme(insurer_bareme or {}).get(care_type, {}).items():
            caps.setdefault(code, price)
    except ConfigError:
        pass
    return [CatalogueItem(code, "", care_type, price) for code, price in sorted(caps.items())]


def with_tariffs(items: Sequence[CatalogueItem], tariffs: Sequence[CatalogueItem]) -> list[CatalogueItem]:
    """``items`` priced at the tariff that applies (``tariffs`` as :func:`tariff_items` gives
    them) instead of the catalogue's reference price: what the counter pre-fills, so that by
    default the member pays nothing above the tariff."""
    caps = {item.code: item.unit_price for item in tariffs}
    return [
        replace(item, unit_price=caps[code]) if (code := normalize_code(item.code)) in caps else item
        for item in items
    ]


# -- pricing ------------------------------------------------------------------


def line_key(item: ItemInput) -> tuple[str, int, int, bool, str, str]:
    """Canonical sort key of a line, used to break ties independently of order."""
    return (
        normalize_code(item.code),
        item.unit_price,
        item.quantity,
        item.is_generic,
        item.label.strip(),
        item.category or "",
    )


def allocate_limit(amounts: Sequence[int], keys: Sequence[Any], cap: int) -> list[int]:
    """Reduce ``amounts`` so that they sum to at most ``cap``.

    Unchanged when ``sum(amounts) <= cap``. Otherwise shares ``cap`` in
    proportion to the amounts (largest-remainder method, ties broken by
    ``keys`` then by position among equal keys), so every result is between
    0 and its amount and the results sum to ``cap`` exactly.
    """
    if len(amounts) != len(keys):
        raise ValueError("amounts et keys doivent avoir la même longueur")
    if cap < 0 or any(amount < 0 for amount in amounts):
        raise ValueError("montants et plafond doivent être positifs ou nuls")
    total = sum(amounts)
    if total <= cap:
        return list(amounts)
    shares = [amount * cap // total for amount in amounts]
    left = cap - sum(shares)
    by_remainder = sorted(
        range(len(amounts)), key=lambda index: (-(amounts[index] * cap % total), keys[index], index)
    )
    for index in by_remainder[:left]:
        shares[index] += 1
    return shares


def _steps(line_total: int, capped_total: int, rate_bp: int, covered: int) -> tuple[dict[str, Any], ...]:
    return (
        {"category": "submitted", "amount": line_total, "value_bp": None},
        {"category": "eligible", "amount": capped_total, "value_bp": None},
        {"category": "rate", "amount": None, "value_bp": rate_bp},
        {"category": "benefit", "amount": covered, "value_bp": None},
        {"category": "copay", "amount": line_total - covered, "value_bp": None},
    )


def _categories(care_type: str, item: ItemInput) -> tuple[str | None, str | None]:
    """The catalogue's category for the line's code, and the category shown
    on the line (the catalogue's, else the one entered)."""
    reference = find(care_type, item.code)
    reference_category = reference.category if reference else None
    entered = item.category.strip() if item.category else ""
    return reference_category, reference_category or entered or None


def reference_of(care_type: str, code: str, entries: Mapping[str, BaremeEntry]) -> Reference:
    """What the nomenclature says of ``code``: the barème entry's category and
    generic flag when it gives them, else the catalogue's."""
    entry = entries.get(code)
    item = find(care_type, code)
    category = (entry.category if entry is not None else None) or (item.category if item else None)
    if entry is not None and entry.generic is not None:
        generic = entry.generic
    else:
        generic = item.is_generic if item is not None else False
    return Reference(category, generic, item)


@dataclass(frozen=True, slots=True)
class Allowance:
    """Units of a code still allowed in a claim, and why (French, e.g. « une fois par jour »)."""

    quantity: int
    why: str


@dataclass(frozen=True, slots=True)
class _Priced:
    line: LineResult
    used_convention: bool
    used_bareme: bool


@dataclass(frozen=True, slots=True)
class _Cap:
    """Capped unit price of a line, with its reason codes and wording."""

    unit_price: int
    reason_codes: tuple[str, ...]
    text: str
    source: str | None  # "agreement", "convention", "bareme", "catalogue" or None (hors nomenclature)


@dataclass(frozen=True, slots=True)
class _Rate:
    rate_bp: int
    reason_code: str
    text: str
    from_convention: bool


def applicable_tariff(
    code: str, bareme: Mapping[str, int], convention: Convention | None, care_type: str | None = None
) -> tuple[int | None, str | None]:
    """The tariff (unit price cap, millimes) of a normalised ``code`` and where it comes from:
    the convention's tariff if any (``"convention"``), else the insurer's barème of the care
    type (``"bareme"``), else, given the ``care_type``, the catalogue price of the code for that
    care type (``"catalogue"``), else ``(None, None)``: hors nomenclature.  Pricing and the
    counter's pre-filled prices both ask here."""
    if convention is not None and code in convention.tariffs:
        return convention.tariffs[code], "convention"
    if code in bareme:
        return bareme[code], "bareme"
    if care_type is not None:
        reference = find(care_type, code)
        if reference is not None:
            return reference.unit_price, "catalogue"
    return None, None


def applicable_rate(
    care_type: str, benefit: Benefit, convention: Convention | None, is_generic: bool
) -> _Rate:
    """The rate of a line of ``care_type``: for a generic line the generic rate (the
    convention's if set, else the contract's) when one is set; otherwise the convention's
    rate of the care type if set, else the contract's.  Pricing and the rights panel
    (:func:`benefits_under`) both ask here."""
    assert benefit.rate_bp is not None
    if is_generic and convention is not None and convention.generic_rate_bp is not None:
        rate_bp = convention.generic_rate_bp
        return _Rate(
            rate_bp,
            reasons.GENERIC_RATE,
            f"taux générique conventionnel {percent_label(rate_bp)}",
            True,
        )
    if is_generic and benefit.generic_rate_bp is not None:
        rate_bp = benefit.generic_rate_bp
        return _Rate(rate_bp, reasons.GENERIC_RATE, f"taux générique {percent_label(rate_bp)}", False)
    if convention is not None and care_type in convention.rates_bp:
        rate_bp = convention.rates_bp[care_type]
        return _Rate(
            rate_bp,
            reasons.CONVENTION_RATE,
            f"taux conventionnel {percent_label(rate_bp)}",
            True,
        )
    rate_bp = benefit.rate_bp
    return _Rate(rate_bp, reasons.CONTRACT_RATE, f"taux du contrat {percent_label(rate_bp)}", False)


def benefits_under(
    benefits: Mapping[str, Benefit], convention_json: Mapping[str, Any] | None
) -> dict[str, Benefit]:
    """The contract's benefits as its claims are priced under this convention ``bareme_json``
    (``None``: no convention): each covered care type's rate and generic rate are those
    :func:`applicable_rate` gives a line (the generic rate stays ``None`` when neither the
    contract nor the convention sets one: generic lines then take the care type's rate).
    What the rights panel shows.  Raises :class:`ConfigError` for a malformed convention."""
    convention = parse_convention(convention_json)
    if convention is None:
        return dict(benefits)
    out: dict[str, Benefit] = {}
    for care_type, benefit in benefits.items():
        if not benefit.covered or benefit.rate_bp is None:
            out[care_type] = benefit
            continue
        has_generic = benefit.generic_rate_bp is not None or convention.generic_rate_bp is not None
        out[care_type] = replace(
            benefit,
            rate_bp=applicable_rate(care_type, benefit, convention, False).rate_bp,
            generic_rate_bp=applicable_rate(care_type, benefit, convention, True).rate_bp if has_generic else None,
        )
    return out


@dataclass(frozen=True, slots=True)
class _Hold:
    code: str
    covered: int  # what is paid of the line when the claim is not submitted
    text: str


@dataclass(frozen=True, slots=True)
class _Pricer:
    """Prices the lines of one claim (care type, contract and tariffs fixed)."""

    care_type: str
    benefit: Benefit
    exclusions: Sequence[str]
    entries: Mapping[str, BaremeEntry]
    bareme: Mapping[str, int]  # the entries' prices
    bareme_name: str
    convention: Convention | None
    rules: PricingRules

    def cap(self, code: str, item: ItemInput, is_room_day: bool, reference: Reference) -> _Cap:
        unit_price = item.unit_price
        if item.agreed_unit_price is not None:
            tariff: int | None = item.agreed_unit_price
            source: str | None = "agreement"
        else:
            tariff, source = applicable_tariff(code, self.bareme, self.convention, self.care_type)
        if tariff is None:
            label = CARE_TYPE_LABELS[self.care_type].lower()
            return _Cap(  # nothing is eligible until the insurer agrees a price
                0,
                (reasons.NO_TARIFF,),
                f"Code hors nomenclature ({label}) : aucun tarif de référence",
                None,
            )
        source_code, name = {
            "agreement": (reasons.AGREED_TARIFF, "prix accordé par l'assureur"),
            "convention": (reasons.CONVENTION_TARIFF, "tarif conventionnel"),
            "bareme": (reasons.BAREME_TARIFF, f"tarif du {self.bareme_name}"),
            "catalogue": (reasons.CATALOGUE_TARIFF, "prix de référence de la nomenclature"),
        }[source or ""]
        codes: list[str] = []
        if unit_price > tariff:
            capped, text = tariff, f"{name[:1].upper()}{name[1:]} {format_tnd(tariff)} appliqué"
            codes.append(reasons.PRICE_CAPPED)
        else:
            capped, text = unit_price, f"Prix conforme au {name} ({format_tnd(tariff)})"
        room_cap = self.benefit.room_day_cap
        if is_room_day and room_cap is not None and capped > room_cap:
            capped = room_cap
            codes.append(reasons.ROOM_DAY_CAP)
            text += f", plafond chambre/jour du contrat {format_tnd(room_cap)} appliqué"
        return _Cap(capped, (*codes, source_code), text, source)

    def rate(self, is_generic: bool) -> _Rate:
        return applicable_rate(self.care_type, self.benefit, self.convention, is_generic)

    def holds(self, code: str, item: ItemInput, cap: _Cap, rate_bp: int, allowed: int) -> list[_Hold]:
        """Why the line is not (fully) paid automatically; see the module docstring."""
        found: list[_Hold] = []
        rules = self.rules
        if cap.source is None:
            found.append(_Hold(reasons.NO_TARIFF, 0, "non pris en charge sans accord de l'assureur"))
        if allowed < item.quantity:
            why = rules.allowed_quantity[code].why
            found.append(
                _Hold(
                    reasons.QUANTITY_LIMIT,
                    apply_rate(allowed * cap.unit_price, rate_bp),
                    f"quantité prise en charge limitée à {allowed} ({why})",
                )
            )
        capped_total = item.quantity * cap.unit_price
        if cap.source is not None and rules.line_ceiling is not None and capped_total > rules.line_ceiling:
            found.append(
                _Hold(
                    reasons.LINE_CEILING,
                    0,
                    f"montant retenu {format_tnd(capped_total)} au-delà du plafond par ligne"
                    f" ({format_tnd(rules.line_ceiling)})",
                )
            )
        if code in rules.refill:
            found.append(_Hold(reasons.REFILL_TOO_SOON, 0, rules.refill[code]))
        return found

    def line(self, item: ItemInput, allowed: int) -> _Priced:
        code = normalize_code(item.code)
        reference = reference_of(self.care_type, code, self.entries)
        entered = item.category.strip() if item.category else ""
        categories = (entered or None, reference.category)
        category = reference.category or entered or None
        is_room_day = any(fold(c.strip()) == ROOM_DAY_CATEGORY for c in categories if c)
        cap = self.cap(code, item, is_room_day, reference)
        known = cap.source is not None
        is_generic = reference.is_generic if known else item.is_generic
        capped_total = item.quantity * cap.unit_price
        exclusion = matching_exclusion(self.exclusions, code, categories)
        held: str | None = None
        if exclusion is None:
            rate = self.rate(is_generic)
            rate_bp = rate.rate_bp if known else 0
            reason_codes: tuple[str, ...] = (*cap.reason_codes, rate.reason_code) if known else ()
            rule = f"{cap.text}, {rate.text}" if known else cap.text
            if known and item.is_generic != is_generic:
                reason_codes += (reasons.GENERIC_CORRECTED,)
                rule += (
                    f" ; {'générique' if is_generic else 'princeps (non générique)'} selon la nomenclature"
                    " : l'indication saisie est corrigée"
                )
            covered = apply_rate(capped_total, rate_bp) if known else 0
            holds = self.holds(code, item, cap, rate_bp, allowed)
            if holds:
                held = holds[0].code
                reason_codes = tuple(dict.fromkeys((*(hold.code for hold in holds), *reason_codes)))
                rule += " ; " + " ; ".join(hold.text for hold in holds)
                if self.rules.submitted:
                    rule += f" ; {SUBMITTED_NOTE}"
                else:
                    covered = min(covered, *(hold.covered for hold in holds))
            used_convention = rate.from_convention or cap.source == "convention"
            used_bareme = cap.source == "bareme"
        else:
            rate_bp = 0
            reason_codes = (reasons.EXCLUDED,)
            rule = f"Exclu par le contrat (« {exclusion.strip()} ») : non pris en charge"
            used_convention = used_bareme = False
            covered = 0
        line = _line_result(item, code, cap.unit_price, rate_bp, covered, is_generic, category, reason_codes,
                            rule, held)
        return _Priced(line, used_convention, used_bareme)


def _line_result(
    item: ItemInput,
    code: str,
    capped_unit_price: int,
    rate_bp: int,
    covered: int,
    is_generic: bool,
    category: str | None,
    reason_codes: tuple[str, ...],
    rule: str,
    held: str | None = None,
) -> LineResult:
    """The priced line of ``item``: its totals, copay and adjudication steps follow from the rest."""
    line_total = item.quantity * item.unit_price
    capped_total = item.quantity * capped_unit_price
    return LineResult(
        code=code,
        label=item.label.strip(),
        quantity=item.quantity,
        unit_price=item.unit_price,
        line_total=line_total,
        capped_unit_price=capped_unit_price,
        capped_total=capped_total,
        rate_bp=rate_bp,
        covered=covered,
        copay=line_total - covered,
        is_generic=is_generic,
        category=category,
        reason_codes=reason_codes,
        rule_applied=rule,
        adjudication=_steps(line_total, capped_total, rate_bp, covered),
        held=held,
    )


def _limited(line: LineResult, covered: int) -> LineResult:
    """``line`` with its coverage lowered to ``covered`` by the annual limit."""
    if covered == line.covered:
        return line
    if covered == 0:
        code, text = reasons.LIMIT_REACHED, "plafond annuel atteint : aucune prise en charge"
    else:
        code = reasons.LIMIT_PARTIAL
        text = f"plafond annuel : prise en charge réduite de {format_tnd(line.covered - covered)}"
    return replace(
        line,
        covered=covered,
        copay=line.line_total - covered,
        reason_codes=(code, *line.reason_codes),
        rule_applied=f"{line.rule_applied} ; {text}",
        adjudication=_steps(line.line_total, line.capped_total, line.rate_bp, covered),
    )


def allowed_per_line(items: Sequence[ItemInput], allowance: Mapping[str, Allowance]) -> list[int]:
    """The quantity of each line within the allowances of its code, given to
    the lines of one code in canonical order (:func:`line_key`)."""
    left = {code: entry.quantity for code, entry in allowance.items()}
    allowed = [item.quantity for item in items]
    for index in sorted(range(len(items)), key=lambda i: (line_key(items[i]), i)):
        code = normalize_code(items[index].code)
        if code in left:
            allowed[index] = min(items[index].quantity, left[code])
            left[code] -= allowed[index]
    return allowed


def price_claim(
    care_type: str,
    items: Sequence[ItemInput],
    benefit: Benefit,
    exclusions: Sequence[str],
    tariffs: Tariffs,
    remaining: int | None,
    rules: PricingRules | None = None,
) -> PricedClaim:
    """Price the lines of an eligible claim (see the module docstring).

    ``benefit`` is the contract's coverage of ``care_type`` (it must be
    covered), ``exclusions`` the checked exclusion entries, ``remaining``
    what the annual limit still allows (``None`` = no limit), ``rules`` the
    ceilings, quantity limits and refill holds. Lines are returned in the
    order of ``items``. The items must have passed :func:`validate_items`;
    the tariffs are checked here (:class:`ConfigError`).
    """
    if not benefit.covered or benefit.rate_bp is None:
        raise ValueError(f"Type de soin non couvert : {care_type}")
    rules = rules or PricingRules()
    entries = parse_bareme_entries(tariffs.insurer_bareme).get(care_type, {})
    convention = parse_convention(tariffs.convention)
    version = tariffs.insurer_version.strip() if tariffs.insurer_version else None
    pricer = _Pricer(
        care_type=care_type,
        benefit=benefit,
        exclusions=exclusions,
        entries=entries,
        bareme={code: entry.price for code, entry in entries.items()},
        bareme_name=f"barème {version}" if version else "barème de l'assureur",
        convention=convention,
        rules=rules,
    )
    allowed = allowed_per_line(items, rules.allowed_quantity)
    priced = [pricer.line(item, quantity) for item, quantity in zip(items, allowed, strict=True)]
    lines = [entry.line for entry in priced]
    reduction = 0
    if remaining is not None:
        covered = allocate_limit(
            [line.covered for line in lines], [line_key(item) for item in items], remaining
        )
        reduction = sum(line.covered for line in lines) - sum(covered)
        lines = [_limited(line, amount) for line, amount in zip(lines, covered, strict=True)]

    used_convention = any(entry.used_convention for entry in priced)
    used_bareme = any(entry.used_bareme for entry in priced)
    versions: list[str] = []
    if used_convention and convention is not None and convention.version:
        versions.append(convention.version)
    if version and (used_bareme or not used_convention):
        versions.append(version)
    return PricedClaim(tuple(lines), "/".join(versions) or None, reduction)


def unpriced_lines(
    care_type: str, items: Sequence[ItemInput], reason_code: str, message: str
) -> tuple[LineResult, ...]:
    """Lines of a claim that is not eligible: nothing covered, no tariff
    looked up (``capped_*`` = charged amounts), ``reason_codes`` =
    ``(reason_code,)`` and ``rule_applied`` = ``"Non pris en charge : <message>"``."""
    return tuple(
        _line_result(item, normalize_code(item.code), item.unit_price, 0, 0, item.is_generic,
                     _categories(care_type, item)[1], (reason_code,), f"Non pris en charge : {message}")
        for item in items
    )
