"""A Lambda function URL on loopback: each HTTP request becomes a payload 2.0 event for a function, run in-process.

What Lambda's function URL front end does, as far as a browser can tell: the request is turned
into the event (lowercase header names, cookies in their own list, the body base64-encoded unless
its type is text), the function is invoked synchronously, and its result is written back (a dict
with `statusCode` as the response; anything else as a 200 JSON body). A function error is a 502
with "Internal Server Error", never the error itself. `invoke` is the sandbox's router, so the
handler runs with its template environment, exactly as an EventBridge delivery would.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Invoke = Callable[[dict[str, Any]], Any]
# Function URLs pass these bodies as text; any other type arrives base64-encoded (isBase64Encoded).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/graphql")
# Function URLs accept request bodies up to 6 MB (Lambda's synchronous payload limit).
MAX_BODY = 6 * 1024 * 1024
_ACCOUNT = "anonymous"  # an AuthType NONE URL: requestContext.accountId is "anonymous"


def url_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    domain: str,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
    now: float | None = None,
) -> dict[str, Any]:
    """The function URL event (payload format 2.0) for one HTTP request."""
    parts = urlsplit(target)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    epoch_ms = int((time.time() if now is None else now) * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": merged,
        "requestContext": {
            "accountId": _ACCOUNT,
            "apiId": domain.split(".", 1)[0],
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if parts.query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    if body:
        content_type = merged.get("content-type", "").lower()
        if content_type.startswith(_TEXT_TYPES):
            event["body"] = body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class FunctionUrlServer:
    """`http://127.0.0.1:<port>/` serving one function; bound when made, so a taken port raises in the caller."""

    def __init__(self, invoke: Invoke, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._invoke = invoke
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        self.url = f"http://{host}:{port}/"  # a function URL ends with "/", as Lambda's FunctionUrl does
        self.domain = f"{host}:{port}"

    def start(self) -> FunctionUrlServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-function-url", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def respond(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Invoke the function with `event`; its result as status, headers and body."""
        try:
            result = self._invoke(event)
        except Exception:  # the function failed: Lambda's function URL says only this
            return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        return _response(result)


def _response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        # A function URL treats any other result as the JSON body of a 200.
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return int(result["statusCode"]), headers, raw


def _handler_class(server: FunctionUrlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._write(413, [("Content-Type", "application/json")], b'{"Message":"Request Too Long"}')
                return
            body = self.rfile.read(length) if length else b""
            event = url_event(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                domain=server.domain,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            self._write(*server.respond(event))

        def _write(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no line per request: the function's own logs say what happened

    return Handler
