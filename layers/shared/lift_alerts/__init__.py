"""Shared code for the lift-alert service: models, data access, Woosh client, events, config."""
