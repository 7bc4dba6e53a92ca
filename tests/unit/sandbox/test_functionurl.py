"""The sandbox's function URL: the payload 2.0 event a request becomes, and the response a result becomes."""

from __future__ import annotations

import base64
import http.client
from typing import Any

from sandbox.lambdas.functionurl import FunctionUrlServer, url_event


def test_a_request_becomes_a_function_url_event() -> None:
    headers = [
        ("Host", "x.lambda-url.us-east-1.on.aws"),
        ("User-Agent", "Phone"),
        ("Cookie", "a=1; b=2"),
        ("X-Many", "1"),
        ("x-many", "2"),
    ]
    event = url_event(
        "GET", "/a/tok?x=1&x=2&y=", headers, b"", domain="x.lambda-url.us-east-1.on.aws", now=1_700_000_000
    )
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert (event["rawPath"], event["rawQueryString"]) == ("/a/tok", "x=1&x=2&y=")
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"] == {"host": "x.lambda-url.us-east-1.on.aws", "user-agent": "Phone", "x-many": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]  # cookies apart, as a function URL delivers them
    http_ = event["requestContext"]["http"]
    assert http_ == {
        "method": "GET",
        "path": "/a/tok",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "Phone",
    }
    assert event["requestContext"]["timeEpoch"] == 1_700_000_000_000
    assert "body" not in event and event["isBase64Encoded"] is False


def test_a_body_arrives_as_text_only_when_its_type_is_text() -> None:
    form = b"form=f&decision=approve"
    as_form = url_event("POST", "/a/t", [("Content-Type", "application/x-www-form-urlencoded")], form, domain="d")
    assert as_form["isBase64Encoded"] is True and base64.b64decode(as_form["body"]) == form
    as_json = url_event("POST", "/a/t", [("Content-Type", "application/json")], b'{"a": 1}', domain="d")
    assert (as_json["isBase64Encoded"], as_json["body"]) == (False, '{"a": 1}')


def _serve(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    def invoke(event: dict[str, Any]) -> Any:
        if isinstance(result, Exception):
            raise result
        return result

    server = FunctionUrlServer(invoke).start()
    try:
        host, port = server.domain.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        cookies = response.headers.get_all("Set-Cookie") or []
        return response.status, dict(response.getheaders()), cookies, response.read()
    finally:
        server.stop()


def test_a_result_becomes_the_response() -> None:
    body = base64.b64encode(b"\x00png").decode()
    status, headers, cookies, raw = _serve(
        {"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["s=1; Secure"], "body": body, "isBase64Encoded": True}
    )
    assert (status, headers["X-A"], cookies, raw) == (201, "1", ["s=1; Secure"], b"\x00png")


def test_a_result_without_a_status_is_a_json_200_and_a_failure_a_bare_502() -> None:
    status, headers, _, raw = _serve({"message": "hi"})
    assert (status, headers["Content-Type"], raw) == (200, "application/json", b'{"message": "hi"}')
    status, _, _, raw = _serve(RuntimeError("secret detail"))
    assert status == 502 and b"Internal Server Error" in raw and b"secret" not in raw
