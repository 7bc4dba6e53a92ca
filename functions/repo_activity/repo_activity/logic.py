"""Decide which reference changes deserve a notice, and write that notice for a human reader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from typing import NamedTuple, Protocol
from urllib.parse import quote

from codereflex.errors import NoCommonHistory
from codereflex.events.codecommit import ReferenceChange, RepositoryStateChangeEvent
from codereflex.ports import Once
from codereflex.report import Count, Line, Report


class History(Protocol):
    def merge_base(self, repository: str, first: str, second: str) -> str | None:
        """The merge base, None if the commits cannot be compared; raises NoCommonHistory if there is none."""
        ...


class Publisher(Protocol):
    def publish(self, subject: str, body: str, attributes: Mapping[str, str]) -> str: ...


class Ports(NamedTuple):
    history: History
    publisher: Publisher
    once: Once


class Activity(Enum):
    BRANCH_DELETED = "branch-deleted"
    TAG_DELETED = "tag-deleted"
    PROTECTED_BRANCH_CREATED = "branch-created"
    PUSH = "push"
    FORCE_PUSH = "force-push"
    # The new tip shares no history with the old one: everything that was on the branch is gone from it.
    FORCE_PUSH_UNRELATED_HISTORY = "force-push-unrelated-history"

    @property
    def event(self) -> str:
        """The `event` attribute: a force-push of unrelated history is a force-push to every filter on it."""
        return Activity.FORCE_PUSH.value if self is Activity.FORCE_PUSH_UNRELATED_HISTORY else self.value


class Ancestry(Enum):
    """How the new tip of an updated branch relates to the old one."""

    FAST_FORWARD = "fast-forward"
    REWRITTEN = "rewritten"
    UNRELATED = "unrelated"  # no merge base at all
    UNKNOWN = "unknown"


class Outcome(Enum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Notice:
    activity: Activity
    subject: str
    body: str
    attributes: Mapping[str, str]
    key: str


def is_protected(branch: str, patterns: tuple[str, ...]) -> bool:
    """Protected-branch patterns are exact names or shell globs (`release/*`), case-sensitive like git."""
    return any(fnmatchcase(branch, pattern) for pattern in patterns)


def ancestry(change: ReferenceChange, history: History) -> Ancestry:
    old, new = change.old_commit_id, change.commit_id
    if not old or not new:
        return Ancestry.UNKNOWN
    if old == new:
        return Ancestry.FAST_FORWARD
    try:
        base = history.merge_base(change.repository_name, old, new)
    except NoCommonHistory:
        return Ancestry.UNRELATED
    if base is None:
        return Ancestry.UNKNOWN
    return Ancestry.FAST_FORWARD if base == old else Ancestry.REWRITTEN


def classify(change: ReferenceChange, protected: tuple[str, ...], history: History) -> tuple[Activity, Ancestry] | None:
    """The activity worth a notice, or None. Only updates to protected branches cost an API call."""
    if change.event == "referenceDeleted":
        if change.is_branch:
            return Activity.BRANCH_DELETED, Ancestry.UNKNOWN
        if change.is_tag:
            return Activity.TAG_DELETED, Ancestry.UNKNOWN
        return None
    if not change.is_branch or not is_protected(change.reference_name, protected):
        return None
    if change.event == "referenceCreated":
        return Activity.PROTECTED_BRANCH_CREATED, Ancestry.UNKNOWN
    relation = ancestry(change, history)
    return _UPDATES.get(relation, Activity.PUSH), relation


_UPDATES = {Ancestry.REWRITTEN: Activity.FORCE_PUSH, Ancestry.UNRELATED: Activity.FORCE_PUSH_UNRELATED_HISTORY}


def console_url(region: str, repository: str, path: str = "browse") -> str:
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
        f"{quote(repository, safe='')}/{path}?region={region}"
    )


_HEADLINES = {
    Activity.BRANCH_DELETED: "Branch {ref} deleted in {repo}",
    Activity.TAG_DELETED: "Tag {ref} deleted in {repo}",
    Activity.PROTECTED_BRANCH_CREATED: "Protected branch {ref} created in {repo}",
    Activity.PUSH: "Push to protected branch {ref} in {repo}",
    Activity.FORCE_PUSH: "Force-push to protected branch {ref} in {repo}",
    Activity.FORCE_PUSH_UNRELATED_HISTORY: "Force-push of unrelated history to protected branch {ref} in {repo}",
}

_EXPLANATIONS = {
    Ancestry.FAST_FORWARD: "fast-forward (the old tip is an ancestor of the new one)",
    Ancestry.REWRITTEN: (
        "FORCE-PUSH: the old tip is not an ancestor of the new tip, so commits that were on this "
        "branch are no longer reachable from it"
    ),
    Ancestry.UNRELATED: (
        "FORCE-PUSH WITHOUT COMMON HISTORY: CodeCommit finds no merge base of the old and new tips, so "
        "none of the commits that were on this branch is reachable from it any more"
    ),
    Ancestry.UNKNOWN: "not verified (CodeCommit could not compare the two commits)",
}


def compose(envelope: RepositoryStateChangeEvent, activity: Activity, relation: Ancestry) -> Notice:
    change = envelope.detail
    region, repo, ref = envelope.region, change.repository_name, change.reference_name
    headline = _HEADLINES[activity].format(ref=ref, repo=repo)
    lines = [
        f"{headline}.",
        "",
        f"Repository:  {repo} ({region}, account {envelope.account})",
        f"Reference:   {change.reference_full_name}",
        f"Event:       {change.event}",
        f"Who:         {change.caller_user_arn or 'not stated in the event'}",
        f"When:        {envelope.time.isoformat()}",
        f"Old commit:  {change.old_commit_id or '(none: the reference is new)'}",
        f"New commit:  {change.commit_id or '(none: the reference was deleted)'}",
    ]
    if change.event == "referenceUpdated":
        lines.append(f"History:     {_EXPLANATIONS[relation]}")
    if change.merge_option:
        lines.append(
            f"Merge:       {change.merge_option} of {change.source_commit_id} into {change.destination_commit_id}"
        )
    if activity in {
        Activity.BRANCH_DELETED,
        Activity.TAG_DELETED,
        Activity.FORCE_PUSH,
        Activity.FORCE_PUSH_UNRELATED_HISTORY,
    }:
        lines += [
            "",
            "To put the reference back as it was (while CodeCommit still holds the old commit):",
            f"  git push origin {change.old_commit_id}:{change.reference_full_name}",
        ]
    lines += ["", "Links:", f"  Repository:  {console_url(region, repo)}"]
    if change.commit_id:
        lines.append(f"  New commit:  {console_url(region, repo, f'commit/{change.commit_id}')}")
    if change.old_commit_id:
        lines.append(f"  Old commit:  {console_url(region, repo, f'commit/{change.old_commit_id}')}")
    key = "|".join(
        [
            change.repository_name,
            change.reference_full_name,
            change.event,
            change.old_commit_id or "",
            change.commit_id or "",
            envelope.time.isoformat(),
        ]
    )
    return Notice(
        activity=activity,
        subject=f"[codereflex] {headline}",
        body="\n".join(lines) + "\n",
        attributes={
            "repository": repo,
            "reference": change.reference_full_name,
            "referenceType": change.reference_type,
            "event": activity.event,
            # The exact activity, for filters that want a force-push of unrelated history alone.
            "activity": activity.value,
        },
        key=key,
    )


class Result(NamedTuple):
    outcome: Outcome
    change: ReferenceChange
    notice: Notice | None = None

    def report(self) -> Report:
        activity = self.notice.activity.value if self.notice else None
        fields = {
            "outcome": self.outcome.value,
            "activity": activity,
            "repository": self.change.repository_name,
            "reference": self.change.reference_full_name,
        }
        return Report(
            response={"outcome": self.outcome.value, "activity": activity},
            lines=(Line("Reference change handled", fields),),
            counts=(Count(f"Notices.{self.outcome.value}"),),
        )


def handle(envelope: RepositoryStateChangeEvent, ports: Ports, protected: tuple[str, ...]) -> Result:
    """Publish the notice a reference change deserves, at most once per change."""
    decision = classify(envelope.detail, protected, ports.history)
    if decision is None:
        return Result(Outcome.IGNORED, envelope.detail)
    notice = compose(envelope, *decision)
    publish = ports.publisher.publish
    _, ran = ports.once.run_once(notice.key, lambda: publish(notice.subject, notice.body, notice.attributes))
    return Result(Outcome.PUBLISHED if ran else Outcome.DUPLICATE, envelope.detail, notice)
