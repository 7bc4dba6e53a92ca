"""Settings of the approval requests function, read from its environment once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.config import require, split_list
from codereflex.errors import ConfigurationError

from .ports import Options


class Settings(NamedTuple):
    table: str
    idempotency_table: str
    mail_topic_arn: str
    link_key_secret: str
    page_url: str
    approvers: tuple[str, ...]
    approvers_parameter: str | None
    quorum: int
    reminder_minutes: int
    link_hours: int
    pipelines: str  # the pipelines the function's IAM policy lets it read and decide (one name pattern)
    decider_roles: tuple[str, ...] = ()  # the ARNs of the roles codereflex decides approvals with

    @property
    def options(self) -> Options:
        return Options(self.page_url, self.reminder_minutes, self.link_hours, self.pipelines)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        page_url = require(env, "APPROVAL_PAGE_URL")
        if not page_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            # A link is a credential: it travels over HTTPS only (loopback is the sandbox's page).
            raise ConfigurationError("APPROVAL_PAGE_URL must be an https:// URL")
        return cls(
            table=require(env, "APPROVALS_TABLE"),
            idempotency_table=require(env, "IDEMPOTENCY_TABLE"),
            mail_topic_arn=require(env, "APPROVAL_MAIL_TOPIC_ARN"),
            link_key_secret=require(env, "APPROVAL_LINK_KEY_SECRET"),
            page_url=page_url,
            approvers=split_list(env.get("APPROVAL_APPROVERS", "")),
            approvers_parameter=env.get("APPROVAL_APPROVERS_PARAMETER", "").strip() or None,
            quorum=_whole(env, "APPROVAL_QUORUM", 1, minimum=1),
            reminder_minutes=_whole(env, "APPROVAL_REMINDER_MINUTES", 60),
            link_hours=_whole(env, "APPROVAL_LINK_HOURS", 0),
            pipelines=env.get("APPROVAL_PIPELINES", "").strip() or "*",
            decider_roles=split_list(env.get("APPROVAL_DECIDER_ROLES", "")),
        )


def _whole(env: Mapping[str, str], key: str, default: int, minimum: int = 0) -> int:
    text = env.get(key, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"setting {key} must be a whole number") from None
    if value < minimum:
        raise ConfigurationError(f"setting {key} must be at least {minimum}")
    return value
