"""CodeCommit operations moto lacks, grafted onto moto's backend and response, with git data read from disk.

Pull requests, comments and approvals live on moto's `CodeCommitBackend` instances (so moto's reset
clears them); branches and commits are read with pygit2 from the repository's bare repo at request
time, because pushes reach the disk through the git server without telling moto.

A pull request's source tip does not follow pushes by itself: call `refresh_pull_request(s)` after
a push (the git server's hook does), which is where real CodeCommit issues a new revision.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pygit2
from moto.codecommit.exceptions import (
    InvalidRepositoryNameException,
    RepositoryDoesNotExistException,
    RepositoryNameExistsException,
)
from moto.codecommit.models import CodeCommitBackend, codecommit_backends
from moto.codecommit.responses import CodeCommitResponse, _is_repository_name_valid
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.moto_api._internal import mock_random

from sandbox.aws.moto_ext import gitrepo
from sandbox.aws.moto_ext._support import ApiError, caller_arn, fingerprint, graft, now, paginate
from sandbox.git import gitstore

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from moto.codecommit.models import CodeCommit

DEFAULT_REGION = "us-east-1"
# Documented: "Batch sizes are 1,000 for list repository operations". Tests lower it to see paging.
LIST_REPOSITORIES_PAGE_SIZE = 1000
# Undocumented for ListBranches; CodeCommit pages branch lists too, so the sandbox does as well.
LIST_BRANCHES_PAGE_SIZE = 100
COMMENTS_DEFAULT_PAGE_SIZE = 100
COMMENTS_MAX_PAGE_SIZE = 500
PULL_REQUESTS_DEFAULT_PAGE_SIZE = 100
COMMENT_MAX_LENGTH = 10_240
TITLE_MAX_LENGTH = 150
DESCRIPTION_MAX_LENGTH = 10_240
MERGE_OPTIONS = ("FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE")
CONFLICT_DETAIL_LEVELS = ("FILE_LEVEL", "LINE_LEVEL")
CONFLICT_RESOLUTION_STRATEGIES = ("NONE", "ACCEPT_SOURCE", "ACCEPT_DESTINATION", "AUTOMERGE")

# moto's own repository lifecycle, captured before grafting so the overrides can delegate to it.
_moto_create_repository = CodeCommitBackend.create_repository
_moto_get_repository = CodeCommitBackend.get_repository
_moto_delete_repository = CodeCommitBackend.delete_repository

_STATE = "_sandbox_codecommit_state"


@dataclass
class Comment:
    comment_id: str
    content: str
    author_arn: str
    client_request_token: str | None
    repository_name: str
    before_commit_id: str | None
    after_commit_id: str
    pull_request_id: str | None
    location: dict[str, Any] | None
    before_blob_id: str | None
    after_blob_id: str | None
    creation_date: datetime = field(default_factory=now)
    last_modified_date: datetime = field(default_factory=now)
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        comment: dict[str, Any] = {
            "commentId": self.comment_id,
            "content": self.content,
            "creationDate": self.creation_date,
            "lastModifiedDate": self.last_modified_date,
            "authorArn": self.author_arn,
            "deleted": self.deleted,
            "callerReactions": [],
            "reactionCounts": {},
        }
        if self.client_request_token is not None:
            comment["clientRequestToken"] = self.client_request_token
        return comment

    def context(self) -> dict[str, Any]:
        """The fields a comment's thread shares: what was compared and where."""
        shared: dict[str, Any] = {"repositoryName": self.repository_name, "afterCommitId": self.after_commit_id}
        if self.pull_request_id is not None:
            shared["pullRequestId"] = self.pull_request_id
        optional = {
            "beforeCommitId": self.before_commit_id,
            "beforeBlobId": self.before_blob_id,
            "afterBlobId": self.after_blob_id,
            "location": self.location,
        }
        shared.update({key: value for key, value in optional.items() if value is not None})
        return shared


@dataclass
class PullRequest:
    pull_request_id: str
    title: str
    description: str | None
    author_arn: str
    client_request_token: str | None
    repository_name: str
    source_reference: str
    destination_reference: str
    source_commit: str
    destination_commit: str
    merge_base: str | None
    revision_id: str
    status: str = "OPEN"
    creation_date: datetime = field(default_factory=now)
    last_activity_date: datetime = field(default_factory=now)
    # Every revision ever issued, so a stale one is told apart from one that never existed.
    revisions: list[str] = field(default_factory=list)
    # revisionId -> approver ARN -> "APPROVE"; a new revision starts with no approvals, as in CodeCommit.
    approvals: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        target: dict[str, Any] = {
            "repositoryName": self.repository_name,
            "sourceReference": self.source_reference,
            "destinationReference": self.destination_reference,
            "destinationCommit": self.destination_commit,
            "sourceCommit": self.source_commit,
            "mergeMetadata": {"isMerged": False},
        }
        if self.merge_base is not None:
            target["mergeBase"] = self.merge_base
        pull_request: dict[str, Any] = {
            "pullRequestId": self.pull_request_id,
            "title": self.title,
            "lastActivityDate": self.last_activity_date,
            "creationDate": self.creation_date,
            "pullRequestStatus": self.status,
            "authorArn": self.author_arn,
            "pullRequestTargets": [target],
            "revisionId": self.revision_id,
            "approvalRules": [],
        }
        if self.description is not None:
            pull_request["description"] = self.description
        if self.client_request_token is not None:
            pull_request["clientRequestToken"] = self.client_request_token
        return pull_request


