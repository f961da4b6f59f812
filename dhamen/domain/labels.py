"""The French words a person reads for the internal values of claims and contracts.

One definition each, read by the portals' templates (filters registered app-wide),
the API's ``statusLabel`` and the services' messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .catalogue import CARE_TYPE_LABELS

__all__ = ["CARE_TYPE_LABELS", "CONTRACT_STATUS_LABELS", "PLAN_LABELS", "PROVIDER_TYPE_LABELS",
           "RECONCILIATION_STATUS_LABELS", "STATUS_LABELS"]

STATUS_LABELS: Mapping[str, str] = MappingProxyType({
    "pending": "En cours",
    "eligible": "Éligible",
    "approved": "Approuvée",
    "pending_review": "En attente de validation",
    "blocked": "Bloquée",
    "rejected": "Refusée",
    "paid": "Payée",
})
CONTRACT_STATUS_LABELS: Mapping[str, str] = MappingProxyType(
    {"active": "Actif", "suspended": "Suspendu", "expired": "Expiré", "cancelled": "Résilié"})
PROVIDER_TYPE_LABELS: Mapping[str, str] = MappingProxyType(
    {"pharmacist": "Pharmacie", "doctor": "Cabinet médical", "lab": "Laboratoire", "clinic": "Clinique"})
PLAN_LABELS: Mapping[str, str] = MappingProxyType(
    {"individual": "Individuel", "family": "Famille", "corporate": "Groupe (entreprise)"})
RECONCILIATION_STATUS_LABELS: Mapping[str, str] = MappingProxyType(
    {"generated": "Généré", "sent": "Envoyé", "paid": "Payé"})
