"""Settings of the build results function, read from its environment on every invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.ci.projects import ProjectScope
from codereflex.config import require
from codereflex.errors import ConfigurationError

from .ports import CommentPolicy, Options


def _positive_int(env: Mapping[str, str], key: str, default: int, maximum: int) -> int:
    raw = env.get(key, "").strip() or str(default)
    if not raw.isdigit() or not 0 <= int(raw) <= maximum:
        raise ConfigurationError(f"setting {key} must be a whole number from 0 to {maximum}")
    return int(raw)


class Settings(NamedTuple):
    scope: ProjectScope
    options: Options
    records_table: str  # revision records (written with the PR builds function) and comment claims
    signing_key_secret: str  # the Secrets Manager secret whose value signs the comments' state

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        policy = env.get("COMMENT_POLICY", "always").strip() or "always"
        try:
            chosen = CommentPolicy(policy)
        except ValueError as error:
            allowed = ", ".join(p.value for p in CommentPolicy)
            raise ConfigurationError(f"setting COMMENT_POLICY must be one of {allowed}") from error
        return cls(
            records_table=require(env, "IDEMPOTENCY_TABLE"),
            signing_key_secret=require(env, "SIGNING_KEY_SECRET"),
            scope=ProjectScope.from_env(env),
            options=Options(
                policy=chosen,
                max_failed_tests=_positive_int(env, "FAILED_TESTS_SHOWN", 10, 100),
                log_lines=_positive_int(env, "LOG_TAIL_LINES", 30, 100),
            ),
        )
