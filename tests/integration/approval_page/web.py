"""The approvers' browser, without a browser: real HTTP to the sandbox's function URL, redirects not followed."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        self.status, self.headers, self.body = status, headers, body


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the tests look at the 303 itself


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, form: dict[str, str] | None = None) -> Response:
    """One real HTTP request to the sandbox's function URL; redirects are not followed."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (a loopback URL)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(request, timeout=30) as answer:
            return Response(answer.status, dict(answer.headers.items()), answer.read().decode())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers.items()), error.read().decode())


def form_token(body: str) -> str:
    return body.split('name="form" value="', 1)[1].split('"', 1)[0]


def links_in(page_url: str | None, message: str) -> list[str]:
    """The approval links to the page at `page_url` in an email's text."""
    assert page_url is not None, "the sandbox serves no approval page"
    return re.findall(re.escape(page_url.rstrip("/")) + r"/a/[A-Za-z0-9_.-]+", message)
