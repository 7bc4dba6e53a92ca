"""CloudWatch for deployment validation: GetMetricData over every page, and alarm states (DescribeAlarms)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from codereflex.aws.errors import error_code
from codereflex.validation.ports import AlarmState, MetricData, ToolError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

ALARMS_PER_CALL = 100  # DescribeAlarms' AlarmNames holds at most 100
MAX_PAGES = 50  # a window read that needs more is not one a hook should decide on


class CloudWatchMetrics:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def metric_data(self, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> MetricData:
        """Every page followed; a query's values are complete only if its last page said Complete."""
        series: dict[str, list[tuple[datetime, float]]] = {}
        status: dict[str, str] = {}
        token: str | None = None
        for _ in range(MAX_PAGES):
            request: dict[str, Any] = {
                "MetricDataQueries": list(queries),
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                request["NextToken"] = token
            response = call(self._client.get_metric_data, "GetMetricData", **request)
            for result in response.get("MetricDataResults") or []:
                points = series.setdefault(str(result["Id"]), [])
                points.extend(
                    zip(result.get("Timestamps") or [], (float(v) for v in result.get("Values") or []), strict=False)
                )
                status[str(result["Id"])] = str(result.get("StatusCode", "Complete"))
            token = response.get("NextToken")
            if not token:
                break
        else:
            return MetricData({k: sorted(v) for k, v in series.items()}, False, f"more than {MAX_PAGES} pages")
        worst = next((s for s in status.values() if s != "Complete"), "Complete")
        return MetricData({k: sorted(v) for k, v in series.items()}, worst == "Complete", worst)


class CloudWatchAlarms:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, AlarmState]:
        states: dict[str, AlarmState] = {}
        for first in range(0, len(names), ALARMS_PER_CALL):
            token: str | None = None
            while True:
                request: dict[str, Any] = {
                    "AlarmNames": list(names[first : first + ALARMS_PER_CALL]),
                    "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                }
                if token:
                    request["NextToken"] = token
                response = call(self._client.describe_alarms, "DescribeAlarms", **request)
                for alarm in [*(response.get("MetricAlarms") or []), *(response.get("CompositeAlarms") or [])]:
                    name = str(alarm["AlarmName"])
                    states[name] = AlarmState(name, str(alarm["StateValue"]), str(alarm.get("StateReason", ""))[:256])
                token = response.get("NextToken")
                if not token:
                    break
        return states


def call(method: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """One read; its ClientError (after the client's retries) becomes a ToolError naming only operation and code."""
    try:
        response: dict[str, Any] = method(**kwargs)
    except ClientError as error:  # after the client's own bounded retries
        raise ToolError(f"{operation}: {error_code(error)}") from error
    except BotoCoreError as error:
        raise ToolError(f"{operation}: {type(error).__name__}") from error
    return response
