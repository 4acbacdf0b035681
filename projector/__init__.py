"""Projectors: consumer groups that fold events into read models (PostgreSQL, DuckDB)."""
