"""Reading the counter's claim form (lines editor, care date, stay details).

Plain Python over a mapping of form fields (``request.form``): no Flask
here, so the rules are testable alone.  Field names::

    care_date                      date of care (clinic: admission date)
    discharge_date, room           clinic only
    idem                           idempotency token of the rendered form
    lines-<n>-code / -label / -qty / -price / -generic

``<n>`` is a row number chosen by the page (rows keep it when others are
removed); rows are read in increasing ``<n>``.  A row left entirely blank
(no code, label nor price) is ignored: the editor always offers an empty
line to type into.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from dhamen.domain import catalogue
from dhamen.domain.coverage import MAX_LINES, MAX_QUANTITY, ItemInput
from dhamen.domain.errors import ItemError, MoneyError
from dhamen.domain.history import OVERRIDE_REASONS
from dhamen.domain.limits import MAX_ROOM_LENGTH, MAX_STAY_DAYS
from dhamen.domain.money import parse_tnd
from dhamen.domain.text import parse_date

_LINE_FIELD = re.compile(r"^lines-(\d{1,4})-(code|label|qty|price|generic)$")
_QUANTITY = re.compile(r"^\d{1,6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LINE_PREFIX = re.compile(r"^Ligne \d+ : ")
# ItemError.field (domain) → the editor's input name.
_DOMAIN_FIELDS = {"code": "code", "label": "label", "quantity": "qty", "unit_price": "price", "is_generic": "generic"}


def new_token() -> str:
    """Idempotency token written into the form when it is rendered."""
    return secrets.token_urlsafe(24)


@dataclass
class LineRow:
    """One row of the editor, as typed, with its problems per input."""

    uid: int
    code: str = ""
    label: str = ""
    qty: str = "1"
    price: str = ""
    generic: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    number: int = 0  # 1-based position on screen

    @property
    def blank(self) -> bool:
        return not (self.code.strip() or self.label.strip() or self.price.strip())

    @property
    def incomplete(self) -> bool:
        return not self.blank and not (self.code.strip() and self.price.strip())

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, _LINE_PREFIX.sub("", message))


@dataclass
class EntryForm:
    rows: list[LineRow]
    care_date_raw: str = ""
    discharge_raw: str = ""
    room: str = ""
    token: str = ""
    errors: list[str] = field(default_factory=list)  # problems not tied to a line
    skipped: list[LineRow] = field(default_factory=list)  # incomplete rows left out of a live preview
    items: list[ItemInput] = field(default_factory=list)
    item_rows: list[LineRow] = field(default_factory=list)  # the row of each item
    care_date: date | None = None
    details: dict = field(default_factory=dict)
    #: "Soumettre à l'assureur": lines the engine would not pay go to the insurer's review
    submit_to_insurer: bool = False
    #: early-refill override reason (a key of dhamen.domain.history.OVERRIDE_REASONS), None if none
    override_reason: str | None = None

    @classmethod
    def blank(cls, lines: int = 1) -> EntryForm:
        form = cls(rows=[LineRow(uid=n) for n in range(lines)], token=new_token())
        form._number()
        return form

    @property
    def line_errors(self) -> list[tuple[int, str]]:
        return [(row.number, message) for row in self.rows for message in row.errors.values()]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or any(row.errors for row in self.rows))

    @property
    def next_uid(self) -> int:
        return max((row.uid for row in self.rows), default=-1) + 1

    def add_row(self) -> None:
        self.rows.append(LineRow(uid=self.next_uid))
        self._number()

    def remove_row(self, uid: int) -> None:
        self.rows = [row for row in self.rows if row.uid != uid] or [LineRow(uid=self.next_uid)]
        self._number()

    def _number(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            row.number = number

    def attach_item_errors(self, errors: list[dict] | list[ItemError]) -> None:
        """Put the engine's per-line errors (1-based over ``items``) on the rows they concern."""
        for error in errors:
            line, name, message = (error.line, error.field, error.message) if isinstance(error, ItemError) \
                else (error.get("line"), error.get("field"), error.get("message", ""))
            if line and 1 <= line <= len(self.item_rows):
                self.item_rows[line - 1].error(_DOMAIN_FIELDS.get(name or "", "code"), message)
            else:
                self.errors.append(message)


