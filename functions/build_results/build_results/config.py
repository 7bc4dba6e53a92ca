"""Settings of the build results function, read from its environment on every invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.ci import ProjectScope
from codereflex.errors import ConfigurationError

from .logic import Options, Policy


def _positive_int(env: Mapping[str, str], key: str, default: int, maximum: int) -> int:
    raw = env.get(key, "").strip() or str(default)
    if not raw.isdigit() or not 0 <= int(raw) <= maximum:
        raise ConfigurationError(f"setting {key} must be a whole number from 0 to {maximum}")
    return int(raw)


class Settings(NamedTuple):
    scope: ProjectScope
    options: Options
    records_table: str | None = None  # where runs and votes no comment carries are kept

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        policy = env.get("COMMENT_POLICY", "always").strip() or "always"
        try:
            chosen = Policy(policy)
        except ValueError as error:
            allowed = ", ".join(p.value for p in Policy)
            raise ConfigurationError(f"setting COMMENT_POLICY must be one of {allowed}") from error
        table = env.get("IDEMPOTENCY_TABLE", "").strip() or None
        if chosen is not Policy.ALWAYS and table is None:
            raise ConfigurationError(f"comment policy {chosen.value} needs the table IDEMPOTENCY_TABLE for the vote")
        return cls(
            records_table=table,
            scope=ProjectScope.from_env(env),
            options=Options(
                policy=chosen,
                max_failed_tests=_positive_int(env, "FAILED_TESTS_SHOWN", 10, 100),
                log_lines=_positive_int(env, "LOG_TAIL_LINES", 30, 100),
            ),
        )
