"""The redaction corpus (tests/data/secrets/corpus.json): secrets as logs print them, and near-misses."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

CORPUS = Path(__file__).resolve().parent / "data" / "secrets" / "corpus.json"


class SecretCase(NamedTuple):
    kind: str
    text: str  # what a log line (or lines) or a test message contains
    secrets: tuple[str, ...]  # none of these may survive redaction
    at_end: bool = False  # cut off inside a key: it ends the tail or message it is in


class NearMiss(NamedTuple):
    kind: str
    text: str  # must come through unchanged


def secret_cases() -> list[SecretCase]:
    raw = json.loads(CORPUS.read_text(encoding="utf-8"))["secrets"]
    return [SecretCase(case["kind"], case["text"], tuple(case["secrets"]), case["at_end"]) for case in raw]


def near_misses() -> list[NearMiss]:
    raw = json.loads(CORPUS.read_text(encoding="utf-8"))["near_misses"]
    return [NearMiss(case["kind"], case["text"]) for case in raw]


def leaked(cases: Iterable[SecretCase], shown: str) -> list[str]:
    """`kind: secret` for every secret of `cases` that `shown` still contains."""
    return [f"{case.kind}: {secret!r}" for case in cases for secret in case.secrets if secret in shown]


def batches(
    items: Sequence[tuple[int, str]], max_lines: int, max_chars: int, last: Collection[int] = ()
) -> list[list[int]]:
    """Indexes of `items` (index, text) grouped so each group's texts stay within both limits.

    An index in `last` ends its group: its text must be the end of what it is put in.
    """
    groups: list[list[int]] = [[]]
    lines = chars = 0
    for index, text in items:
        size = text.count("\n") + 2  # the text's lines and a line naming the case
        if groups[-1] and (lines + size > max_lines or chars + len(text) > max_chars):
            groups.append([])
            lines = chars = 0
        groups[-1].append(index)
        lines += size
        chars += len(text)
        if index in last:
            groups.append([])
            lines = chars = 0
    return [group for group in groups if group]
