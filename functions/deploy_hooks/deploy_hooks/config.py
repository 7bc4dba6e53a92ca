"""Settings of a CodeDeploy hook function, read from its environment (the hook it serves is one of them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from codereflex.config import require
from codereflex.errors import ConfigurationError
from codereflex.validation.spec import ECS_HOOKS, canonical_hook

HOOK_VARIABLE = "DEPLOYMENT_HOOK"


class ApprovalLinks(NamedTuple):
    """Where a question to people goes: the approvals table, the approvers' mail topic, the link key, the page."""

    table: str
    mail_topic_arn: str
    link_key_secret: str
    page_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApprovalLinks | None:
        if not env.get("APPROVALS_TABLE", "").strip():
            return None  # approval links are off: a spec that asks a person fails closed, saying so
        page_url = require(env, "APPROVAL_PAGE_URL")
        if not page_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigurationError("APPROVAL_PAGE_URL must be an https:// URL")  # a link is a credential
        return cls(
            require(env, "APPROVALS_TABLE"),
            require(env, "APPROVAL_MAIL_TOPIC_ARN"),
            require(env, "APPROVAL_LINK_KEY_SECRET"),
            page_url,
        )


class Settings(NamedTuple):
    hook: str  # BeforeInstall ... AfterAllowTraffic, as the AppSpec names it
    bucket: str  # where the specs are (and the reports go)
    records_table: str  # one record per hook execution (the idempotency table, with its TTL)
    run_seconds: float  # the function's timeout: the length of one run
    topic_arn: str  # where a failed hook's notice goes
    region: str  # for the report's console links
    approval_links: ApprovalLinks | None = None  # when they are on: a hook may ask a person

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        try:
            hook = canonical_hook(require(env, HOOK_VARIABLE))
        except ConfigurationError:
            raise ConfigurationError(f"setting {HOOK_VARIABLE} must be one of {', '.join(ECS_HOOKS)}") from None
        raw = env.get("RUN_SECONDS", "180").strip()
        if not raw.isdigit() or not 60 <= int(raw) <= 900:  # noqa: PLR2004 - Lambda's most is 900 s
            raise ConfigurationError("setting RUN_SECONDS must be a whole number of seconds from 60 to 900")
        return cls(
            hook,
            require(env, "VALIDATION_BUCKET"),
            require(env, "IDEMPOTENCY_TABLE"),
            float(raw),
            require(env, "NOTIFICATION_TOPIC_ARN"),
            require(env, "AWS_REGION"),
            ApprovalLinks.from_env(env),
        )
