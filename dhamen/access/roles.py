"""Role labels (French) and the page each role lands on after login."""

from __future__ import annotations

ROLE_LABELS = {
    "ADMIN": "Administrateur",
    "INSURER_ADMIN": "Administrateur assureur",
    "INSURER_AGENT": "Agent assureur",
    "PHARMACIST": "Pharmacien",
    "DOCTOR": "Médecin",
    "LAB_MANAGER": "Responsable de laboratoire",
    "CLINIC_ADMIN": "Administrateur de clinique",
}

HOME_ENDPOINTS = {
    "ADMIN": "admin.home",
    "INSURER_ADMIN": "insurer.home",
    "INSURER_AGENT": "insurer.home",
    "PHARMACIST": "pharmacist.home",
    "DOCTOR": "doctor.home",
    "LAB_MANAGER": "lab.home",
    "CLINIC_ADMIN": "clinic.home",
}

# Roles that must use MFA unless an admin changes it (AppSetting "mfa_required_roles").
DEFAULT_MFA_ROLES = ("ADMIN", "INSURER_ADMIN", "INSURER_AGENT")


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def home_endpoint(role: str) -> str:
    """The role's home page, or the account page while that portal is not registered."""
    from flask import current_app

    endpoint = HOME_ENDPOINTS.get(role, "auth.account")
    return endpoint if endpoint in current_app.view_functions else "auth.account"
