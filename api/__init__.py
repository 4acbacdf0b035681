"""Ronin's HTTP API (FastAPI): commands become events, queries read read models."""
