"""What invokes a CodeDeploy hook function: CodeDeploy's lifecycle hook payload, or the function's own continuation."""

from __future__ import annotations

from typing import Any, NamedTuple

from codereflex.events.reading import Fields, shape_error

# CodeDeploy's execution ids are base64 JSON of a few hundred characters (the AWS samples'); a key fits 2 KiB.
MAX_ID = 2048
CONTINUATION_KEY = "codereflexContinuation"


class HookInvocation(NamedTuple):
    """`{"DeploymentId", "LifecycleEventHookExecutionId"}`: exactly what CodeDeploy sends (the hook is not in it)."""

    deployment_id: str
    execution_id: str


class Continuation(NamedTuple):
    """The function's own hand-over to its next run: names the hook execution only, so it decides nothing itself."""

    execution_id: str


def read(event: Any) -> HookInvocation | Continuation:
    fields = Fields(event, "")
    if fields.value(CONTINUATION_KEY) is not None:
        inner = fields.child(CONTINUATION_KEY, lambda f: f)
        return Continuation(_id(inner, "hookExecutionId"))
    return HookInvocation(_id(fields, "DeploymentId"), _id(fields, "LifecycleEventHookExecutionId"))


def continuation(execution_id: str) -> dict[str, Any]:
    return {CONTINUATION_KEY: {"hookExecutionId": execution_id}}


def _id(fields: Fields, key: str) -> str:
    value = fields.required_text(key, non_empty=True)
    if len(value) > MAX_ID or not value.isprintable() or value != value.strip():
        raise shape_error(fields.where(key), f"must be a printable id of at most {MAX_ID} characters")
    return value
