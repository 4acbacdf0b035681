"""Deployment and wiring: settings, the embedded servers, ``ronin up``, the CLI."""
