"""Operators, the per-media-type pipeline graph, and the runner that writes results with lineage."""
