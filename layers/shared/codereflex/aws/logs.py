"""CloudWatch Logs: the last lines of a log stream (a failed build's output)."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate


class LogsClient(Protocol):
    """The one boto3 CloudWatch Logs method used (no mypy_boto3_logs stubs are installed)."""

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]: ...


class LogTail:
    """Reads the end of log streams; one call per method."""

    def __init__(self, client: LogsClient) -> None:
        self._client = client

    def last_lines(self, group: str, stream: str, limit: int) -> list[str]:
        """Up to `limit` last lines of a stream, oldest first; none when the stream does not exist (yet)."""
        try:
            response = self._client.get_log_events(
                logGroupName=group, logStreamName=stream, limit=limit, startFromHead=False
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise translate(error, f"GetLogEvents of {group}") from error
        lines: list[str] = []
        for event in response.get("events") or []:
            lines.extend(str(event.get("message", "")).rstrip("\n").splitlines() or [""])
        return lines[-limit:]
