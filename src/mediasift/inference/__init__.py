"""The inference layer: every model declared once (registry), its calls counted and priced (stats),
results reused across jobs (cache), requests from concurrent jobs run together (batcher), and
cheap-first routing with fallbacks."""
