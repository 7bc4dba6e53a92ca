"""The sandbox's CodeCommit git endpoint: `git http-backend` on loopback, behind CodeCommit's SigV4 git password."""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
import subprocess
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, cast
from urllib.parse import urlsplit

from codereflex.gitauth import CloneUrlError, host_without_port

from .gitstore import GitStore
from .passwords import GitPasswordRejected, verify_git_password

logger = logging.getLogger(__name__)

REALM = "codecommit-sandbox"
_ROUTE = re.compile(r"^/v1/repos/(?P<name>[^/]+)(?P<rest>/.*)?$")
_BLOCK = 64 * 1024
_MAX_LINE = 64 * 1024
_STDERR_KEPT = 50


class GitServer:
    """A git smart-HTTP server on 127.0.0.1 serving the repositories of a GitStore, CodeCommit style.

    Every request must carry a CodeCommit SigV4 git password signed for the repository's path
    (`/v1/repos/<name>`) and the Host header's host, by one of the `credentials` (access key id
    to secret, read on every request so keys can be added while running), within 15 minutes.
    `on_push(name, access_key_id)` runs after each successful receive-pack, before the pushing client
    returns (the access key says who pushed, as CodeCommit's events say in `callerUserArn`).
    """

    def __init__(
        self,
        store: GitStore,
        credentials: Mapping[str, str],
        *,
        region: str | None = None,
        on_push: Callable[[str, str], None] | None = None,
        port: int = 0,
        git: str = "git",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.credentials = credentials
        self.region = region or store.region
        self.on_push = on_push
        self.git = git
        self.clock = clock
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stats_lock = threading.Lock()
        self._refusals: Counter[str] = Counter()
        self._responses: Counter[int] = Counter()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the git server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def refusals(self) -> Counter[str]:
        """Refused requests by reason (`missing-credentials`, `bad-format`, `unknown-key`, ...), a copy."""
        with self._stats_lock:
            return Counter(self._refusals)

    @property
    def responses(self) -> Counter[int]:
        """Responses by HTTP status, a copy. Note git clients always start with an unauthenticated 401."""
        with self._stats_lock:
            return Counter(self._responses)

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("the git server is already running")
        self._httpd = _HTTPServer(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-git-server", daemon=True
        )
        self._thread.start()
        self.store.base_url = self.base_url
        logger.info("Git server started base_url=%s", self.base_url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, then wait up to `timeout` seconds for requests in flight to finish."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        thread.join()
        if not httpd.wait_idle(timeout):
            logger.warning("Git server stopped with requests still running timeout=%s", timeout)
        httpd.server_close()
        self._httpd = self._thread = None
        logger.info("Git server stopped")

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until no request is in flight, so `on_push` reactions to a finished push have run.

        A git client returns as soon as it has read receive-pack's report, which can be before
        the server has run `on_push`; callers that inspect the effects of a push wait here.
        """
        httpd = self._httpd
        return httpd is None or httpd.wait_idle(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _count_refusal(self, reason: str) -> None:
        with self._stats_lock:
            self._refusals[reason] += 1

    def _count_response(self, status: int) -> None:
        with self._stats_lock:
            self._responses[status] += 1


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], git_server: GitServer) -> None:
        super().__init__(address, _Handler)
        self.git_server = git_server
        self._idle = threading.Condition()
        self._in_flight = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        # Counted here, in the accepting thread, so that stop() cannot miss a request just accepted.
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._done()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class _Refused(Exception):
    def __init__(self, reason: str, access_key_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.access_key_id = access_key_id


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    # HTTP/1.1 so that curl's `Expect: 100-continue` is answered at once instead of after its 1 s
    # timeout; every response still closes the connection, which keeps body framing trivial.
    protocol_version = "HTTP/1.1"
    server_version = "codereflex-sandbox-git"
    timeout = 300
    _body_bytes = 0
    _body_claimed = False

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.git_server._count_response(code)
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("Git HTTP request client=%s " + format, self.client_address[0], *args)

    def _serve(self) -> None:
        self.close_connection = True
        git = self.server.git_server
        url = urlsplit(self.path)
        route = _ROUTE.match(url.path)
        if route is None:
            self._reply(404, "not a CodeCommit repository path")
            return
        name, rest = route["name"], route["rest"] or ""
        try:
            access_key_id = self._authenticate(git, name)
        except _Refused as refused:
            git._count_refusal(refused.reason)
            logger.info(
                "Git request refused repository=%s reason=%s access_key_id=%r",
                name,
                refused.reason,
                refused.access_key_id,
            )
            self._reply(401, f"authentication failed: {refused.reason}", authenticate=True)
            return
        repo_dir = _repository_dir(git.store, name)
        if repo_dir is None or any(part in {".", ".."} for part in rest.split("/")):
            self._reply(404, f"repository {name} does not exist")
            return
        self._run_backend(git, name=name, rest=rest, repo_dir=repo_dir, query=url.query, access_key_id=access_key_id)

    def _authenticate(self, git: GitServer, name: str) -> str:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise _Refused("missing-credentials")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _Refused("bad-format") from None
        username, colon, password = decoded.partition(":")
        access_key_id = username.split("%", 1)[0]
        if not colon:
            raise _Refused("bad-format", access_key_id)
        try:
            host = host_without_port(self.headers.get("Host", ""))
        except CloneUrlError:
            raise _Refused("bad-format", access_key_id) from None
        try:
            return verify_git_password(
                username,
                password,
                host=host,
                path=f"/v1/repos/{name}",
                region=git.region,
                secret_lookup=git.credentials.get,
                now=git.clock(),
            )
        except GitPasswordRejected as rejected:
            raise _Refused(rejected.code, access_key_id) from None

    def _run_backend(
        self, git: GitServer, *, name: str, rest: str, repo_dir: Path, query: str, access_key_id: str
    ) -> None:
        env = self._cgi_environment(repo_dir, rest, query, access_key_id)
        logger.debug(
            "Git backend request repository=%s path=%s chunked=%s content_encoding=%s git_protocol=%s",
            name,
            rest,
            self._is_chunked(),
            env.get("HTTP_CONTENT_ENCODING", ""),
            env.get("GIT_PROTOCOL", ""),
        )
        has_body = "CONTENT_LENGTH" in env or self._is_chunked()
        with subprocess.Popen(
            [git.git, "http-backend"],
            env=env,
            stdin=subprocess.PIPE if has_body else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as backend:
            assert backend.stdout is not None  # noqa: S101 - Popen guarantees it with PIPE
            assert backend.stderr is not None  # noqa: S101
            errors: deque[bytes] = deque(maxlen=_STDERR_KEPT)
            helpers = [threading.Thread(target=errors.extend, args=(backend.stderr,), daemon=True)]
            if backend.stdin is not None:
                self._body_claimed = True
                helpers.append(threading.Thread(target=self._pump_body, args=(backend.stdin,), daemon=True))
            for helper in helpers:
                helper.start()
            try:
                status = self._relay_response(cast(io.BufferedReader, backend.stdout))
            except OSError:
                # The client went away mid-response; nothing to tell it, and no reason to let git finish.
                logger.info("Git client disconnected repository=%s path=%s", name, rest)
                backend.kill()
                status = 0
            returncode = backend.wait()
            for helper in helpers:
                helper.join()
        if returncode != 0:
            logger.warning(
                "git http-backend failed repository=%s path=%s returncode=%s stderr=%s",
                name,
                rest,
                returncode,
                b"".join(errors).decode(errors="replace").strip(),
            )
        # git probes before a large push with a bare flush packet ("0000"): that is not a push.
        elif status == 200 and rest == "/git-receive-pack" and self._body_bytes > len(b"0000") and git.on_push:
            try:
                git.on_push(name, access_key_id)
            except Exception:
                # The push itself succeeded; the sandbox's reaction to it is a separate failure.
                logger.exception("Git on_push callback failed repository=%s", name)

    def _cgi_environment(self, repo_dir: Path, rest: str, query: str, access_key_id: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            # Only the repository's own config counts, whatever the developer's ~/.gitconfig says;
            # safe.directory because imported repositories may belong to another user (volumes).
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "QUERY_STRING": query,
            # The repository may live outside the store root (imports), so its parent is the root.
            "GIT_PROJECT_ROOT": str(repo_dir.parent),
            "PATH_INFO": f"/{repo_dir.name}{rest}",
            "PATH_TRANSLATED": f"{repo_dir}{rest}",
            "GIT_HTTP_EXPORT_ALL": "1",
            # http-backend enables receive-pack only for authenticated users.
            "REMOTE_USER": access_key_id,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        # Without CONTENT_LENGTH http-backend reads to EOF, which is what a de-chunked body needs.
        if (length := self.headers.get("Content-Length")) is not None and not self._is_chunked():
            env["CONTENT_LENGTH"] = length.strip()
        if encoding := self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding
        if protocol := self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = env["HTTP_GIT_PROTOCOL"] = protocol
        return env

    def _is_chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _body(self) -> Iterator[bytes]:
        blocks = _dechunk(self.rfile) if self._is_chunked() else _fixed(self.rfile, self.headers.get("Content-Length"))
        for block in blocks:
            self._body_bytes += len(block)
            yield block

    def _pump_body(self, sink: IO[bytes]) -> None:
        try:
            with sink:
                for block in self._body():
                    sink.write(block)
        except (OSError, ValueError) as error:
            # http-backend may stop reading (it failed, or the client vanished): its exit status tells.
            logger.debug("Git request body not fully delivered error=%s", error)

    def _discard_body(self) -> None:
        # Unread request bytes make close() send a reset, which can destroy the response in flight.
        try:
            for _ in self._body():
                pass
        except (OSError, ValueError):
            pass

    def _relay_response(self, stdout: io.BufferedReader) -> int:
        status, message, headers = 200, None, []
        while line := stdout.readline(_MAX_LINE):
            if not line.rstrip(b"\r\n"):
                break
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == "status":
                code, _, text = value.strip().partition(" ")
                status, message = int(code), text or None
            else:
                headers.append((key.strip(), value.strip()))
        else:
            # Output ended inside the CGI headers: git died before answering (its stderr gets logged).
            self._reply(502, "git http-backend failed")
            return 502
        self.send_response(status, message)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        # read1 hands over whatever git has produced so far: sideband progress streams, nothing piles up.
        while block := stdout.read1(_BLOCK):
            self.wfile.write(block)
        self.wfile.flush()
        return status

    def _reply(self, status: int, text: str, *, authenticate: bool = False) -> None:
        if self.command == "POST" and not self._body_claimed:
            self._discard_body()
        body = f"{text}\n".encode()
        self.send_response(status)
        if authenticate:
            self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _repository_dir(store: GitStore, name: str) -> Path | None:
    try:
        path = store.path_for(name)
    except ValueError:
        return None
    return path if path.is_dir() else None


def _fixed(stream: io.BufferedIOBase, length: str | None) -> Iterator[bytes]:
    remaining = int(length or 0)
    while remaining > 0:
        block = stream.read(min(remaining, _BLOCK))
        if not block:
            raise ConnectionError("request body ended early")
        remaining -= len(block)
        yield block


def _dechunk(stream: io.BufferedIOBase) -> Iterator[bytes]:
    while True:
        size_line = stream.readline(_MAX_LINE)
        if not size_line.endswith(b"\n"):
            raise ConnectionError("chunked request body ended early")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while stream.readline(_MAX_LINE).strip():
                pass  # trailers: nothing git sends that http-backend wants
            return
        while size > 0:
            block = stream.read(min(size, _BLOCK))
            if not block:
                raise ConnectionError("chunked request body ended early")
            size -= len(block)
            yield block
        stream.readline(_MAX_LINE)
