"""Settings of the approval page function, read from its environment once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.config import require, split_list


class Settings(NamedTuple):
    approvals_table: str
    link_key_secret: str
    decider_roles: tuple[str, ...] = ()  # the ARNs of the roles codereflex decides approvals with

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            approvals_table=require(env, "APPROVALS_TABLE"),
            link_key_secret=require(env, "APPROVAL_LINK_KEY_SECRET"),
            decider_roles=split_list(env.get("APPROVAL_DECIDER_ROLES", "")),
        )
