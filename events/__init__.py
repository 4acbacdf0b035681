"""Ronin's event catalogue, codec and event store (Redis Streams + PostgreSQL archive)."""
