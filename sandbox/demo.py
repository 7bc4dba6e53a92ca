"""`make demo`: the suite end to end against the local sandbox, printed as a person would see it.

Every act checks what it shows; the demo exits non-zero when something did not happen as told.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pygit2
from pygit2.enums import FileMode
from pygit2.remotes import RemoteCollection

from codereflex.gitremote import CodeCommitCredentials
from sandbox.local import Notice, Sandbox

REPOSITORY = "payments-service"
AUTHOR = pygit2.Signature("Alice Developer", "alice@example.com")


# The functions' JSON logs and EMF metrics would drown the story; warnings and errors still show.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


class DemoFailure(AssertionError):
    """Something the demo claims did not happen."""


def _say(text: str = "") -> None:
    print(text, flush=True)


def _title(text: str) -> None:
    _say()
    _say(f"== {text} " + "=" * max(0, 76 - len(text)))


def _expect(condition: bool, claim: str) -> None:
    if not condition:
        raise DemoFailure(claim)
    _say(f"   ok: {claim}")


def _commit(repo: pygit2.Repository, message: str, files: dict[str, str], parents: Sequence[pygit2.Oid]) -> pygit2.Oid:
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


def _show_notices(notices: list[Notice]) -> None:
    if not notices:
        _say("   (no notice sent)")
    for notice in notices:
        attributes = " ".join(f"{key}={value}" for key, value in sorted(notice.attributes.items()))
        _say("   +--- email ------------------------------------------------------------------")
        _say(f"   | Subject: {notice.subject}")
        _say("   |")
        for line in notice.message.rstrip("\n").splitlines():
            _say(f"   | {line}".rstrip())
        _say(f"   +--- SNS message attributes: {attributes}")


def _act(sandbox: Sandbox, title: str, action: Callable[[], None]) -> list[Notice]:
    _title(title)
    before = len(sandbox.deliveries)
    action()
    for delivery in sandbox.deliveries[before:]:
        detail = delivery.event.get("detail", {})
        outcome = delivery.result if delivery.ok else f"ERROR {delivery.error}"
        _say(f"   event {detail.get('event')} {detail.get('referenceFullName')} → {delivery.logical_id}: {outcome}")
    notices = sandbox.notices()
    _show_notices(notices)
    return notices


def run() -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="codereflex-demo-") as scratch, Sandbox(function_env=QUIET) as sandbox:
            _demo(sandbox, Path(scratch))
    except DemoFailure as failure:
        _say(f"\nDEMO FAILED: {failure}")
        return 1
    _say("\nDemo complete: every act did what it said.")
    return 0


def _demo(sandbox: Sandbox, scratch: Path) -> None:
    _title("The sandbox")
    _say(f"   local AWS: moto in-process, region {sandbox.region}, account 123456789012")
    _say(f"   git server: {sandbox.git_url} (CodeCommit SigV4 git passwords only)")
    _say(f"   functions routed from template.yaml: {', '.join(f.logical_id for f in sandbox.router.enabled_functions)}")
    for logical, physical in sorted(sandbox.stack.refs.items()):
        if "." not in logical:
            _say(f"   {logical:<40} {physical}")

    url = sandbox.create_repository(REPOSITORY, "Card payments")
    _say(f"\n   created CodeCommit repository {REPOSITORY}: {url}")
    work = Workspace(sandbox, scratch / "alice.git", url)

    # Act 1: the first push creates the protected branch main.
    first = _commit(work.repo, "Initial import", {"README.md": "# payments\n"}, [])
    work.set_ref("refs/heads/main", first)
    notices = _act(sandbox, "Act 1: Alice pushes main for the first time", lambda: work.push("refs/heads/main"))
    _expect([n.attributes.get("event") for n in notices] == ["branch-created"], "one notice: main was created")

    # Act 2: a fast-forward push to main.
    second = _commit(work.repo, "Add refunds", {"README.md": "# payments\n", "refunds.py": "pass\n"}, [first])
    work.set_ref("refs/heads/main", second)
    notices = _act(sandbox, "Act 2: a fast-forward push to main", lambda: work.push("refs/heads/main"))
    _expect([n.attributes.get("event") for n in notices] == ["push"], "one notice: a plain push to main")

    # Act 3: a feature branch is pushed: not protected, so nobody is bothered.
    feature = _commit(work.repo, "Try partial refunds", {"refunds.py": "partial = True\n"}, [second])
    work.set_ref("refs/heads/feature/partial-refunds", feature)
    notices = _act(
        sandbox,
        "Act 3: a feature branch is pushed",
        lambda: work.push("refs/heads/feature/partial-refunds"),
    )
    _expect(notices == [], "no notice for an unprotected branch")

    # Act 4: main is rewritten: "Add refunds" is replaced, so it is no longer on main.
    rewritten = _commit(work.repo, "Add refunds (rewritten)", {"refunds.py": "pass  # v2\n"}, [first])
    work.set_ref("refs/heads/main", rewritten)
    notices = _act(sandbox, "Act 4: Alice force-pushes main", lambda: work.push("+refs/heads/main"))
    _expect([n.attributes.get("event") for n in notices] == ["force-push"], "one notice, and it says force-push")
    _expect(str(second) in notices[0].message, "the notice names the commit that was dropped from main")

    # Act 5: the feature branch is deleted.
    notices = _act(
        sandbox,
        "Act 5: the feature branch is deleted",
        lambda: work.push(":refs/heads/feature/partial-refunds"),
    )
    _expect([n.attributes.get("event") for n in notices] == ["branch-deleted"], "one notice: branch deleted")

    # Act 6: EventBridge delivers the deletion event again: nothing new is sent.
    _title("Act 6: the deletion event is delivered a second time (EventBridge is at-least-once)")
    duplicate = sandbox.deliveries[-1].event
    results = [invocation.result for invocation in sandbox.deliver(duplicate)]
    _say(f"   second delivery → {results}")
    _expect(results == [{"outcome": "duplicate", "activity": "branch-deleted"}], "the function saw a duplicate")
    _expect(sandbox.notices() == [], "no second email")

    # Act 7: a push with a bad password is refused by the git server.
    _title("Act 7: a push signed with the wrong secret is refused")
    intruder = Workspace(sandbox, scratch / "mallory.git", url)
    intruder.set_ref("refs/heads/main", _commit(intruder.repo, "Sneaky", {"x": "y"}, []))
    forged = type(sandbox.developer)(sandbox.developer.access_key, "not-the-secret")
    try:
        intruder.remote.push(["+refs/heads/main"], callbacks=CodeCommitCredentials(forged, sandbox.region))
    except Exception as refused:  # pygit2 raises GitError or the provider's AccessDenied
        _say(f"   refused: {type(refused).__name__}: {refused}")
        refused_push = True
    else:
        refused_push = False
    _expect(refused_push, "the forged push was refused")
    _expect(sandbox.notices() == [], "and nothing was announced")
