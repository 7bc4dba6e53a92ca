"""What every demo act shares: the printed story, its checks, and a developer's pushing workspace."""

from __future__ import annotations

import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Sandbox

AUTHOR = pygit2.Signature("Alice Developer", "alice@example.com")


# The functions' JSON logs and EMF metrics would drown the story; warnings and errors still show.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


class DemoFailure(AssertionError):
    """Something the demo claims did not happen."""


def say(text: str = "") -> None:
    print(text, flush=True)


def title(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 76 - len(text)))


def expect(condition: bool, claim: str) -> None:
    if not condition:
        raise DemoFailure(claim)
    say(f"   ok: {claim}")


def commit(repo: pygit2.Repository, message: str, files: dict[str, str], parents: Sequence[pygit2.Oid]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for name, text in files.items():
        builder.insert(name, repo.create_blob(text.encode()), FileMode.BLOB)
    return repo.create_commit(None, AUTHOR, AUTHOR, message, builder.write(), list(parents))


class Workspace:
    """A developer's local clone, pushing with codereflex's own SigV4 credential provider."""

    def __init__(self, sandbox: Sandbox, path: Path, url: str) -> None:
        self.sandbox = sandbox
        self.repo = pygit2.init_repository(str(path), bare=True)
        # pygit2 1.17's stubs omit Repository.remotes; RemoteCollection is the same object.
        self.remote = RemoteCollection(self.repo).create("origin", url)  # type: ignore[arg-type,no-untyped-call]

    def push(self, *refspecs: str) -> None:
        # One credential provider per operation: it fetches fresh credentials and signs for this URL.
        callbacks = CodeCommitCredentials(self.sandbox.developer, self.sandbox.region)
        self.remote.push(list(refspecs), callbacks=callbacks)
        self.sandbox.settle()

    def set_ref(self, name: str, target: pygit2.Oid) -> None:
        self.repo.create_reference_direct(name, target, True)


class Page:
    """HTTP on 127.0.0.1 to the sandbox's function URL, redirects not followed (the demo shows the 303)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(self._NoRedirect)

    def request(self, method: str, url: str, form: Mapping[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (a loopback URL)
        try:
            with self._opener.open(request, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class Connection:
    """What `codereflex approvers sync` is given by the CLI, here over the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @property
    def resources(self) -> Mapping[str, str]:
        return self._sandbox.stack.refs

    def client(self, name: str) -> Any:
        return self._sandbox.client(name)


def page_text(html: str) -> str:
    """The page as a person reads it: its head (title, stylesheet) and tags dropped, whitespace folded."""
    body = re.sub(r"<head>.*?</head>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


def mails(sandbox: Sandbox, address: str, kind: str, since: int = 0) -> list[Any]:
    """The mail of `kind` that `address` received, from the `since`-th message of their mailbox on."""
    return [mail for mail in sandbox.mailbox(address)[since:] if mail.attributes.get("kind") == kind]


def link_pattern(sandbox: Sandbox) -> str:
    """An approval link to the sandbox's page, as a regular expression."""
    if sandbox.approval_page_url is None:
        raise DemoFailure("the sandbox serves no approval page")
    return re.escape(sandbox.approval_page_url.rstrip("/")) + r"/a/[A-Za-z0-9_.-]+"


def approval_link(sandbox: Sandbox, mail: Any, address: str) -> str:
    """The approval link in `address`'s `mail`."""
    found = re.search(link_pattern(sandbox), mail.message)
    if found is None:
        raise DemoFailure(f"no link in {address}'s email")
    return found.group(0)


def show_mail(mail: Any, address: str) -> None:
    say(f"   +--- email to {address} " + "-" * max(0, 58 - len(address)))
    say(f"   | Subject: {mail.subject}")
    say("   |")
    for line in mail.message.rstrip("\n").splitlines():
        say(f"   | {line}".rstrip())
    say(f"   +--- SNS message attributes: {' '.join(f'{k}={v}' for k, v in sorted(mail.attributes.items()))}")


def run(story: Callable[[Sandbox, Path], None], done: str) -> int:
    """Tell `story` in a fresh sandbox and scratch directory; 1 with the broken claim if one does not hold."""
    try:
        with tempfile.TemporaryDirectory(prefix="codereflex-demo-") as scratch, Sandbox(function_env=QUIET) as sandbox:
            story(sandbox, Path(scratch))
    except DemoFailure as failure:
        say(f"\nDEMO FAILED: {failure}")
        return 1
    say(f"\n{done}")
    return 0
