"""Settings of the PR builds function, read from its environment once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.ci.projects import ProjectScope
from codereflex.config import require, split_list

from .logic import Options


class Settings(NamedTuple):
    scope: ProjectScope
    idempotency_table: str
    # IAM role names of codereflex's commenting functions: their comment events are never commands.
    bot_roles: tuple[str, ...] = ()
    # Project names this function may start (globs); its IAM policy allows exactly these.
    startable: tuple[str, ...] = ("*",)

    @property
    def options(self) -> Options:
        return Options(bot_roles=self.bot_roles, startable=self.startable)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            scope=ProjectScope.from_env(env),
            idempotency_table=require(env, "IDEMPOTENCY_TABLE"),
            bot_roles=split_list(env.get("BOT_ROLES", "")),
            startable=split_list(env.get("STARTABLE_PROJECTS", "*")) or ("*",),
        )
