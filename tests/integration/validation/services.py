"""Loopback HTTP(S) services whose latency, status and body a test sets, for the prober and the engine."""

from __future__ import annotations

import json
import random
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Behaviour:
    """What the service does; a test changes it while the service runs."""

    def __init__(
        self, latency_ms: float = 0.0, error_rate: float = 0.0, body: bytes = b'{"status": "ok"}', seed: int = 14
    ) -> None:
        self.latency_ms = latency_ms
        self.tail_ms = 0.0  # every tenth request takes this long instead
        self.error_rate = error_rate
        self.body = body
        self.requests = 0
        self._rng = random.Random(seed)  # noqa: S311 - reproducible test traffic
        self._lock = threading.Lock()

    def next(self) -> tuple[float, bool]:
        with self._lock:
            self.requests += 1
            slow = self.tail_ms and self.requests % 10 == 0
            return (self.tail_ms if slow else self.latency_ms), self._rng.random() < self.error_rate


class Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            return self._send(302, b"", {"Location": "/health"})
        if parts.path == "/loop":
            return self._send(302, b"", {"Location": "/loop"})
        if parts.path == "/big":
            return self._send(200, b"x" * (1024 * 1024), {"Content-Type": "text/plain"})
        if parts.path == "/sleep":
            time.sleep(float(query.get("s", ["1"])[0]))
        latency, error = self.behaviour.next()
        time.sleep(latency / 1000)
        if error:
            return self._send(503, b'{"status": "unavailable"}', {"Content-Type": "application/json"})
        return self._send(200, self.behaviour.body, {"Content-Type": "application/json", "X-Echo-Method": self.command})

    do_POST = do_GET

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        if "Content-Length" in self.headers:
            self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):  # the prober gave up on it (a timeout test)
            self.wfile.write(body)


@contextmanager
def service(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A running service on 127.0.0.1; yields its base URL."""
    handler = type("BoundHandler", (Handler,), {"behaviour": behaviour})
    # A listen backlog above the probes' concurrency: with socketserver's default of 5, the sixth of eight
    # simultaneous connects waits for a SYN retransmit, a one-second latency that is the test's, not green's.
    server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the certificate's path."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def json_body(data: Any) -> bytes:
    return json.dumps(data).encode()
