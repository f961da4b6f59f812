"""The claim-entry mechanism and its four provider blueprints."""
