"""Turn a sandbox build (BatchGetBuilds' shape) into the "CodeBuild Build State Change" event AWS would send.

CodeBuild's events use kebab-case field names and US-locale times ("Sep 1, 2017 4:12:29 PM"); the
builder reproduces both, so handlers meet the same untidy payloads as in AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sandbox.aws.envelope import envelope

ACCOUNT_ID = "123456789012"
DETAIL_TYPE = "CodeBuild Build State Change"


def locale_time(moment: datetime | str | None) -> str | None:
    """CodeBuild's event time format: `Sep 1, 2017 4:12:29 PM` (UTC)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year} {hour}:{moment:%M:%S} {moment:%p}"


def _phase(phase: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {"phase-type": phase["phaseType"], "start-time": locale_time(phase.get("startTime"))}
    if "phaseStatus" in phase:
        shaped["phase-status"] = phase["phaseStatus"]
        shaped["end-time"] = locale_time(phase.get("endTime"))
        shaped["duration-in-seconds"] = phase.get("durationInSeconds", 0)
        shaped["phase-context"] = [
            f"{context.get('statusCode', '')}: {context.get('message', '')}" for context in phase.get("contexts") or []
        ]
    return shaped


def build_state_event(
    build: Mapping[str, Any],
    *,
    status: str | None = None,
    region: str = "us-east-1",
    now: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One EventBridge envelope for a build (as BatchGetBuilds returns it) in `status` (default: its own).

    An IN_PROGRESS event carries no phases and a generic log link, as AWS sends it before the
    build is provisioned; a terminal one carries the phases and the build's log stream.
    """
    state = status or str(build["buildStatus"])
    arn = str(build.get("arn") or f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:build/{build['id']}")
    environment = build.get("environment") or {}
    logs = build.get("logs") or {}
    info: dict[str, Any] = {
        "build-complete": state != "IN_PROGRESS",
        "initiator": build.get("initiator", "developer"),
        "build-start-time": locale_time(build.get("startTime")),
        "source": {key: value for key, value in (build.get("source") or {}).items() if key in ("type", "location")},
        "environment": {
            "image": environment.get("image"),
            "privileged-mode": bool(environment.get("privilegedMode", False)),
            "compute-type": environment.get("computeType"),
            "type": environment.get("type"),
            "environment-variables": [
                {"name": v["name"], "value": v.get("value", ""), "type": v.get("type", "PLAINTEXT")}
                for v in environment.get("environmentVariables") or []
            ],
        },
        "timeout-in-minutes": build.get("timeoutInMinutes", 60),
    }
    if build.get("sourceVersion"):
        info["source-version"] = build["sourceVersion"]
    if build.get("buildNumber") is not None:
        info["build-number"] = float(build["buildNumber"])  # AWS sends numbers as floats
    if state == "IN_PROGRESS":
        info["logs"] = {
            "deep-link": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups"
        }
        current_phase = "SUBMITTED"
    else:
        info["logs"] = {
            "group-name": logs.get("groupName"),
            "stream-name": logs.get("streamName"),
            "deep-link": logs.get("deepLink"),
        }
        info["phases"] = [_phase(phase) for phase in build.get("phases") or []]
        current_phase = "COMPLETED"
    return envelope(
        source="aws.codebuild",
        detail_type=DETAIL_TYPE,
        detail={
            "build-status": state,
            "project-name": build.get("projectName") or str(build["id"]).split(":", 1)[0],
            "build-id": arn,
            "additional-information": info,
            "current-phase": current_phase,
            "current-phase-context": "[]",
            "version": "1",
        },
        account=ACCOUNT_ID,
        region=region,
        resources=[arn],
        time=now,
        event_id=event_id,
    )
