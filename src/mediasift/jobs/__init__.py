"""Durable jobs: the broker protocol, its backends, and the worker runtime."""
