"""Backup settings from an environment mapping: one parser for the function and the CodeBuild hand-off run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codereflex.config import require, split_list
from codereflex.errors import ConfigurationError

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    bucket: str
    prefix: str
    kms_key_id: str | None
    full_every: int
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    work_dir: Path
    # Hand-off to CodeBuild: both set, or the function backs up every repository itself.
    build_project: str | None
    handoff_bytes: int | None
    # The sweep prunes backups older than this many days (whole chains, never the latest); 0 keeps all.
    keep_days: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        prefix = env.get("BACKUP_PREFIX", "backups/").strip() or "backups/"
        try:
            full_every = int(env.get("FULL_BACKUP_EVERY", "30"))
        except ValueError:
            raise ConfigurationError("FULL_BACKUP_EVERY must be a whole number") from None
        if full_every < 0:
            raise ConfigurationError("FULL_BACKUP_EVERY must not be negative")
        project = env.get("BACKUP_BUILD_PROJECT", "").strip() or None
        try:
            keep_days = int(env.get("BACKUP_KEEP_DAYS", "0") or "0")
        except ValueError:
            raise ConfigurationError("BACKUP_KEEP_DAYS must be a whole number of days") from None
        if keep_days < 0:
            raise ConfigurationError("BACKUP_KEEP_DAYS must not be negative")
        return cls(
            bucket=require(env, "BACKUP_BUCKET"),
            prefix=prefix if prefix.endswith("/") else f"{prefix}/",
            kms_key_id=env.get("BACKUP_KMS_KEY_ARN", "").strip() or None,
            full_every=full_every,
            include=split_list(env.get("BACKUP_REPOSITORIES", "*")) or ("*",),
            exclude=split_list(env.get("BACKUP_EXCLUDE_REPOSITORIES", "")),
            # /tmp survives between invocations of a warm Lambda: the mirrors there are reused.
            work_dir=Path(env.get("BACKUP_WORK_DIR", "/tmp/codereflex-backup")),  # noqa: S108
            build_project=project,
            handoff_bytes=_threshold(env.get("BACKUP_HANDOFF_THRESHOLD_MIB", "")) if project else None,
            keep_days=keep_days,
        )


def _threshold(text: str) -> int | None:
    """MiB (a decimal is accepted, so tests can use a few bytes); empty means no hand-off."""
    if not text.strip():
        return None
    try:
        mib = float(text)
    except ValueError:
        raise ConfigurationError("BACKUP_HANDOFF_THRESHOLD_MIB must be a number of MiB") from None
    # float() reads "inf" and "nan" too, which int() cannot take: a setting like that is misconfiguration.
    if not math.isfinite(mib):
        raise ConfigurationError("BACKUP_HANDOFF_THRESHOLD_MIB must be a finite number of MiB")
    if mib < 0:
        raise ConfigurationError("BACKUP_HANDOFF_THRESHOLD_MIB must not be negative")
    return int(mib * MIB)
