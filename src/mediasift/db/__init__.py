"""PostgreSQL: the one system of record. All SQL lives in this package."""
