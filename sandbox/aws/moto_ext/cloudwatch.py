"""CloudWatch alarms that start as CloudWatch's do, grafted onto moto.

A new alarm has no evaluation yet, so CloudWatch creates it in INSUFFICIENT_DATA ("Unchecked:
Initial alarm creation"); moto creates it OK, which would let a check that accepts OK pass on an
alarm that has never looked at a datapoint. Updating an existing alarm keeps its state, as in AWS.
Tests set states with moto's SetAlarmState.
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend

from sandbox.aws.moto_ext._support import graft

_moto_put_metric_alarm = CloudWatchBackend.put_metric_alarm


class SandboxCloudWatchBackend(CloudWatchBackend):
    def put_metric_alarm(self, name: str, *args: Any, **kwargs: Any) -> Alarm:
        previous = self.alarms.get(name)
        alarm = _moto_put_metric_alarm(self, name, *args, **kwargs)
        if previous is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
        return alarm


def patch() -> None:
    """Graft the initial alarm state onto moto's CloudWatch (idempotent)."""
    graft(CloudWatchBackend, SandboxCloudWatchBackend)