def read_entry_form(form: Mapping[str, str], care_type: str, *, today: date, strict: bool,
                    with_stay: bool = False) -> EntryForm:
    """Parse the editor.  ``strict`` (submission): a half-filled row is an
    error; otherwise (live preview) it is left out and listed in ``skipped``.

    Money is typed in TND with a comma or a dot (``5,600`` / ``5.6``) and
    read with :func:`~dhamen.domain.money.parse_tnd`.  The care date is only
    read here (its range is the service's rule, ``parse_care_date``).
    """
    by_uid: dict[int, LineRow] = {}
    for key in form:
        match = _LINE_FIELD.match(key)
        if match is None:
            continue
        uid, name = int(match[1]), match[2]
        row = by_uid.setdefault(uid, LineRow(uid=uid, qty=""))
        value = (form.get(key) or "").strip()
        if name == "generic":
            row.generic = value not in ("", "0", "off", "false")
        else:
            setattr(row, name, value)
    parsed = EntryForm(rows=[by_uid[uid] for uid in sorted(by_uid)],
                       care_date_raw=(form.get("care_date") or "").strip(),
                       token=(form.get("idem") or "").strip())
    if not parsed.rows:
        parsed.rows = [LineRow(uid=0)]
    parsed._number()
    parsed.submit_to_insurer = (form.get("submit_to_insurer") or "") not in ("", "0", "off", "false")
    override = (form.get("override_reason") or "").strip()
    if override and override not in OVERRIDE_REASONS:
        parsed.errors.append("Motif de renouvellement anticipé inconnu : choisissez-le dans la liste.")
    elif override:
        parsed.override_reason = override
    if not _TOKEN.match(parsed.token):
        parsed.token = new_token()

    filled = [row for row in parsed.rows if not row.blank]
    if len(filled) > MAX_LINES:
        parsed.errors.append(f"{MAX_LINES} lignes au maximum par demande ({len(filled)} saisies).")
    for row in filled:
        if row.incomplete and not strict:
            parsed.skipped.append(row)
            continue
        item = _read_row(row, care_type)
        if item is not None:
            parsed.items.append(item)
            parsed.item_rows.append(row)
    if strict and not filled:
        parsed.errors.append("Ajoutez au moins une ligne à la demande.")

    if with_stay:
        _read_stay(form, parsed, today)
    return parsed


def _read_row(row: LineRow, care_type: str) -> ItemInput | None:
    prefix = f"Ligne {row.number}"
    if not row.code:
        row.error("code", f"{prefix} : le code est obligatoire.")
    known = catalogue.find(care_type, row.code) if row.code else None
    if known is not None and not row.label:
        row.label = known.label  # the catalogue names the code when the counter left the label blank
    quantity = None
    if not row.qty:
        row.qty = "1"
    if _QUANTITY.match(row.qty) and 1 <= int(row.qty) <= MAX_QUANTITY:
        quantity = int(row.qty)
    else:
        row.error("qty", f"{prefix} : la quantité doit être un nombre entier de 1 à {MAX_QUANTITY}.")
    price = None
    if not row.price:
        row.error("price", f"{prefix} : saisissez le prix unitaire (en TND, par exemple 5,600).")
    else:
        try:
            price = parse_tnd(row.price)
        except MoneyError as exc:
            row.error("price", f"{prefix} : {exc}")
    if row.errors or quantity is None or price is None:
        return None
    return ItemInput(code=row.code, label=row.label, quantity=quantity, unit_price=price, is_generic=row.generic)


def _read_stay(form: Mapping[str, str], parsed: EntryForm, today: date) -> None:
    """Clinic: the care date is the admission date; discharge (actual or planned) and room are optional."""
    parsed.discharge_raw = (form.get("discharge_date") or "").strip()
    parsed.room = (form.get("room") or "").strip()
    if len(parsed.room) > MAX_ROOM_LENGTH:
        parsed.errors.append(f"Chambre : {MAX_ROOM_LENGTH} caractères au maximum.")
    admission = _iso_date(parsed.care_date_raw) if parsed.care_date_raw else today
    discharge = None
    if parsed.discharge_raw:
        discharge = _iso_date(parsed.discharge_raw)
        if discharge is None:
            parsed.errors.append("Date de sortie invalide (format attendu : jj/mm/aaaa).")
        elif admission is not None and discharge < admission:
            parsed.errors.append("La date de sortie ne peut pas précéder la date d'admission.")
        elif admission is not None and discharge > admission + timedelta(days=MAX_STAY_DAYS):
            parsed.errors.append(f"Séjour de plus de {MAX_STAY_DAYS} jours : vérifiez la date de sortie.")
    details = {"admissionDate": admission.isoformat() if admission else None,
               "dischargeDate": discharge.isoformat() if discharge else None,
               "room": parsed.room or None}
    parsed.details = {k: v for k, v in details.items() if v is not None}


def _iso_date(raw: str) -> date | None:
    try:
        return parse_date(raw)
    except ValueError:
        return None

