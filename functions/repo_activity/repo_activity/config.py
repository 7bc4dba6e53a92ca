"""Settings of the repository activity function, read from its environment once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.config import require, split_list


class Settings(NamedTuple):
    topic_arn: str
    idempotency_table: str
    protected_branches: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            topic_arn=require(env, "NOTIFICATION_TOPIC_ARN"),
            idempotency_table=require(env, "IDEMPOTENCY_TABLE"),
            protected_branches=split_list(env.get("PROTECTED_BRANCHES", "main,master")),
        )
