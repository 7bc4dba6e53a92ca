"""Entry point: a function URL request → the approval page (placeholder until the page lands: decides nothing)."""

from __future__ import annotations

from typing import Any

_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Fails closed: nothing is read, decided or logged until the page function replaces this module.
    return {"statusCode": 503, "headers": _HEADERS, "body": "The approval page is not available yet.\n"}
