"""Ingest: decide what a file is from its bytes, validate it, and read the metadata a user expects."""
