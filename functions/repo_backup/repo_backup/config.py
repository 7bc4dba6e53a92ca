"""Settings of the repository backup function, read from its environment on every invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codereflex.config import require, split_list
from codereflex.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Settings:
    bucket: str
    prefix: str
    kms_key_id: str | None
    full_every: int
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    work_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        prefix = env.get("BACKUP_PREFIX", "backups/").strip() or "backups/"
        try:
            full_every = int(env.get("FULL_BACKUP_EVERY", "30"))
        except ValueError:
            raise ConfigurationError("FULL_BACKUP_EVERY must be a whole number") from None
        if full_every < 0:
            raise ConfigurationError("FULL_BACKUP_EVERY must not be negative")
        return cls(
            bucket=require(env, "BACKUP_BUCKET"),
            prefix=prefix if prefix.endswith("/") else f"{prefix}/",
            kms_key_id=env.get("BACKUP_KMS_KEY_ARN", "").strip() or None,
            full_every=full_every,
            include=split_list(env.get("BACKUP_REPOSITORIES", "*")) or ("*",),
            exclude=split_list(env.get("BACKUP_EXCLUDE_REPOSITORIES", "")),
            # /tmp survives between invocations of a warm Lambda: the mirrors there are reused.
            work_dir=Path(env.get("BACKUP_WORK_DIR", "/tmp/codereflex-backup")),  # noqa: S108
        )
