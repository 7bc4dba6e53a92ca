"""Blue and green HTTP services on loopback and the load balancer listeners in front of them, for hook tests.

A `Service` is a set of targets, each its own `ThreadingHTTPServer` on a loopback address of its own
(127.0.0.x: ELBv2 keys a target group's targets by id, so two targets on one address would be one
target), answering as its `Behaviour` says at the moment of the request: latency, error rate, a run of
consecutive errors, a wrong body behind a 200. A `Listener` is a reverse proxy on 127.0.0.1 that, per
request, reads its moto ELBv2 listener's forward action (target groups and weights, as the deployment
driver's traffic shifting leaves them), picks a target group by weight and then a healthy target of it
round-robin, as an ALB does: a target the load balancer marks unhealthy gets no traffic (unless every
target is unhealthy, when ELB routes to all). Every knob can be changed while requests are in flight.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}
)
_ADDRESSES = itertools.count(10)
# serve_forever notices shutdown() once per poll: 0.5 s by default, a second and more per stage torn down.
_POLL = 0.02
_ADDRESS_LOCK = threading.Lock()
# ELBv2 routes to every registered target of a group when none is healthy ("fail open").
_REGISTERED = frozenset({"healthy", "unhealthy", "initial", "unavailable"})

Latency = Callable[[random.Random], float]


def fixed(ms: float) -> Latency:
    """Every request takes `ms` milliseconds."""
    return lambda _rng: ms / 1000


def uniform(low_ms: float, high_ms: float) -> Latency:
    return lambda rng: rng.uniform(low_ms, high_ms) / 1000


def tail(base_ms: float, slow_ms: float, slow_share: float) -> Latency:
    """A slow tail: `slow_share` of the requests take `slow_ms`, the rest `base_ms` (the p99 breaker)."""
    return lambda rng: (slow_ms if rng.random() < slow_share else base_ms) / 1000


@dataclass(frozen=True)
class Behaviour:
    """How a target answers. `error_rate` of requests (and the next `consecutive_errors`) get `error_status`."""

    status: int = 200
    body: Any = None  # JSON-serialisable; None means {"status": "ok", "service": <name>}
    latency: Latency = field(default=fixed(0))
    error_rate: float = 0.0
    consecutive_errors: int = 0
    error_status: int = 500
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


class Target:
    """One task of a service: a loopback HTTP server of its own, with a behaviour that can change at any time."""

    def __init__(self, service: str, behaviour: Behaviour, seed: int) -> None:
        self.service = service
        with _ADDRESS_LOCK:
            self.ip = f"127.0.0.{next(_ADDRESSES) % 240 + 10}"
        self._behaviour = behaviour
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - seeded fault injection, not secrets
        self.requests = 0
        self._server = ThreadingHTTPServer((self.ip, 0), _target_handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL,), name=f"target-{service}", daemon=True
        )
        self._thread.start()

    @property
    def behaviour(self) -> Behaviour:
        return self._behaviour

    def behave(self, behaviour: Behaviour | None = None, **changes: Any) -> None:
        """Replace the behaviour, or change some of its fields (`behave(error_rate=0.2)`)."""
        with self._lock:
            self._behaviour = replace(behaviour or self._behaviour, **changes)

    def answer(self) -> tuple[float, int, bytes, tuple[tuple[str, str], ...]]:
        """This request's delay, status, body and headers, decided under the lock so knobs change atomically."""
        with self._lock:
            self.requests += 1
            b = self._behaviour
            delay = max(0.0, b.latency(self._rng))
            failing = b.consecutive_errors > 0 or self._rng.random() < b.error_rate
            if b.consecutive_errors > 0:
                self._behaviour = replace(b, consecutive_errors=b.consecutive_errors - 1)
        body = b.body if b.body is not None else {"status": "ok", "service": self.service}
        if failing:
            return delay, b.error_status, json.dumps({"error": "injected"}).encode(), b.headers
        text = body if isinstance(body, bytes) else json.dumps(body).encode()
        return delay, b.status, text, b.headers

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _target_handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            delay, status, body, headers = target.answer()
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Service:
    """A service's task set: `count` targets sharing a behaviour; `targets[i].behave` sets one apart."""

    def __init__(self, name: str, *, count: int = 2, behaviour: Behaviour | None = None, seed: int = 0) -> None:
        self.name = name
        self.targets = [Target(name, behaviour or Behaviour(), seed + i) for i in range(count)]

    def behave(self, behaviour: Behaviour | None = None, **changes: Any) -> None:
        for target in self.targets:
            target.behave(behaviour, **changes)

    def target(self, ip: str) -> Target:
        return next(t for t in self.targets if t.ip == ip)

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.targets)

    def stop(self) -> None:
        for target in self.targets:
            target.stop()


@dataclass(frozen=True)
class Route:
    """Where one request goes: the target group (ARN) the listener chose and a target (ip, port) of it."""

    target_group_arn: str
    ip: str
    port: int


RouteChooser = Callable[[], Route | None]
# Told of every forwarded request: its route, the target's status and its response time in seconds.
Observer = Callable[[Route, int, float], None]


class Listener:
    """A loopback reverse proxy standing in for one ALB listener; `choose` names each request's target."""

    def __init__(self, name: str, choose: RouteChooser, *, port: int = 0, observe: Observer | None = None) -> None:
        self.name = name
        self.choose = choose
        self.observe = observe
        self.routed: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _proxy_handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL,), name=f"listener-{name}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, route: Route) -> None:
        with self._lock:
            self.routed[route.target_group_arn] = self.routed.get(route.target_group_arn, 0) + 1

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _proxy_handler(listener: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            route = listener.choose()
            if route is None:
                # An ALB with no registered target answers 503.
                self._reply(503, b"", [("Content-Length", "0")])
                return
            listener.count(route)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            connection = http.client.HTTPConnection(route.ip, route.port, timeout=60)
            started = time.monotonic()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                if listener.observe is not None:
                    listener.observe(route, answer.status, time.monotonic() - started)
                kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
                self._reply(answer.status, payload, [*kept, ("Content-Length", str(len(payload)))])
            except OSError:
                self._reply(502, b"", [("Content-Length", "0")])
            finally:
                connection.close()

        def _reply(self, status: int, payload: bytes, headers: Sequence[tuple[str, str]]) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class RoundRobin:
    """ALB's choice for one listener: a target group by weight, then the group's routable targets in turn."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - seeded fault injection, not secrets
        self._turns: dict[str, Iterator[int]] = {}
        self._lock = threading.Lock()

    def pick(
        self, groups: Sequence[tuple[str, int]], targets: Callable[[str], Sequence[tuple[str, int, str]]]
    ) -> Route | None:
        """`groups`: (target group ARN, weight); `targets(arn)`: (ip, port, health state) of its targets."""
        weighted = [(arn, weight) for arn, weight in groups if weight > 0]
        if not weighted:
            return None
        with self._lock:
            arn = self._rng.choices([a for a, _ in weighted], weights=[w for _, w in weighted])[0]
            members = list(targets(arn))
            healthy = [m for m in members if m[2] == "healthy"]
            pool = healthy or [m for m in members if m[2] in _REGISTERED]
            if not pool:
                return None
            turn = self._turns.setdefault(arn, itertools.count())
            ip, port, _ = pool[next(turn) % len(pool)]
        return Route(arn, ip, port)
