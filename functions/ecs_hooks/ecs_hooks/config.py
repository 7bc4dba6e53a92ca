"""Settings of the ECS native lifecycle hook function, read from its environment once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.config import require
from codereflex.errors import ConfigurationError


class Settings(NamedTuple):
    bucket: str
    topic_arn: str
    state_secret_arn: str
    region: str
    run_seconds: float  # the function's own timeout: the spec's runs are planned for it

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        try:
            run_seconds = float(env.get("RUN_SECONDS", "900"))
        except ValueError:
            raise ConfigurationError("RUN_SECONDS must be a number of seconds") from None
        return cls(
            bucket=require(env, "VALIDATION_BUCKET"),
            topic_arn=require(env, "NOTIFICATION_TOPIC_ARN"),
            state_secret_arn=require(env, "STATE_SECRET_ARN"),
            region=require(env, "AWS_REGION"),
            run_seconds=run_seconds,
        )
