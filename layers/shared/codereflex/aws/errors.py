"""Translate botocore's ClientError into the project's permanent and transient errors."""

from __future__ import annotations

from botocore.exceptions import ClientError

from codereflex.errors import AccessDenied, CodeReflexError, PermanentError, TargetGone, TransientError

_ACCESS = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDenied",
}
_INVALID = {"ValidationException", "InvalidParameter", "InvalidParameterValue", "InvalidParameterException"}


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
        return PermanentError(f"{what}: {code}")
    return TransientError(f"{what}: {code or 'unknown error'}")
