"""The project's errors: permanent ones are logged and counted, transient ones are retried."""


class CodeReflexError(Exception):
    """Base of every error codereflex raises on purpose."""


class PermanentError(CodeReflexError):
    """Retrying cannot help (bad input, target gone, access denied): log, count, do not retry."""

    reason = "permanent"


class BadEvent(PermanentError):
    """The event does not have the shape the function expects."""

    reason = "bad-event"


class ConfigurationError(PermanentError):
    """A required setting is missing or malformed."""

    reason = "configuration"


class InvalidInput(PermanentError):
    """A service refused the request itself (a malformed name, id or parameter): the same request fails again."""

    reason = "invalid-input"


class TargetGone(PermanentError):
    """The repository, pull request, pipeline or deployment the event names no longer exists."""

    reason = "target-gone"


class AccessDenied(PermanentError):
    """The function's role may not do what the event asks."""

    reason = "access-denied"


class NoCommonHistory(CodeReflexError):
    """Two commits share no history CodeCommit can find: an answer about them, not a failure."""


class TransientError(CodeReflexError):
    """Throttling, timeouts, eventual consistency: raise so Lambda retries, then the DLQ."""
