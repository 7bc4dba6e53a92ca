"""Translate botocore's ClientError into the project's permanent and transient errors."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import ClientError

from codereflex.errors import AccessDenied, CodeReflexError, InvalidInput, TargetGone, TransientError

_ACCESS = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDenied",
}

# The codes by which the services codereflex calls refuse the request itself: a malformed or
# missing name, id, token or parameter, or a request the service can never accept. The same event
# would send the same request again, so each is final. Codes are as the wire carries them (the
# awsQueryError code for SNS, not the shape name) and each is in that service's botocore model
# (tests/unit/shared/test_errors.py checks), taken from the errors of the operations the adapters
# call. Not here, because a retry can succeed: throttling and quotas (AccountLimitExceededException,
# RequestLimitExceeded, KMSThrottling), concurrency (ConcurrentReferenceUpdateException,
# TransactionConflictException), unavailable keys (EncryptionKeyUnavailableException), and the
# paging tokens (InvalidContinuationTokenException, InvalidNextToken): a token the service itself
# handed out can only be refused when it expired mid-listing, and a retry lists again from the start.
INVALID_INPUT: Mapping[str, frozenset[str]] = {
    "codecommit": frozenset(
        {
            "ApprovalStateRequiredException",
            "BeforeCommitIdAndAfterCommitIdAreSameException",
            "ClientRequestTokenRequiredException",
            "CommentContentRequiredException",
            "CommentContentSizeLimitExceededException",
            "CommentIdRequiredException",
            "CommitIdRequiredException",
            "CommitRequiredException",
            "IdempotencyParameterMismatchException",
            "InvalidApprovalStateException",
            "InvalidAuthorArnException",
            "InvalidClientRequestTokenException",
            "InvalidCommentIdException",
            "InvalidCommitException",
            "InvalidCommitIdException",
            "InvalidConflictDetailLevelException",
            "InvalidConflictResolutionStrategyException",
            "InvalidFileLocationException",
            "InvalidFilePositionException",
            "InvalidMaxResultsException",
            "InvalidOrderException",
            "InvalidPathException",
            "InvalidPullRequestIdException",
            "InvalidPullRequestStatusException",
            "InvalidRelativeFileVersionEnumException",
            "InvalidRepositoryNameException",
            "InvalidRevisionIdException",
            "InvalidSortByException",
            "PathRequiredException",
            "PullRequestIdRequiredException",
            "RepositoryNameRequiredException",
            "RepositoryNotAssociatedWithPullRequestException",
            "RevisionIdRequiredException",
            "ValidationException",
        }
    ),
    "codebuild": frozenset({"InvalidInputException"}),
    # PutApprovalResult's InvalidApprovalTokenException and ApprovalAlreadyCompletedException are
    # not here: the CodePipeline adapter reads both as "already done" (the approval has ended).
    "codepipeline": frozenset({"InvalidArnException", "ValidationException"}),
    "s3": frozenset({"EncryptionTypeMismatch", "InvalidObjectState", "InvalidRequest", "TooManyParts"}),
    "sns": frozenset(
        {
            "InvalidParameter",
            "InvalidSecurity",
            "KMSDisabled",
            "KMSInvalidState",
            "KMSNotFound",
            "KMSOptInRequired",
            "ParameterValueInvalid",
            "ValidationException",
        }
    ),
    "ssm": frozenset({"InvalidKeyId", "ValidationException"}),
    "logs": frozenset({"InvalidParameterException", "ValidationException"}),
}

# Codes the services send that their botocore models do not list. S3 documents its errors only on
# its "Error responses" page (InvalidArgument: a bad header or parameter, such as an SSE-KMS key id);
# DynamoDB lists ValidationException among its common errors; "common" are AWS's common errors of
# every service that say the request is malformed (signing and clock errors are not: they can pass).
UNMODELLED_INVALID_INPUT: Mapping[str, frozenset[str]] = {
    "s3": frozenset({"InvalidArgument", "InvalidBucketName", "KeyTooLongError", "MalformedXML"}),
    "dynamodb": frozenset({"ValidationException"}),
    "common": frozenset(
        {
            "InvalidAction",
            "InvalidParameterCombination",
            "InvalidParameterValue",
            "InvalidQueryParameter",
            "MalformedQueryString",
            "MissingAction",
            "MissingParameter",
            "ValidationError",
        }
    ),
}

_INVALID = frozenset().union(*INVALID_INPUT.values(), *UNMODELLED_INVALID_INPUT.values())


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: ClientError, what: str, *, gone: frozenset[str] = frozenset()) -> CodeReflexError:
    """The project error for a failed call; `gone` names the codes meaning the target no longer exists.

    Anything not known to be permanent is transient: Lambda's bounded async retries and the
    dead-letter queue take it from there, so a wrong guess costs two retries, not a storm.
    """
    code = error_code(error)
    if code in gone or code.endswith("NotFoundException") or code.endswith("DoesNotExistException"):
        return TargetGone(f"{what}: {code}")
    if code in _ACCESS:
        return AccessDenied(f"{what}: {code}")
    if code in _INVALID:
        return InvalidInput(f"{what}: {code}")
    return TransientError(f"{what}: {code or 'unknown error'}")
