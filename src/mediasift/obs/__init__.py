"""Observability: what the system says about itself."""
