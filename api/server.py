"""How the API is served: uvicorn, with its own proxy-header handling off.

uvicorn by default believes ``X-Forwarded-For`` from 127.0.0.1, so behind any local
reverse proxy, ssh tunnel or socat every request could name its own client address,
and a password guesser would be a new client on every guess. Ronin reads client
addresses in one place only (``client_address``, trusting ``TRUSTED_PROXIES``).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def server_config(app: FastAPI, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, proxy_headers=False,
        forwarded_allow_ips="",
    )  # fmt: skip
