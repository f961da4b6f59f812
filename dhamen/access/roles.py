"""The roles: who belongs to an insurer or a provider, their French labels, and the page
each role lands on after login.  One definition, read by the models' constraints, the
RBAC decorators, the admin's forms and the templates (``role_label`` filter)."""

from __future__ import annotations

from flask import current_app

ROLES = ("ADMIN", "INSURER_ADMIN", "INSURER_AGENT", "PHARMACIST", "DOCTOR", "LAB_MANAGER", "CLINIC_ADMIN")
INSURER_ROLES = ("INSURER_ADMIN", "INSURER_AGENT")
PROVIDER_ROLES = ("PHARMACIST", "DOCTOR", "LAB_MANAGER", "CLINIC_ADMIN")
#: provider role -> the provider type (``providers.type``) its establishment must have.
ROLE_PROVIDER_TYPE = {"PHARMACIST": "pharmacist", "DOCTOR": "doctor", "LAB_MANAGER": "lab", "CLINIC_ADMIN": "clinic"}

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
    endpoint = HOME_ENDPOINTS.get(role, "auth.account")
    return endpoint if endpoint in current_app.view_functions else "auth.account"
