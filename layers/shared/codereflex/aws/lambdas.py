"""Lambda for deployment validation: invoke one qualified version and say which version actually ran."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from codereflex.aws.cloudwatch import call
from codereflex.validation.ports import Invocation

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

MAX_PAYLOAD = 6 * 1024 * 1024  # a synchronous response's most


class VersionInvoker:
    def __init__(self, client: LambdaClient) -> None:
        self._client = client

    def invoke(self, function: str, qualifier: str, payload: bytes) -> Invocation:
        started = time.perf_counter()
        response = call(
            self._client.invoke,
            "Invoke",
            FunctionName=function,
            Qualifier=qualifier,
            InvocationType="RequestResponse",
            Payload=payload,
        )
        stream = response.get("Payload")
        body = stream.read(MAX_PAYLOAD) if stream is not None else b""
        return Invocation(
            executed_version=response.get("ExecutedVersion"),
            function_error=response.get("FunctionError"),
            payload=body,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
