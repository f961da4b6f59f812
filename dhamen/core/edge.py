"""The input guard at the edge: one check of every request before any view runs.

Whatever the route or form — today's and tomorrow's, none is listed here —
a request is refused, with a French message naming the field at fault, when:

- a **text** (query-string parameter, form field, path parameter, uploaded
  file name, header, JSON string or object key) holds a NUL character
  (PostgreSQL refuses it in ``text`` and ``jsonb``) or an unpaired UTF-16
  surrogate (``"\\ud800"`` in JSON: no UTF-8 encoding exists, so hashing,
  logging or storing it fails);
- a **JSON body** is larger than :data:`MAX_JSON_BYTES`, nested deeper than
  :data:`MAX_JSON_DEPTH` (the parser would recurse until ``RecursionError``),
  not valid JSON, or holds a number no column can store (an integer beyond
  64 bits, ``NaN`` or ``Infinity``);
- a **numeric query parameter** (:data:`NUMERIC_PARAMS`: ``page``,
  ``perPage``…) is an integer outside its bounds (``?page=10^30`` would
  overflow the SQL ``OFFSET``).  A non-integer value is left to the view,
  which has its own message.

The rules are the same on SQLite and PostgreSQL, so the embedded default no
longer hides what PostgreSQL refuses.  API paths answer the JSON envelope
(422 ``VALIDATION_ERROR`` with ``details.field``, 400 ``INVALID_JSON``, 413
``PAYLOAD_TOO_LARGE``); pages answer a French error page (400 or 413).

No Flask in the checks themselves (:func:`text_problem`, :func:`json_depth`,
:func:`walk_json`): they are tested alone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from flask import request

from dhamen.core.http import error_page, error_response, is_api_request
from dhamen.domain.money import group_digits

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
# Every integer a PostgreSQL column can hold (bigint); beyond it, refused in any JSON body.
MAX_JSON_INT = 2**63 - 1
# Query parameters that are integers wherever they appear, with their bounds.
NUMERIC_PARAMS: dict[str, tuple[int, int]] = {
    "page": (1, 1_000_000),
    "perPage": (1, 1_000),
    "per_page": (1, 1_000),
    "limit": (1, 1_000),
    "offset": (0, 100_000_000),
}

_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_LINE_FIELD = re.compile(r"^lines-\d+-(\w+)$")

# French names of the fields people type into, by form or JSON name; other names are shown as sent.
FIELD_LABELS: dict[str, str] = {
    "email": "adresse e-mail",
    "password": "mot de passe",
    "current": "mot de passe actuel",
    "new": "nouveau mot de passe",
    "confirm": "confirmation du mot de passe",
    "code": "code",
    "first_name": "prénom",
    "last_name": "nom",
    "role": "rôle",
    "roles": "rôles",
    "organisation": "organisation",
    "phone": "téléphone",
    "q": "recherche",
    "care_date": "date des soins",
    "discharge_date": "date de sortie",
    "room": "chambre",
    "idem": "jeton du formulaire",
    "du": "date de début (du)",
    "au": "date de fin (au)",
    "statut": "statut",
    "adherent": "adhérent",
    "contrat": "contrat",
    "page": "page",
    "perPage": "nombre par page (perPage)",
    "refreshToken": "jeton de renouvellement (refreshToken)",
    "label": "libellé",
    "qty": "quantité",
    "price": "prix unitaire",
    "generic": "indication « générique »",
    "csrf_token": "jeton CSRF",
    "next": "page de retour",
}
_LINE_LABELS = {"code": "code", "label": "libellé", "qty": "quantité", "price": "prix", "generic": "générique"}


def register_field_labels(labels: dict[str, str]) -> None:
    """A feature adds the French names of its fields (JSON bodies, forms)."""
    for name, label in labels.items():
        FIELD_LABELS.setdefault(name, label)


def field_label(name: str) -> str:
    """The French name of a field for a message: ``items[2].code`` → ``code``."""
    last = re.split(r"[.\[\]]+", name.strip(".[]"))[-1] if name else name
    if m := _LINE_FIELD.match(name):
        return f"ligne, {_LINE_LABELS.get(m.group(1), m.group(1))}"
    label = FIELD_LABELS.get(last) or FIELD_LABELS.get(name)
    return label or _printable(name)


def _printable(name: str) -> str:
    """A field name as it can be shown: NUL and surrogates made visible, length bounded."""
    shown = name.replace("\x00", "\\0")
    shown = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", shown)
    return shown[:60] + ("…" if len(shown) > 60 else "")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    field: str | None
    message: str

    def details(self) -> dict | None:
        if self.field is None:
            return None
        return {"field": self.field, "errors": [{"field": self.field, "message": self.message}]}


def text_problem(value: str) -> str | None:
    """Why this text cannot be accepted (French), or None."""
    if "\x00" in value:
        return "caractère nul (\\0) non autorisé"
    if _SURROGATE.search(value):
        return "caractère Unicode invalide (demi-paire de substitution isolée)"
    return None


def _text_refusal(where: str, name: str, problem: str) -> Refusal:
    label = field_label(name)
    return Refusal(422, "VALIDATION_ERROR", f"{where}{_printable(name)}",
                   f"{label[:1].upper()}{label[1:]} : {problem}.")


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text (brackets inside strings ignored)."""
    brackets = _BRACKETS.findall(_JSON_STRING.sub(b"", raw))
    if not brackets:
        return 0
    return max(accumulate(1 if b in (b"[", b"{") else -1 for b in brackets))


