"""Who may do what: authentication, roles, RBAC, tenancy."""
