"""The onboarding CSV: its columns and the row-by-row check (plain Python, no Flask, no database).

A file is UTF-8 (a BOM is accepted), separated by ``;`` or ``,`` (detected on the
header line), one member and one contract per line.  ``check_file`` reads it all
and returns the rows ready to write and the rejected ones, each with the line and
column named in French.  Nothing is written here: the caller writes every row or
none.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from dhamen.admin.coverage_form import coverage_from_form, exclusions_from_text
from dhamen.core import crypto
from dhamen.domain.catalogue import CARE_TYPE_LABELS
from dhamen.domain.errors import MoneyError
from dhamen.domain.money import parse_tnd

MAX_ROWS = 100_000


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str
    example: str


COLUMNS: tuple[Column, ...] = (
    Column("cin", True, "Numéro de CIN (8 chiffres) ou de passeport", "09876543"),
    Column("nom", True, "Nom de famille", "Ben Salah"),
    Column("prenom", True, "Prénom", "Amira"),
    Column("date_naissance", True, "Date de naissance, jj/mm/aaaa ou aaaa-mm-jj", "14/03/1985"),
    Column("sexe", False, "M ou F", "F"),
    Column("telephone", False, "Téléphone (chiffré en base)", "+216 98 123 456"),
    Column("email", False, "Adresse e-mail", "amira@example.tn"),
    Column("adresse", False, "Adresse", "12 rue de Marseille"),
    Column("ville", False, "Ville", "Tunis"),
    Column("numero_contrat", True, "Numéro du contrat, unique chez l'assureur", "STAR-2026-000123"),
    Column("formule", True, "individuel, famille ou groupe", "famille"),
    Column("debut", True, "Début du contrat (jj/mm/aaaa)", "01/01/2026"),
    Column("fin", True, "Fin du contrat (jj/mm/aaaa), après le début", "31/12/2026"),
    Column("carence_jours", False, "Délai de carence en jours (0 par défaut)", "30"),
    Column("plafond_annuel", False, "Plafond annuel en TND (vide : sans plafond)", "5000"),
    Column("pharmacie_taux", False, "Taux de remboursement pharmacie, en % (vide : non couvert)", "80"),
    Column("pharmacie_taux_generique", False, "Taux pour les génériques, en %", "90"),
    Column("consultation_taux", False, "Taux consultations, en %", "70"),
    Column("laboratoire_taux", False, "Taux analyses de laboratoire, en %", "80"),
    Column("hospitalisation_taux", False, "Taux hospitalisation, en %", "90"),
    Column("hospitalisation_plafond_chambre", False, "Plafond d'une journée de chambre, en TND", "120"),
    Column("exclusions", False, "Exclusions séparées par | (code, préfixe*, cat:catégorie)", "cat:cosmetique|KC*"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
_REQUIRED = tuple(c.name for c in COLUMNS if c.required)
PLANS = {"individuel": "individual", "famille": "family", "groupe": "corporate",
         "individual": "individual", "family": "family", "corporate": "corporate"}
_CARE_COLUMNS = {"pharmacie": "pharmacy", "consultation": "consultation", "laboratoire": "lab",
                 "hospitalisation": "hospitalization"}
_NATIONAL_ID = re.compile(r"^[0-9A-Z]{6,20}$")
_PHONE = re.compile(r"^\+?[0-9 .\-]{8,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[^\d<>{}@;]+$")
_CONTRACT_NUMBER = re.compile(r"^[A-Z0-9/_.\-]+$")


@dataclass
class Rejection:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"Ligne {self.line}" + (f", colonne « {self.column} »" if self.column else "")
        return f"{where} : {self.message}"


@dataclass
class Row:
    line: int
    national_id: str
    national_id_hash: str
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str | None
    phone: str | None
    email: str | None
    address: str | None
    city: str | None
    contract_number: str
    plan_type: str
    start_date: date
    end_date: date
    carence_days: int
    annual_limit: int | None
    coverage: dict
    exclusions: list


@dataclass
class Checked:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    total: int = 0


def template_csv() -> str:
    """The downloadable template: the header and one example line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerow([c.example for c in COLUMNS])
    return "\ufeff" + out.getvalue()