def json_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def walk_json(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every (path, problem) of a parsed JSON value: bad texts (keys too) and unstorable numbers."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield path, problem
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_JSON_INT - 1 <= value <= MAX_JSON_INT:
            yield path, "nombre hors limites"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield path, "nombre invalide (NaN et l'infini ne sont pas acceptés)"
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                yield (*path, key), f"nom de champ invalide : {problem}"
                continue
            yield from walk_json(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_json(item, (*path, index))


def _refuse_constant(name: str):
    raise ValueError(f"constante JSON non acceptée : {name}")


def parse_json(raw: bytes) -> tuple[Any, Refusal | None]:
    """The parsed body, or why it is refused (size, depth, syntax, then its values)."""
    if len(raw) > MAX_JSON_BYTES:
        return None, Refusal(413, "PAYLOAD_TOO_LARGE", None,
                             f"Corps JSON trop volumineux ({MAX_JSON_BYTES // 1024} Kio au maximum).")
    if json_depth(raw) > MAX_JSON_DEPTH:
        return None, Refusal(400, "INVALID_JSON", None,
                             f"Corps JSON trop imbriqué ({MAX_JSON_DEPTH} niveaux au maximum).")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, Refusal(400, "INVALID_JSON", None, "Le corps de la requête n'est pas un JSON valide.")
    for path, problem in walk_json(data):
        return None, _text_refusal("", json_path(path), problem) if path else Refusal(
            422, "VALIDATION_ERROR", "body", f"Corps de la requête : {problem}.")
    return data, None


def numeric_problem(name: str, value: str) -> Refusal | None:
    bounds = NUMERIC_PARAMS.get(name)
    if bounds is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        if value.strip().lstrip("+-").isdigit():  # too many digits for int(): absurd anyway
            number = None
        else:
            return None  # not a number: the view's own message
    low, high = bounds
    if number is not None and low <= number <= high:
        return None
    label = field_label(name)
    return Refusal(422, "VALIDATION_ERROR", name,
                   f"{label[:1].upper()}{label[1:]} : un nombre entier de {group_digits(low)} à "
                   f"{group_digits(high)} est attendu.")


def check_request(request) -> Refusal | None:
    """The first refusal of this request's inputs, or None (Flask's ``request``)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (problem := text_problem(value)):
            return _text_refusal("", name, problem)
        if isinstance(value, int) and not 0 <= value <= MAX_JSON_INT:
            return _text_refusal("", name, "nombre hors limites")
    for name, value in request.args.items(multi=True):
        if problem := text_problem(name) or text_problem(value):
            return _text_refusal("", name, problem)
        if refusal := numeric_problem(name, value):
            return refusal
    for name, value in request.headers.items():
        if "\x00" in value:
            return _text_refusal("en-tête ", name, "caractère nul (\\0) non autorisé")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if problem := text_problem(name) or text_problem(value):
                return _text_refusal("", name, problem)
        for name, upload in request.files.items(multi=True):
            if problem := text_problem(name) or text_problem(upload.filename or ""):
                return _text_refusal("", name, f"nom de fichier : {problem}")
    if request.is_json:
        raw = request.get_data(cache=True)
        if raw.strip():
            data, refusal = parse_json(raw)
            if refusal:
                return refusal
            # Views read the body already checked, through Flask's usual get_json().
            request._cached_json = (data, data)
    return None


def register_input_guard(app) -> None:
    """Install the guard: after authentication, rate limits and CSRF, before any view."""

    @app.before_request
    def _guard_input():
        # A view may allow a larger body (the CSV import) with ``@body_limit(n)``.
        limit = getattr(app.view_functions.get(request.endpoint), "max_content_length", None)
        if limit is not None:
            request.max_content_length = limit
        length = request.content_length
        if length is not None and length > (limit or app.config["MAX_CONTENT_LENGTH"]):
            refusal = Refusal(413, "PAYLOAD_TOO_LARGE", None, "Requête trop volumineuse.")
        else:
            refusal = check_request(request)
        if refusal is None:
            return None
        app.logger.info("entrée refusée sur %s %s: %s", request.method, _printable(request.path), refusal.message)
        if is_api_request():
            return error_response(refusal.status, refusal.code, refusal.message, refusal.details())
        status = 413 if refusal.status == 413 else 400
        return error_page(status, f"{refusal.message} Corrigez la saisie puis réessayez.")
