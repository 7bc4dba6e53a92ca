"""Helpers for the per-function `Settings.from_env` pattern: required keys, lists, clear errors."""

from __future__ import annotations

from collections.abc import Mapping

from codereflex.errors import ConfigurationError


def require(env: Mapping[str, str], key: str) -> str:
    """The value of a required setting; a missing or blank one is a ConfigurationError naming it."""
    value = env.get(key, "").strip()
    if not value:
        raise ConfigurationError(f"required setting {key} is not set")
    return value


def split_list(value: str) -> tuple[str, ...]:
    """Parse a comma-separated template parameter ("main, master,") into its non-empty items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())
