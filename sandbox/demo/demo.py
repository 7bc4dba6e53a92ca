"""`make demo`: the suite end to end against the local sandbox, printed as a person would see it.

Every act checks what it shows; the demo exits non-zero when something did not happen as told.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codereflex.gitremote import CodeCommitCredentials
from sandbox.demo import demo_approvals, demo_backup, demo_builds, demo_kit, demo_validation
from sandbox.demo.demo_kit import Workspace, commit, expect, say, title
from sandbox.local import Notice, Sandbox

REPOSITORY = "payments-service"


def _show_notices(notices: list[Notice]) -> None:
    if not notices:
        say("   (no notice sent)")
    for notice in notices:
        attributes = " ".join(f"{key}={value}" for key, value in sorted(notice.attributes.items()))
        say("   +--- email ------------------------------------------------------------------")
        say(f"   | Subject: {notice.subject}")
        say("   |")
        for line in notice.message.rstrip("\n").splitlines():
            say(f"   | {line}".rstrip())
        say(f"   +--- SNS message attributes: {attributes}")


def _act(sandbox: Sandbox, heading: str, action: Callable[[], None]) -> list[Notice]:
    title(heading)
    before = len(sandbox.deliveries)
    action()
    for delivery in sandbox.deliveries[before:]:
        detail = delivery.event.get("detail", {})
        outcome = delivery.result if delivery.ok else f"ERROR {delivery.error}"
        say(f"   event {detail.get('event')} {detail.get('referenceFullName')} → {delivery.logical_id}: {outcome}")
    notices = sandbox.notices()
    _show_notices(notices)
    return notices


def run() -> int:
    return demo_kit.run(_demo, "Demo complete: every act did what it said.")


def _demo(sandbox: Sandbox, scratch: Path) -> None:
    _introduce(sandbox)
    _repository_activity(sandbox, scratch)
    demo_backup.act(sandbox, scratch)
    demo_builds.act(sandbox, scratch)
    demo_approvals.act(sandbox, scratch)
    demo_validation.act(sandbox, scratch)


def _introduce(sandbox: Sandbox) -> None:
    title("The sandbox")
    say(f"   local AWS: moto in-process, region {sandbox.region}, account 123456789012")
    say(f"   git server: {sandbox.git_url} (CodeCommit SigV4 git passwords only)")
    say(f"   functions routed from template.yaml: {', '.join(f.logical_id for f in sandbox.router.enabled_functions)}")
    for logical, physical in sorted(sandbox.stack.refs.items()):
        if "." not in logical:
            say(f"   {logical:<40} {physical}")


def _repository_activity(sandbox: Sandbox, scratch: Path) -> None:
    url = sandbox.create_repository(REPOSITORY, "Card payments")
    say(f"\n   created CodeCommit repository {REPOSITORY}: {url}")
    work = Workspace(sandbox, scratch / "alice.git", url)

    # Act 1: the first push creates the protected branch main.
    first = commit(work.repo, "Initial import", {"README.md": "# payments\n"}, [])
    work.set_ref("refs/heads/main", first)
    notices = _act(sandbox, "Act 1: Alice pushes main for the first time", lambda: work.push("refs/heads/main"))
    expect([n.attributes.get("event") for n in notices] == ["branch-created"], "one notice: main was created")

    # Act 2: a fast-forward push to main.
    second = commit(work.repo, "Add refunds", {"README.md": "# payments\n", "refunds.py": "pass\n"}, [first])
    work.set_ref("refs/heads/main", second)
    notices = _act(sandbox, "Act 2: a fast-forward push to main", lambda: work.push("refs/heads/main"))
    expect([n.attributes.get("event") for n in notices] == ["push"], "one notice: a plain push to main")

    # Act 3: a feature branch is pushed: not protected, so nobody is bothered.
    feature = commit(work.repo, "Try partial refunds", {"refunds.py": "partial = True\n"}, [second])
    work.set_ref("refs/heads/feature/partial-refunds", feature)
    notices = _act(
        sandbox,
        "Act 3: a feature branch is pushed",
        lambda: work.push("refs/heads/feature/partial-refunds"),
    )
    expect(notices == [], "no notice for an unprotected branch")

    # Act 4: main is rewritten: "Add refunds" is replaced, so it is no longer on main.
    rewritten = commit(work.repo, "Add refunds (rewritten)", {"refunds.py": "pass  # v2\n"}, [first])
    work.set_ref("refs/heads/main", rewritten)
    notices = _act(sandbox, "Act 4: Alice force-pushes main", lambda: work.push("+refs/heads/main"))
    expect([n.attributes.get("event") for n in notices] == ["force-push"], "one notice, and it says force-push")
    expect(str(second) in notices[0].message, "the notice names the commit that was dropped from main")

    # Act 5: the feature branch is deleted.
    notices = _act(
        sandbox,
        "Act 5: the feature branch is deleted",
        lambda: work.push(":refs/heads/feature/partial-refunds"),
    )
    expect([n.attributes.get("event") for n in notices] == ["branch-deleted"], "one notice: branch deleted")

    # Act 6: EventBridge delivers the deletion event again: nothing new is sent.
    title("Act 6: the deletion event is delivered a second time (EventBridge is at-least-once)")
    duplicate = sandbox.deliveries[-1].event
    results = {invocation.logical_id: invocation.result for invocation in sandbox.deliver(duplicate)}
    for logical_id, result in results.items():
        say(f"   second delivery → {logical_id}: {result}")
    activity, backup = results.get("RepoActivityFunction"), results.get("RepoBackupFunction")
    expect(activity == {"outcome": "duplicate", "activity": "branch-deleted"}, "the notice function saw a duplicate")
    if "RepoBackupFunction" in results:
        expect(isinstance(backup, dict) and backup.get("outcome") == "unchanged", "the backup found nothing new")
    expect(sandbox.notices() == [], "no second email")

    # Act 7: a push with a bad password is refused by the git server.
    title("Act 7: a push signed with the wrong secret is refused")
    intruder = Workspace(sandbox, scratch / "mallory.git", url)
    intruder.set_ref("refs/heads/main", commit(intruder.repo, "Sneaky", {"x": "y"}, []))
    forged = type(sandbox.developer)(sandbox.developer.access_key, "not-the-secret")
    try:
        intruder.remote.push(["+refs/heads/main"], callbacks=CodeCommitCredentials(forged, sandbox.region))
    except Exception as refused:  # pygit2 raises GitError or the provider's AccessDenied
        say(f"   refused: {type(refused).__name__}: {refused}")
        refused_push = True
    else:
        refused_push = False
    expect(refused_push, "the forged push was refused")
    expect(sandbox.notices() == [], "and nothing was announced")