_DATE_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@functools.lru_cache(maxsize=4096)
def _date(text: str) -> date:
    """jj/mm/aaaa or aaaa-mm-jj (ValueError otherwise); dates repeat a lot in a file, hence the cache."""
    if m := _DATE_FR.match(text):
        return date(int(m[3]), int(m[2]), int(m[1]))
    if m := _DATE_ISO.match(text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    raise ValueError(text)


@functools.lru_cache(maxsize=1024)
def _tnd(text: str) -> int:
    """``parse_tnd`` (MoneyError otherwise), cached: a file has a few distinct ceilings."""
    return parse_tnd(text)


def _today() -> date:
    return date.today()


@functools.lru_cache(maxsize=1024)
def _coverage(form_items: tuple) -> tuple[dict, tuple[str, ...]]:
    """``coverage_from_form`` for one set of coverage cells (most lines of a file share a few)."""
    coverage, errors = coverage_from_form(dict(form_items))
    return coverage, tuple(errors)


@functools.lru_cache(maxsize=1024)
def _exclusions(text: str) -> tuple[list, tuple[str, ...]]:
    exclusions, errors = exclusions_from_text(text.replace("|", "\n"))
    return exclusions, tuple(errors)


def read_rows(data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows) of the file; ValueError (French) if it is not a readable CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("Le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 ».") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise ValueError("Le fichier est vide.")
    return [h.strip().lower() for h in header], reader


def check_header(header: list[str]) -> list[Rejection]:
    errors = []
    missing = [c.name for c in COLUMNS if c.required and c.name not in header]
    if missing:
        errors.append(Rejection(1, None, "colonne(s) obligatoire(s) absente(s) : " + ", ".join(missing) + "."))
    unknown = [h for h in header if h not in COLUMN_NAMES]
    if unknown:
        errors.append(Rejection(1, None, "colonne(s) inconnue(s) : " + ", ".join(unknown[:10])
                                + " (voir la liste des colonnes)."))
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        errors.append(Rejection(1, None, "colonne(s) en double : " + ", ".join(duplicated) + "."))
    return errors


def check_row(values: dict[str, str], line: int) -> tuple[Row | None, list[Rejection]]:
    """One line: a ``Row`` or the reasons it is rejected (every problem, each with its column).

    Called once per line of files of 50 000 lines: every cell is read once into a local,
    the checks that repeat across lines (dates, coverage cells, exclusions) are cached.
    """
    errs: list[Rejection] = []

    def err(column: str, message: str) -> None:
        errs.append(Rejection(line, column, message))

    cells = {k: v.strip() for k, v in values.items() if v}
    get = cells.get
    for name in _REQUIRED:
        if not get(name):
            err(name, "valeur obligatoire manquante.")
    raw_id = get("cin", "")
    national_id = crypto.normalise_national_id(raw_id)
    if raw_id and not _NATIONAL_ID.match(national_id):
        err("cin", "8 chiffres (CIN) ou un numéro de passeport (6 à 20 lettres et chiffres) attendus.")
    last_name, first_name = get("nom", ""), get("prenom", "")
    for name, value in (("nom", last_name), ("prenom", first_name)):
        if value and (len(value) > 100 or not _NAME.match(value)):
            err(name, "lettres seulement, 100 caractères au plus.")
    parsed: dict[str, date] = {}
    for name in ("date_naissance", "debut", "fin"):
        if text := get(name):
            try:
                parsed[name] = _date(text)
            except ValueError:
                err(name, f"date invalide « {text[:20]} » (jj/mm/aaaa attendu).")
    birth, start, end = parsed.get("date_naissance"), parsed.get("debut"), parsed.get("fin")
    if birth and (birth > _today() or birth.year < 1900):
        err("date_naissance", "date de naissance impossible.")
    if start and end and end < start:
        err("fin", "la date de fin précède la date de début.")
    gender = get("sexe", "").upper() or None
    if gender and gender not in ("M", "F"):
        err("sexe", "M ou F attendu.")
    phone = get("telephone") or None
    if phone and not _PHONE.match(phone):
        err("telephone", "numéro invalide.")
    email = get("email") or None
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        err("email", "adresse invalide.")
    address, city = get("adresse") or None, get("ville") or None
    if address and len(address) > 300:
        err("adresse", "300 caractères au plus.")
    if city and len(city) > 100:
        err("ville", "100 caractères au plus.")
    number = get("numero_contrat", "").upper()
    if number and (len(number) > 50 or not _CONTRACT_NUMBER.match(number)):
        err("numero_contrat", "lettres, chiffres, /, -, _ et . seulement (50 au plus).")
    plan_text = get("formule", "")
    plan = PLANS.get(plan_text.lower())
    if plan_text and plan is None:
        err("formule", "individuel, famille ou groupe attendu.")
    carence = 0
    if carence_text := get("carence_jours"):
        if not carence_text.isdigit() or int(carence_text) > 3650:
            err("carence_jours", "nombre de jours entre 0 et 3650 attendu.")
        else:
            carence = int(carence_text)
    limit = None
    if limit_text := get("plafond_annuel"):
        try:
            limit = _tnd(limit_text)
        except MoneyError as exc:
            err("plafond_annuel", str(exc))
    form: list[tuple[str, str]] = []
    for prefix, care in _CARE_COLUMNS.items():
        rate, generic, cap = get(f"{prefix}_taux"), get(f"{prefix}_taux_generique", ""), \
            get(f"{prefix}_plafond_chambre", "")
        if rate:
            form += ((f"{care}_covered", "on"), (f"{care}_rate", rate), (f"{care}_generic_rate", generic),
                     (f"{care}_room_day_cap", cap))
        elif generic or cap:
            err(f"{prefix}_taux", "obligatoire quand un taux générique ou un plafond est donné.")
    coverage, coverage_errors = _coverage(tuple(form))
    for message in coverage_errors:
        err(_coverage_column(message), message)
    exclusions, exclusion_errors = _exclusions(get("exclusions", ""))
    for message in exclusion_errors:
        err("exclusions", message)
    if errs:
        return None, errs
    return Row(line=line, national_id=national_id, national_id_hash=crypto.national_id_hash(national_id),
               first_name=first_name, last_name=last_name, date_of_birth=birth, gender=gender, phone=phone,
               email=email, address=address, city=city, contract_number=number,
               plan_type=plan, start_date=start, end_date=end, carence_days=carence, annual_limit=limit,
               coverage=coverage, exclusions=exclusions), []


def _coverage_column(message: str) -> str:
    """The CSV column a coverage message is about (it names the care type and the field)."""
    for prefix, care in _CARE_COLUMNS.items():
        if CARE_TYPE_LABELS[care] in message:
            if "générique" in message:
                return f"{prefix}_taux_generique"
            if "chambre" in message:
                return f"{prefix}_plafond_chambre"
            return f"{prefix}_taux"
    return "pharmacie_taux"


def check_file(data: bytes, progress: Callable[[int], None] | None = None) -> Checked:
    """Every line checked; duplicates inside the file too (same CIN with another identity, same contract)."""
    result = Checked()
    try:
        header, reader = read_rows(data)
    except ValueError as exc:
        result.rejected.append(Rejection(1, None, str(exc)))
        return result
    result.rejected += check_header(header)
    if result.rejected:
        return result
    seen_members: dict[str, tuple] = {}
    seen_contracts: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        result.total += 1
        if result.total > MAX_ROWS:
            result.rejected.append(Rejection(line, None, f"le fichier dépasse {MAX_ROWS} lignes : découpez-le."))
            break
        if len(cells) != len(header):
            result.rejected.append(Rejection(line, None, f"{len(cells)} valeurs pour {len(header)} colonnes "
                                                         "(séparateur ou guillemets à vérifier)."))
            continue
        row, errors = check_row(dict(zip(header, cells, strict=True)), line)
        if row is not None:
            identity = (row.last_name.lower(), row.first_name.lower(), row.date_of_birth)
            first = seen_members.setdefault(row.national_id_hash, (line, identity))
            if first[1] != identity:
                errors.append(Rejection(line, "cin", f"même CIN qu'à la ligne {first[0]} avec un autre nom ou une "
                                                     "autre date de naissance."))
            if row.contract_number in seen_contracts:
                errors.append(Rejection(line, "numero_contrat",
                                        f"contrat déjà présent à la ligne {seen_contracts[row.contract_number]}."))
            else:
                seen_contracts[row.contract_number] = line
        if errors:
            result.rejected += errors
        else:
            result.rows.append(row)
        if progress is not None and result.total % 1000 == 0:
            progress(result.total)
    return result
