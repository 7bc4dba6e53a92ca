"""The HTTP prober against real services on 127.0.0.1: status, latency, redirects, timeouts, TLS, concurrency."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from codereflex.validation.ports import HttpRequest
from codereflex.validation.probes import MAX_BODY, HttpProber

from .services import Behaviour, self_signed, service


def test_a_sample_has_status_headers_body_and_latency() -> None:
    with service(Behaviour(latency_ms=30)) as url:
        (sample,) = HttpProber().probe(HttpRequest("GET", f"{url}/health"), 1)
    assert (sample.status, sample.failure) == (200, None)
    assert sample.headers["content-type"] == "application/json"
    assert sample.body == b'{"status": "ok"}'
    assert 30 <= sample.latency_ms < 1000


def test_a_post_sends_its_body() -> None:
    with service(Behaviour()) as url:
        (sample,) = HttpProber().probe(HttpRequest("POST", f"{url}/q", {"Content-Type": "application/json"}, b"{}"), 1)
    assert sample.headers["x-echo-method"] == "POST"


def test_redirects_are_not_followed_unless_asked() -> None:
    prober = HttpProber()
    with service(Behaviour()) as url:
        (stay,) = prober.probe(HttpRequest("GET", f"{url}/redirect"), 1)
        (follow,) = prober.probe(HttpRequest("GET", f"{url}/redirect", follow_redirects=True), 1)
        (loop,) = prober.probe(HttpRequest("GET", f"{url}/loop", follow_redirects=True), 1)
    assert stay.status == 302
    assert stay.headers["location"] == "/health"
    assert (follow.status, follow.body) == (200, b'{"status": "ok"}')
    assert (loop.status, loop.failure) == (None, "more than 5 redirects")


def test_a_timeout_is_a_failure_at_about_the_timeout() -> None:
    with service(Behaviour()) as url:
        (sample,) = HttpProber().probe(HttpRequest("GET", f"{url}/sleep?s=2", timeout_s=0.3), 1)
    assert (sample.status, sample.failure) == (None, "timeout")
    assert 300 <= sample.latency_ms < 1500


def test_a_refused_connection_is_a_failure() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    (sample,) = HttpProber().probe(HttpRequest("GET", f"http://127.0.0.1:{port}/"), 1)
    assert (sample.status, sample.failure) == (None, "connection refused")


def test_tls_is_verified(tmp_path: Path) -> None:
    server_tls, cert = self_signed(tmp_path)
    with service(Behaviour(), tls=server_tls) as url:
        (untrusted,) = HttpProber().probe(HttpRequest("GET", f"{url}/health"), 1)
        trusting = ssl.create_default_context(cafile=str(cert))
        (trusted,) = HttpProber(trusting).probe(HttpRequest("GET", f"{url}/health"), 1)
    assert untrusted.status is None
    assert untrusted.failure is not None and untrusted.failure.startswith("TLS: CERTIFICATE_VERIFY_FAILED")
    assert trusted.status == 200


def test_a_round_is_sent_concurrently() -> None:
    prober = HttpProber()
    with service(Behaviour(latency_ms=200)) as url:
        started = time.perf_counter()
        samples = prober.probe(HttpRequest("GET", f"{url}/health"), 8)
        elapsed = time.perf_counter() - started
    prober.close()
    assert [s.status for s in samples] == [200] * 8
    assert elapsed < 1.0  # eight sequential requests would take 1.6 s


def test_a_body_is_read_only_as_far_as_assertions_need() -> None:
    with service(Behaviour()) as url:
        (sample,) = HttpProber().probe(HttpRequest("GET", f"{url}/big"), 1)
    assert sample.status == 200
    assert len(sample.body) == MAX_BODY


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http:///nohost"])
def test_a_url_that_cannot_be_probed_is_our_error(url: str) -> None:
    from codereflex.validation.ports import ToolError

    with pytest.raises(ToolError):
        HttpProber().sample(HttpRequest("GET", url))
