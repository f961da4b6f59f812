"""JSON-ready copies of the domain's results: one rule behind every ``as_dict``.

A result's ``as_dict`` is :func:`fields_dict` (each field by name, in the order
of the dataclass), possibly with a field written differently by the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date
from typing import Any


def json_ready(value: Any) -> Any:
    """``value`` in JSON types: a result through its ``as_dict`` (another dataclass by
    :func:`fields_dict`), a mapping as a dict, a tuple or list as a list, a date in ISO
    format; the rest as it is. Containers are copied, never shared."""
    if is_dataclass(value) and not isinstance(value, type):
        as_dict = getattr(value, "as_dict", None)
        return as_dict() if as_dict is not None else fields_dict(value)
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [json_ready(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def fields_dict(result: Any) -> dict[str, Any]:
    """The dataclass ``result`` as a dict of its fields, each :func:`json_ready`."""
    return {f.name: json_ready(getattr(result, f.name)) for f in fields(result)}
