"""Retrieval over segments: semantic search, moments inside assets."""