@dataclass
class CodeCommitState:
    pull_requests: dict[str, PullRequest] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    # clientRequestToken -> (request fingerprint, id of what the request created)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    last_pull_request_id: int = 0
    # The threaded server handles requests concurrently; ids and token checks must not interleave.
    lock: threading.RLock = field(default_factory=threading.RLock)


def _store() -> gitstore.GitStore:
    store = gitstore.current()
    if store is None:
        raise ApiError(
            "SandboxNotConfiguredException",
            "No git store is configured: call sandbox.git.gitstore.configure(GitStore(...)) before using CodeCommit",
        )
    return store


def _new_id() -> str:
    return str(mock_random.uuid4())


def _page_size(max_results: int | None, default: int, maximum: int | None = None) -> int:
    if max_results is None:
        return default
    if max_results < 1 or (maximum is not None and max_results > maximum):
        raise ApiError("InvalidMaxResultsException", f"maxResults must be between 1 and {maximum or 'any'}")
    return max_results


def _invalid_token() -> ApiError:
    return ApiError("InvalidContinuationTokenException", "The continuation token is not valid.")


class SandboxCodeCommitBackend(CodeCommitBackend):
    """What the sandbox adds to moto's CodeCommitBackend (grafted onto it by `patch`)."""

    @property
    def sandbox_state(self) -> CodeCommitState:
        # Kept in the instance dict: moto's reset rebuilds the dict, which drops this state too.
        state = self.__dict__.get(_STATE)
        if state is None:
            state = self.__dict__.setdefault(_STATE, CodeCommitState())
        return cast(CodeCommitState, state)

    # --- repositories ----------------------------------------------------------------------
    def create_repository(self, repository_name: str, repository_description: str) -> dict[str, str]:
        """moto's CreateRepository, backed by a bare git repository the git server serves."""
        store = _store()
        path = store.path_for(repository_name)
        metadata: dict[str, str] = _moto_create_repository(self, repository_name, repository_description)
        try:
            # An imported (registered) repository already has its history; never re-initialise it.
            if gitrepo.open_repo(path) is None:
                pygit2.init_repository(str(path), bare=True)
        except Exception:
            self.repositories.pop(repository_name, None)
            raise
        metadata["cloneUrlHttp"] = store.clone_url(repository_name)
        return metadata

    def get_repository(self, repository_name: str) -> dict[str, str]:
        metadata = dict(_moto_get_repository(self, repository_name))
        store = gitstore.current()
        repo = gitrepo.open_repo(store.path_for(repository_name)) if store is not None else None
        branch = gitrepo.default_branch(repo) if repo is not None else None
        if branch is not None:
            metadata["defaultBranch"] = branch
        return metadata

    def delete_repository(self, repository_name: str) -> str | None:
        repository_id: str | None = _moto_delete_repository(self, repository_name)
        store = gitstore.current()
        if repository_id is None or store is None:
            return repository_id
        with self.sandbox_state.lock:
            state = self.sandbox_state
            # Deleting a repository deletes its pull requests and comments with it.
            state.pull_requests = {
                key: pr for key, pr in state.pull_requests.items() if pr.repository_name != repository_name
            }
            state.comments = {
                key: comment for key, comment in state.comments.items() if comment.repository_name != repository_name
            }
        path = store.path_for(repository_name)
        store.forget(repository_name)
        # Imported repositories outside the store belong to someone else: leave them on disk.
        if path.resolve().is_relative_to(store.root.resolve()) and path.exists():
            shutil.rmtree(path)
        return repository_id

    def sandbox_repository(self, repository_name: str | None) -> CodeCommit:
        if not repository_name:
            raise ApiError("RepositoryNameRequiredException", "A repository name is required.")
        if not _is_repository_name_valid(repository_name):
            raise InvalidRepositoryNameException()
        repository = self.repositories.get(repository_name)
        if repository is None:
            raise RepositoryDoesNotExistException(repository_name)
        return repository

    def sandbox_git(self, repository_name: str | None) -> pygit2.Repository:
        """The bare repo behind an existing CodeCommit repository, opened afresh."""
        self.sandbox_repository(repository_name)
        path = _store().path_for(cast(str, repository_name))
        repo = gitrepo.open_repo(path)
        if repo is None:
            raise ApiError("SandboxGitDataMissingException", f"No git repository at {path} for {repository_name}")
        return repo

    def list_repositories_sorted(self, sort_by: str | None, order: str | None) -> list[dict[str, str]]:
        sort_by = sort_by or "repositoryName"
        order = order or "ascending"
        if sort_by not in ("repositoryName", "lastModifiedDate"):
            raise ApiError("InvalidSortByException", f"Invalid sortBy: {sort_by}")
        if order not in ("ascending", "descending"):
            raise ApiError("InvalidOrderException", f"Invalid order: {order}")
        metadata = [repository.repository_metadata for repository in self.repositories.values()]
        metadata.sort(key=lambda item: (item[sort_by], item["repositoryName"]), reverse=order == "descending")
        return [{"repositoryName": item["repositoryName"], "repositoryId": item["repositoryId"]} for item in metadata]

    # --- git reads --------------------------------------------------------------------------
    def get_branch(self, repository_name: str | None, branch_name: str | None) -> dict[str, str]:
        repo = self.sandbox_git(repository_name)
        if not branch_name:
            raise ApiError("BranchNameRequiredException", "A branch name is required.")
        tip = gitrepo.branch_tip(repo, branch_name)
        if tip is None:
            raise ApiError("BranchDoesNotExistException", f"Branch {branch_name} does not exist.")
        return {"branchName": branch_name.removeprefix(gitrepo.HEADS), "commitId": tip}

    def get_commit(self, repository_name: str | None, commit_id: str | None) -> dict[str, Any]:
        repo = self.sandbox_git(repository_name)
        return gitrepo.describe(_existing_commit(repo, commit_id, missing="CommitIdDoesNotExistException"))

    def get_merge_options(
        self,
        repository_name: str | None,
        source_specifier: str | None,
        destination_specifier: str | None,
        conflict_detail_level: str | None,
        conflict_resolution_strategy: str | None,
    ) -> dict[str, Any]:
        repo = self.sandbox_git(repository_name)
        if conflict_detail_level is not None and conflict_detail_level not in CONFLICT_DETAIL_LEVELS:
            raise ApiError("InvalidConflictDetailLevelException", f"Invalid level: {conflict_detail_level}")
        if conflict_resolution_strategy is not None and conflict_resolution_strategy not in (
            CONFLICT_RESOLUTION_STRATEGIES
        ):
            raise ApiError(
                "InvalidConflictResolutionStrategyException",
                f"Invalid conflictResolutionStrategy: {conflict_resolution_strategy}",
            )
        source = _resolved(repo, source_specifier)
        destination = _resolved(repo, destination_specifier)
        base = gitrepo.merge_base(repo, source, destination)
        if base is None:
            # Unrelated histories have no merge base, and the output requires one; of the errors
            # GetMergeOptions declares, only this one (documented text) fits tips that cannot be related.
            raise ApiError(
                "TipsDivergenceExceededException",
                "The divergence between the tips of the provided commit specifiers is too great to determine "
                "whether there might be any merge conflicts. Locally compare the specifiers using git diff or a "
                "diff tool.",
            )
        fast_forward = gitrepo.is_ancestor(repo, destination, source)
        return {
            "mergeOptions": [option for option in MERGE_OPTIONS if fast_forward or option != "FAST_FORWARD_MERGE"],
            "sourceCommitId": source,
            "destinationCommitId": destination,
            "baseCommitId": base,
        }

    # --- pull requests ----------------------------------------------------------------------
    def create_pull_request(
        self,
        author_arn: str,
        title: str | None,
        description: str | None,
        targets: list[dict[str, Any]] | None,
        client_request_token: str | None,
    ) -> PullRequest:
        if not title:
            raise ApiError("TitleRequiredException", "A pull request title is required.")
        if len(title) > TITLE_MAX_LENGTH:
            raise ApiError("InvalidTitleException", f"The title must be at most {TITLE_MAX_LENGTH} characters.")
        if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
            raise ApiError("InvalidDescriptionException", "The description is too long.")
        if not targets:
            raise ApiError("TargetsRequiredException", "An array of target objects is required.")
        if len(targets) > 1:
            raise ApiError("MultipleRepositoriesInPullRequestException", "Only one target is supported.")
        target = targets[0]
        repo = self.sandbox_git(target.get("repositoryName"))
        source_ref = _branch_reference(target.get("sourceReference"))
        destination_ref = _branch_reference(target.get("destinationReference") or gitrepo.default_branch(repo) or "")
        if source_ref == destination_ref:
            raise ApiError("SourceAndDestinationAreSameException", "The source and destination are the same.")
        source = gitrepo.branch_tip(repo, source_ref)
        destination = gitrepo.branch_tip(repo, destination_ref)
        for reference, tip in ((source_ref, source), (destination_ref, destination)):
            if tip is None:
                raise ApiError("ReferenceDoesNotExistException", f"Reference {reference} does not exist.")
        request_print = fingerprint(
            "CreatePullRequest", {"title": title, "description": description, "targets": targets}
        )
        state = self.sandbox_state
        with state.lock:
            replayed = _replay(state, client_request_token, request_print)
            if replayed is not None:
                return state.pull_requests[replayed]
            state.last_pull_request_id += 1
            revision = _new_id()
            pull_request = PullRequest(
                pull_request_id=str(state.last_pull_request_id),
                title=title,
                description=description,
                author_arn=author_arn,
                client_request_token=client_request_token,
                repository_name=cast(str, target["repositoryName"]),
                source_reference=source_ref,
                destination_reference=destination_ref,
                source_commit=cast(str, source),
                destination_commit=cast(str, destination),
                merge_base=gitrepo.merge_base(repo, cast(str, source), cast(str, destination)),
                revision_id=revision,
                revisions=[revision],
            )
            state.pull_requests[pull_request.pull_request_id] = pull_request
            _remember(state, client_request_token, request_print, pull_request.pull_request_id)
        return pull_request

    def sandbox_pull_request(self, pull_request_id: str | None) -> PullRequest:
        if not pull_request_id:
            raise ApiError("PullRequestIdRequiredException", "A pull request ID is required.")
        if not pull_request_id.isdigit():
            raise ApiError("InvalidPullRequestIdException", f"The pull request ID {pull_request_id} is not valid.")
        pull_request = self.sandbox_state.pull_requests.get(pull_request_id)
        if pull_request is None:
            raise ApiError("PullRequestDoesNotExistException", f"Pull request {pull_request_id} does not exist.")
        return pull_request

    def list_pull_requests(self, repository_name: str | None, author_arn: str | None, status: str | None) -> list[str]:
        self.sandbox_repository(repository_name)
        if status is not None and status not in ("OPEN", "CLOSED"):
            raise ApiError("InvalidPullRequestStatusException", f"Invalid pullRequestStatus: {status}")
        found = [
            pr
            for pr in self.sandbox_state.pull_requests.values()
            if pr.repository_name == repository_name
            and (author_arn is None or pr.author_arn == author_arn)
            and (status is None or pr.status == status)
        ]
        return [pr.pull_request_id for pr in sorted(found, key=lambda pr: int(pr.pull_request_id))]

    def update_pull_request_status(self, pull_request_id: str | None, status: str | None) -> PullRequest:
        pull_request = self.sandbox_pull_request(pull_request_id)
        if not status:
            raise ApiError("PullRequestStatusRequiredException", "A pull request status is required.")
        if status not in ("OPEN", "CLOSED"):
            raise ApiError("InvalidPullRequestStatusException", f"Invalid pullRequestStatus: {status}")
        with self.sandbox_state.lock:
            if not (pull_request.status == "OPEN" and status == "CLOSED"):
                raise ApiError(
                    "InvalidPullRequestStatusUpdateException", "The only valid update is from OPEN to CLOSED."
                )
            pull_request.status = status
            pull_request.last_activity_date = now()
        return pull_request

    def refresh_pull_request(self, pull_request: PullRequest) -> bool:
        """Follow a push to the source branch: new tip, new merge base, new revision. True if it moved."""
        if pull_request.status != "OPEN":
            return False
        repo = self.sandbox_git(pull_request.repository_name)
        tip = gitrepo.branch_tip(repo, pull_request.source_reference)
        with self.sandbox_state.lock:
            if tip is None or tip == pull_request.source_commit:
                return False
            pull_request.source_commit = tip
            pull_request.merge_base = gitrepo.merge_base(repo, tip, pull_request.destination_commit)
            pull_request.revision_id = _new_id()
            pull_request.revisions.append(pull_request.revision_id)
            pull_request.last_activity_date = now()
        return True

    # --- approvals --------------------------------------------------------------------------
    def update_pull_request_approval_state(
        self, caller: str, pull_request_id: str | None, revision_id: str | None, approval_state: str | None
    ) -> None:
        pull_request = self.sandbox_pull_request(pull_request_id)
        if not revision_id:
            raise ApiError("RevisionIdRequiredException", "A revision ID is required.")
        if not approval_state:
            raise ApiError("ApprovalStateRequiredException", "An approval state is required.")
        if approval_state not in ("APPROVE", "REVOKE"):
            raise ApiError("InvalidApprovalStateException", f"Invalid approvalState: {approval_state}")
        with self.sandbox_state.lock:
            if pull_request.status != "OPEN":
                raise ApiError("PullRequestAlreadyClosedException", f"Pull request {pull_request_id} is closed.")
            _check_revision(pull_request, revision_id)
            if revision_id != pull_request.revision_id:
                raise ApiError("RevisionNotCurrentException", "The revision ID is not the current revision ID.")
            if caller == pull_request.author_arn:
                raise ApiError(
                    "PullRequestCannotBeApprovedByAuthorException", "You cannot approve a pull request you created."
                )
            approvals = pull_request.approvals.setdefault(revision_id, {})
            if approval_state == "APPROVE":
                approvals[caller] = "APPROVE"
            else:
                approvals.pop(caller, None)
            pull_request.last_activity_date = now()

    def get_pull_request_approval_states(
        self, pull_request_id: str | None, revision_id: str | None
    ) -> list[dict[str, str]]:
        pull_request = self.sandbox_pull_request(pull_request_id)
        if not revision_id:
            raise ApiError("RevisionIdRequiredException", "A revision ID is required.")
        _check_revision(pull_request, revision_id)
        approvals = pull_request.approvals.get(revision_id, {})
        return [{"userArn": user, "approvalState": state} for user, state in approvals.items()]

    # --- comments ---------------------------------------------------------------------------
    def post_comment(
        self,
        operation: str,
        author_arn: str,
        params: dict[str, Any],
    ) -> Comment:
        """PostCommentForPullRequest and PostCommentForComparedCommit: validate, de-duplicate, store."""
        content = params.get("content")
        _check_content(content)
        pull_request_id = params.get("pullRequestId")
        repository_name = params.get("repositoryName")
        if operation == "PostCommentForPullRequest":
            pull_request = self.sandbox_pull_request(pull_request_id)
            self.sandbox_repository(repository_name)
            if pull_request.repository_name != repository_name:
                raise ApiError(
                    "RepositoryNotAssociatedWithPullRequestException",
                    f"Repository {repository_name} has no pull request {pull_request_id}.",
                )
        repo = self.sandbox_git(repository_name)
        after = _existing_commit(repo, params.get("afterCommitId"))
        before_id = params.get("beforeCommitId")
        if before_id is None and (operation == "PostCommentForPullRequest" or after.parent_ids):
            # Only the initial commit may be commented on without a before commit.
            raise ApiError("CommitIdRequiredException", "beforeCommitId is required.")
        before = _existing_commit(repo, before_id) if before_id is not None else None
        if before is not None and before.id == after.id:
            raise ApiError("BeforeCommitIdAndAfterCommitIdAreSameException", "The before and after commits are equal.")
        before_commit_id = str(before.id) if before is not None else None
        location = params.get("location")
        before_blob, after_blob = _location_blobs(repo, location, before_commit_id, str(after.id))
        token = params.get("clientRequestToken")
        request = {key: value for key, value in params.items() if key != "clientRequestToken"}
        state = self.sandbox_state
        with state.lock:
            replayed = _replay(state, token, fingerprint(operation, request))
            if replayed is not None:
                return state.comments[replayed]
            comment = Comment(
                comment_id=_new_id(),
                content=cast(str, content),
                author_arn=author_arn,
                client_request_token=token,
                repository_name=cast(str, repository_name),
                before_commit_id=before_commit_id,
                after_commit_id=str(after.id),
                pull_request_id=pull_request_id if operation == "PostCommentForPullRequest" else None,
                location=location,
                before_blob_id=before_blob,
                after_blob_id=after_blob,
            )
            state.comments[comment.comment_id] = comment
            _remember(state, token, fingerprint(operation, request), comment.comment_id)
            if comment.pull_request_id is not None:
                state.pull_requests[comment.pull_request_id].last_activity_date = comment.creation_date
        return comment

    def sandbox_comment(self, comment_id: str | None) -> Comment:
        if not comment_id:
            raise ApiError("CommentIdRequiredException", "A comment ID is required.")
        comment = self.sandbox_state.comments.get(comment_id)
        if comment is None:
            raise ApiError("CommentDoesNotExistException", f"Comment {comment_id} does not exist.")
        return comment

    def update_comment(self, caller: str, comment_id: str | None, content: str | None) -> Comment:
        comment = self.sandbox_comment(comment_id)
        _check_content(content)
        with self.sandbox_state.lock:
            if comment.deleted:
                raise ApiError("CommentDeletedException", "This comment has already been deleted.")
            if comment.author_arn != caller:
                raise ApiError(
                    "CommentNotCreatedByCallerException",
                    "Only comment authors can modify or delete their comments.",
                )
            comment.content = cast(str, content)
            comment.last_modified_date = now()
        return comment

    def delete_comment_content(self, comment_id: str | None) -> Comment:
        comment = self.sandbox_comment(comment_id)
        with self.sandbox_state.lock:
            if comment.deleted:
                raise ApiError("CommentDeletedException", "This comment has already been deleted.")
            comment.deleted = True
            comment.content = ""
            comment.last_modified_date = now()
        return comment

    def comment_threads(
        self,
        matches: Callable[[Comment], bool],
        next_token: str | None,
        max_results: int | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of matching comments (paged by comment, as documented), grouped by what they annotate."""
        page_size = _page_size(max_results, COMMENTS_DEFAULT_PAGE_SIZE, COMMENTS_MAX_PAGE_SIZE)
        found = [comment for comment in self.sandbox_state.comments.values() if matches(comment)]
        page, token = paginate(found, next_token, page_size, _invalid_token())
        threads: dict[str, dict[str, Any]] = {}
        for comment in page:
            context = comment.context()
            thread = threads.setdefault(json.dumps(context, sort_keys=True), {**context, "comments": []})
            thread["comments"].append(comment.to_api())
        return list(threads.values()), token

    def check_commit_filter(self, repository_name: str, *commit_ids: str | None) -> None:
        repo = self.sandbox_git(repository_name)
        for commit_id in commit_ids:
            if commit_id is not None:
                _existing_commit(repo, commit_id)


def _replay(state: CodeCommitState, token: str | None, request: str) -> str | None:
    """The id created by an earlier request with this token, if it had the same parameters."""
    if token is None or token not in state.tokens:
        return None
    original, created = state.tokens[token]
    if original != request:
        raise ApiError(
            "IdempotencyParameterMismatchException",
            "The client request token has been used in a previous request and cannot be reused.",
        )
    return created


def _remember(state: CodeCommitState, token: str | None, request: str, created: str) -> None:
    if token is not None:
        state.tokens[token] = (request, created)


def _check_content(content: str | None) -> None:
    if not content:
        raise ApiError("CommentContentRequiredException", "The comment is empty.")
    if len(content) > COMMENT_MAX_LENGTH:
        raise ApiError(
            "CommentContentSizeLimitExceededException",
            f"The comment is too large. Comments are limited to {COMMENT_MAX_LENGTH:,} characters.",
        )


def _check_revision(pull_request: PullRequest, revision_id: str) -> None:
    if revision_id not in pull_request.revisions:
        raise ApiError("InvalidRevisionIdException", f"Revision {revision_id} is not a revision of this pull request.")


def _existing_commit(
    repo: pygit2.Repository, commit_id: str | None, missing: str = "CommitDoesNotExistException"
) -> pygit2.Commit:
    if not commit_id:
        raise ApiError("CommitIdRequiredException", "A commit ID is required.")
    if not gitrepo.FULL_COMMIT_ID.match(commit_id):
        raise ApiError("InvalidCommitIdException", f"{commit_id} is not a full commit ID.")
    found = gitrepo.commit(repo, commit_id)
    if found is None:
        raise ApiError(missing, f"Commit {commit_id} does not exist.")
    return found


def _resolved(repo: pygit2.Repository, specifier: str | None) -> str:
    if not specifier:
        raise ApiError("CommitRequiredException", "A commit specifier is required.")
    found = gitrepo.resolve(repo, specifier)
    if found is None:
        raise ApiError("CommitDoesNotExistException", f"{specifier} does not resolve to a commit.")
    return str(found.id)


def _branch_reference(reference: str | None) -> str:
    """CodeCommit takes `feature` or `refs/heads/feature` and reports the full ref."""
    if not reference:
        raise ApiError("ReferenceNameRequiredException", "A reference name is required.")
    if reference.startswith("refs/") and not reference.startswith(gitrepo.HEADS):
        raise ApiError("ReferenceTypeNotSupportedException", f"{reference} is not a branch.")
    return reference if reference.startswith(gitrepo.HEADS) else gitrepo.HEADS + reference


def _location_blobs(
    repo: pygit2.Repository, location: dict[str, Any] | None, before: str | None, after: str
) -> tuple[str | None, str | None]:
    """Check a comment's file location against the compared commits; return the file's blob ids."""
    if location is None:
        return None, None
    path = location.get("filePath")
    if not path:
        raise ApiError("PathRequiredException", "A file path is required for a location.")
    version = location.get("relativeFileVersion", "AFTER")
    if version not in ("BEFORE", "AFTER"):
        raise ApiError("InvalidRelativeFileVersionEnumException", f"Invalid relativeFileVersion: {version}")
    if version == "BEFORE" and before is None:
        raise ApiError("InvalidFileLocationException", "A BEFORE location needs a beforeCommitId.")
    before_blob = gitrepo.blob_at(repo, before, path)
    after_blob = gitrepo.blob_at(repo, after, path)
    located = before_blob if version == "BEFORE" else after_blob
    if located is None:
        raise ApiError("PathDoesNotExistException", f"{path} does not exist in the {version.lower()} commit.")
    position = location.get("filePosition")
    if position is not None and not 1 <= int(position) <= gitrepo.line_count(located):
        raise ApiError("InvalidFilePositionException", f"Line {position} does not exist in {path}.")
    return (
        str(before_blob.id) if before_blob is not None else None,
        str(after_blob.id) if after_blob is not None else None,
    )


class SandboxCodeCommitResponse(CodeCommitResponse):
    """The request side of the added operations (grafted onto moto's CodeCommitResponse by `patch`)."""

    @property
    def sandbox_backend(self) -> SandboxCodeCommitBackend:
        return cast(SandboxCodeCommitBackend, self.codecommit_backend)

    def list_repositories(self) -> ActionResult:
        listed = self.sandbox_backend.list_repositories_sorted(self._get_param("sortBy"), self._get_param("order"))
        page, token = paginate(listed, self._get_param("nextToken"), LIST_REPOSITORIES_PAGE_SIZE, _invalid_token())
        return ActionResult({"repositories": page, "nextToken": token})

    def list_branches(self) -> ActionResult:
        names = gitrepo.branch_names(self.sandbox_backend.sandbox_git(self._get_param("repositoryName")))
        page, token = paginate(names, self._get_param("nextToken"), LIST_BRANCHES_PAGE_SIZE, _invalid_token())
        return ActionResult({"branches": page, "nextToken": token})

    def get_branch(self) -> ActionResult:
        branch = self.sandbox_backend.get_branch(self._get_param("repositoryName"), self._get_param("branchName"))
        return ActionResult({"branch": branch})

    def get_commit(self) -> ActionResult:
        found = self.sandbox_backend.get_commit(self._get_param("repositoryName"), self._get_param("commitId"))
        return ActionResult({"commit": found})

    def get_merge_options(self) -> ActionResult:
        return ActionResult(
            self.sandbox_backend.get_merge_options(
                self._get_param("repositoryName"),
                self._get_param("sourceCommitSpecifier"),
                self._get_param("destinationCommitSpecifier"),
                self._get_param("conflictDetailLevel"),
                self._get_param("conflictResolutionStrategy"),
            )
        )

    def create_pull_request(self) -> ActionResult:
        pull_request = self.sandbox_backend.create_pull_request(
            caller_arn(self),
            self._get_param("title"),
            self._get_param("description"),
            self._get_param("targets"),
            self._get_param("clientRequestToken"),
        )
        return ActionResult({"pullRequest": pull_request.to_api()})

    def get_pull_request(self) -> ActionResult:
        pull_request = self.sandbox_backend.sandbox_pull_request(self._get_param("pullRequestId"))
        return ActionResult({"pullRequest": pull_request.to_api()})

    def list_pull_requests(self) -> ActionResult:
        ids = self.sandbox_backend.list_pull_requests(
            self._get_param("repositoryName"), self._get_param("authorArn"), self._get_param("pullRequestStatus")
        )
        page_size = _page_size(self._get_param("maxResults"), PULL_REQUESTS_DEFAULT_PAGE_SIZE)
        page, token = paginate(ids, self._get_param("nextToken"), page_size, _invalid_token())
        return ActionResult({"pullRequestIds": page, "nextToken": token})

    def update_pull_request_status(self) -> ActionResult:
        pull_request = self.sandbox_backend.update_pull_request_status(
            self._get_param("pullRequestId"), self._get_param("pullRequestStatus")
        )
        return ActionResult({"pullRequest": pull_request.to_api()})

    def update_pull_request_approval_state(self) -> EmptyResult:
        self.sandbox_backend.update_pull_request_approval_state(
            caller_arn(self),
            self._get_param("pullRequestId"),
            self._get_param("revisionId"),
            self._get_param("approvalState"),
        )
        return EmptyResult()

    def get_pull_request_approval_states(self) -> ActionResult:
        approvals = self.sandbox_backend.get_pull_request_approval_states(
            self._get_param("pullRequestId"), self._get_param("revisionId")
        )
        return ActionResult({"approvals": approvals})

    def post_comment_for_pull_request(self) -> ActionResult:
        return self._post_comment("PostCommentForPullRequest")

    def post_comment_for_compared_commit(self) -> ActionResult:
        return self._post_comment("PostCommentForComparedCommit")

    def _post_comment(self, operation: str) -> ActionResult:
        names = ("pullRequestId", "repositoryName", "beforeCommitId", "afterCommitId", "location", "content")
        params = {name: self._get_param(name) for name in (*names, "clientRequestToken")}
        params = {name: value for name, value in params.items() if value is not None}
        comment = self.sandbox_backend.post_comment(operation, caller_arn(self), params)
        return ActionResult({**comment.context(), "comment": comment.to_api()})

    def update_comment(self) -> ActionResult:
        comment = self.sandbox_backend.update_comment(
            caller_arn(self), self._get_param("commentId"), self._get_param("content")
        )
        return ActionResult({"comment": comment.to_api()})

    def delete_comment_content(self) -> ActionResult:
        comment = self.sandbox_backend.delete_comment_content(self._get_param("commentId"))
        return ActionResult({"comment": comment.to_api()})

    def get_comment(self) -> ActionResult:
        comment = self.sandbox_backend.sandbox_comment(self._get_param("commentId"))
        if comment.deleted:
            raise ApiError("CommentDeletedException", "This comment has already been deleted.")
        return ActionResult({"comment": comment.to_api()})

    def get_comments_for_compared_commit(self) -> ActionResult:
        backend = self.sandbox_backend
        repository_name = self._get_param("repositoryName")
        before, after = self._get_param("beforeCommitId"), self._get_param("afterCommitId")
        backend.sandbox_repository(repository_name)
        if not after:
            raise ApiError("CommitIdRequiredException", "afterCommitId is required.")
        backend.check_commit_filter(repository_name, before, after)

        # A comparison is the (before, after) pair: omitting beforeCommitId asks for the initial-commit one.
        def matches(comment: Comment) -> bool:
            return (
                comment.pull_request_id is None
                and comment.repository_name == repository_name
                and comment.before_commit_id == before
                and comment.after_commit_id == after
            )

        threads, token = backend.comment_threads(matches, self._get_param("nextToken"), self._get_param("maxResults"))
        return ActionResult({"commentsForComparedCommitData": threads, "nextToken": token})

    def get_comments_for_pull_request(self) -> ActionResult:
        backend = self.sandbox_backend
        pull_request = backend.sandbox_pull_request(self._get_param("pullRequestId"))
        repository_name = self._get_param("repositoryName")
        before, after = self._get_param("beforeCommitId"), self._get_param("afterCommitId")
        # Documented as conditional: the repository and both commits filter together or not at all.
        if repository_name is None and (before is not None or after is not None):
            raise ApiError("RepositoryNameRequiredException", "repositoryName is required with commit IDs.")
        if repository_name is not None:
            backend.sandbox_repository(repository_name)
            if repository_name != pull_request.repository_name:
                raise ApiError(
                    "RepositoryNotAssociatedWithPullRequestException",
                    f"Repository {repository_name} has no pull request {pull_request.pull_request_id}.",
                )
            if before is None or after is None:
                raise ApiError("CommitIdRequiredException", "beforeCommitId and afterCommitId are required.")
            backend.check_commit_filter(repository_name, before, after)

        def matches(comment: Comment) -> bool:
            return comment.pull_request_id == pull_request.pull_request_id and (
                repository_name is None or (comment.before_commit_id == before and comment.after_commit_id == after)
            )

        threads, token = backend.comment_threads(matches, self._get_param("nextToken"), self._get_param("maxResults"))
        return ActionResult({"commentsForPullRequestData": threads, "nextToken": token})


def patch() -> None:
    """Graft the sandbox's CodeCommit operations onto moto (idempotent: grafting sets the same attributes again)."""
    graft(CodeCommitBackend, SandboxCodeCommitBackend)
    graft(CodeCommitResponse, SandboxCodeCommitResponse)


def backend_for(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SandboxCodeCommitBackend:
    """moto's CodeCommit backend for an account and region, typed with the sandbox's additions."""
    patch()
    return cast(SandboxCodeCommitBackend, codecommit_backends[account_id][region])


def import_repository(
    name: str, path: Path, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """Serve an existing bare repository as CodeCommit repository `name`, history intact.

    Returns the repository metadata (as CreateRepository would). Raises ValueError when `path` is
    not a git repository and moto's RepositoryNameExistsException when the name is taken.
    """
    repo = gitrepo.open_repo(path)
    if repo is None or not repo.is_bare:
        raise ValueError(f"not a bare git repository: {path}")
    backend = backend_for(account_id, region)
    if name in backend.repositories:
        raise RepositoryNameExistsException(name)
    store = _store()
    store.register(name, path)
    try:
        return dict(backend.create_repository(name, f"Imported from {path}"))
    except Exception:
        store.forget(name)
        raise


def number_pull_requests_from(
    first: int, *, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION
) -> None:
    """The next pull request gets number `first` at the least, as if earlier ones had been opened."""
    state = backend_for(account_id, region).sandbox_state
    with state.lock:
        state.last_pull_request_id = max(state.last_pull_request_id, first - 1)


def refresh_pull_request(
    repository_name: str,
    pull_request_id: str,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> dict[str, Any] | None:
    """Re-read an open pull request's source branch after a push, as CodeCommit does on every push.

    When the tip moved, the pull request gets the new `sourceCommit`, a new `mergeBase` and a new
    `revisionId` (approvals start again), and the updated pull request (GetPullRequest's shape) is
    returned, e.g. for a `pullRequestSourceBranchUpdated` event. Returns None when nothing moved.
    """
    backend = backend_for(account_id, region)
    pull_request = backend.sandbox_pull_request(pull_request_id)
    if pull_request.repository_name != repository_name:
        raise ApiError(
            "RepositoryNotAssociatedWithPullRequestException",
            f"Repository {repository_name} has no pull request {pull_request_id}.",
        )
    return pull_request.to_api() if backend.refresh_pull_request(pull_request) else None


def refresh_pull_requests(
    repository_name: str,
    branch: str | None = None,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> list[dict[str, Any]]:
    """Refresh every open pull request of a repository (or only those whose source is `branch`).

    The git server's post-push hook calls this; returns the pull requests that got a new revision.
    """
    backend = backend_for(account_id, region)
    source = _branch_reference(branch) if branch is not None else None
    candidates = [
        pr
        for pr in list(backend.sandbox_state.pull_requests.values())
        if pr.repository_name == repository_name and (source is None or pr.source_reference == source)
    ]
    return [pr.to_api() for pr in candidates if backend.refresh_pull_request(pr)]
