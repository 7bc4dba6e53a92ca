"""How the functions make boto3 clients: the same retries and timeouts everywhere.

Each app.py caches what it makes (in its own module, so a cold start starts afresh)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from codereflex.lazy import LazyClient


def config(read_timeout: int = 10) -> Config:
    """Standard retries (botocore: max_attempts counts retries, so 5 attempts in all, with backoff);
    short timeouts so a hung call fails fast."""
    return Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=read_timeout)


def client(service: str, read_timeout: int = 10) -> Any:
    return boto3.client(service, config=config(read_timeout))  # type: ignore[call-overload]


def lazy_client(service: str, read_timeout: int = 10) -> Any:
    """A client made on first use: an event that needs no call to `service` never pays for its client."""
    return LazyClient(lambda: client(service, read_timeout))
