"""The HTTP prober: stdlib http.client, TLS verified, redirects followed only when asked, rounds sent by threads."""

from __future__ import annotations

import http.client
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from threading import Lock
from urllib.parse import urljoin, urlsplit

from codereflex.validation.ports import HttpRequest, HttpSample, ToolError

MAX_BODY = 64 * 1024  # what assertions may read of a body; the rest is not downloaded
MAX_REDIRECTS = 5
MAX_THREADS = 64
USER_AGENT = "codereflex-validation/1"


class HttpProber:
    """Each sample opens its own connection (as a new client would: setup time is part of its latency)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls or ssl.create_default_context()  # verifies the certificate and the host name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = Lock()

    def probe(self, request: HttpRequest, count: int) -> list[HttpSample]:
        if count <= 1:
            return [self.sample(request) for _ in range(count)]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="probe")
            pool = self._pool
        return list(pool.map(lambda _: self.sample(request), range(count)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def sample(self, request: HttpRequest) -> HttpSample:
        started = time.perf_counter()
        url, method, body = request.url, request.method, request.body
        deadline = started + request.timeout_s
        for _ in range(MAX_REDIRECTS + 1):
            try:
                status, headers, content = self._once(
                    method, url, request, body, max(0.001, deadline - time.perf_counter())
                )
            except TimeoutError:
                return HttpSample(None, _ms(started), failure="timeout")
            except ssl.SSLError as error:
                return HttpSample(None, _ms(started), failure=f"TLS: {error.reason or type(error).__name__}")
            except ConnectionRefusedError:
                return HttpSample(None, _ms(started), failure="connection refused")
            except (OSError, http.client.HTTPException) as error:
                return HttpSample(None, _ms(started), failure=type(error).__name__)
            location = headers.get("location")
            if not (request.follow_redirects and status in (301, 302, 303, 307, 308) and location):
                return HttpSample(status, _ms(started), headers, content)
            url = urljoin(url, location)
            if status == 303 or (status in (301, 302) and method == "POST"):  # noqa: PLR2004
                method, body = "GET", None
        return HttpSample(None, _ms(started), failure=f"more than {MAX_REDIRECTS} redirects")

    def _once(
        self, method: str, url: str, request: HttpRequest, body: bytes | None, timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ToolError(f"cannot probe a URL with scheme {parts.scheme!r}")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=self._tls)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": USER_AGENT, "Connection": "close", **request.headers}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read(MAX_BODY)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, content
        finally:
            connection.close()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
