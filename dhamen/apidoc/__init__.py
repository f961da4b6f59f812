"""The OpenAPI document of /api/v1 and its documentation page (issue 15)."""
