"""A boto3 client made on first use, so a cold start pays only for the clients an event needs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyClient:
    """Stands in for a boto3 client: the first attribute access builds it, later ones reuse it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
        return self._client

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the proxy itself lacks: every client method and `meta`.
        return getattr(self.client, name)
