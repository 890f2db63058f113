"""Retrieval over segments: keyword, semantic and hybrid search, moments inside assets."""
