"""Deployment validation: HTTP probes per second against a loopback service, the engine's overhead per measurement.

The service runs in its own process (a threaded stdlib server, so it does not share the prober's GIL)
and answers a small JSON body at once; the prober is codereflex.validation.probes.HttpProber, each
sample a new connection as in a hook. The engine's overhead is measured with ports that answer at
once on a clock that never waits: what the engine itself adds to each measurement (assertions, limits,
records), with a body JSON-path assertion and latency percentiles.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

from codereflex.validation import engine
from codereflex.validation.ports import HttpRequest, HttpSample, Ports
from codereflex.validation.probes import HttpProber
from codereflex.validation.spec import load

PROBES = int(os.environ.get("BENCH_VALIDATION_PROBES", "1200"))
SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)
SPEC = {
    "version": 1, "kind": "HookValidation", "name": "bench", "platform": "ecs", "hooks": ["AfterAllowTestTraffic"],
    "checks": [{"name": "probe", "type": "http", "request": {"url": "http://green.invalid/health", "timeoutMs": 100},
                "assert": {"status": [200], "body": [{"jsonPath": "$.status", "equals": "ok"}],
                           "headers": {"content-type": {"regex": "^application/json"}},
                           "latencyMs": {"p50": "<=100", "p99": "<=500"}},
                "sampling": {"count": 5000, "intervalMs": 0, "concurrency": 1}}],
}  # fmt: skip


def main() -> int:
    rows = probes_per_second()
    head = f"| {'prober concurrency':<20} | {'probes':>7} | {'probes/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} |"
    print(f"{head} goal          | met |")
    print(f"|{'-' * 22}|{'-' * 9}|{'-' * 11}|{'-' * 9}|{'-' * 9}|---------------|-----|")
    for concurrency, count, rate, p50, p99 in rows:
        met = "yes" if rate >= 200 else "no"
        print(
            f"| {concurrency:<20} | {count:>7} | {rate:>9.0f} | {p50:>7.1f} | {p99:>7.1f} | >= 200/s      | {met:<3} |"
        )
    per, total = engine_overhead()
    print(f"\nengine overhead: {per * 1e6:.0f} us per measurement ({total} measurements, scripted ports, no waiting)")
    return 0


def probes_per_second() -> list[tuple[int, int, float, float, float]]:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline()) if server.stdout else 0
        request = HttpRequest("GET", f"http://127.0.0.1:{port}/health", timeout_s=5)
        rows = []
        for concurrency in (1, 8, 16, 32):
            prober = HttpProber()
            prober.probe(request, concurrency)  # threads started before the clock runs
            latencies: list[float] = []
            started = time.perf_counter()
            while len(latencies) < PROBES:
                samples = prober.probe(request, concurrency)
                if any(s.status != 200 for s in samples):
                    raise RuntimeError(f"the loopback service failed: { ({s.failure for s in samples}) }")
                latencies += [s.latency_ms for s in samples]
            elapsed = time.perf_counter() - started
            prober.close()
            cuts = statistics.quantiles(latencies, n=100, method="inclusive")
            rows.append((concurrency, len(latencies), len(latencies) / elapsed, cuts[49], cuts[98]))
        return rows
    finally:
        server.terminate()
        server.wait()


class _Instant:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def probe(self, request: HttpRequest, count: int) -> list[HttpSample]:
        return [
            HttpSample(200, 20.0 + i, {"content-type": "application/json"}, b'{"status": "ok"}') for i in range(count)
        ]


def engine_overhead() -> tuple[float, int]:
    spec = load(json.dumps(SPEC))
    instant = _Instant()
    unused: Any = None
    ports = Ports(instant, unused, unused, unused, unused, instant)
    context = {"ecs": {"testListener": {"url": "http://green.invalid"}}}
    best = float("inf")
    total = 0
    for _ in range(5):
        started = time.perf_counter()
        done = engine.run(
            spec, "AfterAllowTestTraffic", context, ports, run_deadline=instant.t + 800, hook_deadline=instant.t + 3000
        )
        elapsed = time.perf_counter() - started
        if not isinstance(done, engine.Done) or done.state is None or done.verdict.status != "Succeeded":
            raise RuntimeError(f"the engine did not succeed: {done}")
        total = len(done.state.measurements)
        best = min(best, elapsed / total)
    return best, total


if __name__ == "__main__":
    sys.exit(main())
