"""In-memory fakes of the ports the logic modules declare (fakes over mocks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from codereflex.errors import NoCommonHistory


@dataclass
class FakeHistory:
    """Answers merge-base questions from a fixed table of (first, second) → base (or no common history)."""

    bases: dict[tuple[str, str], str | None] = field(default_factory=dict)
    asked: list[tuple[str, str, str]] = field(default_factory=list)
    unrelated: set[tuple[str, str]] = field(default_factory=set)  # pairs without any merge base

    def merge_base(self, repository: str, first: str, second: str) -> str | None:
        self.asked.append((repository, first, second))
        if (first, second) in self.unrelated:
            raise NoCommonHistory(f"{first} and {second} share no history")
        return self.bases.get((first, second))


@dataclass
class PublishedMessage:
    subject: str
    body: str
    attributes: Mapping[str, str]


@dataclass
class FakePublisher:
    messages: list[PublishedMessage] = field(default_factory=list)

    def publish(self, subject: str, body: str, attributes: Mapping[str, str]) -> str:
        self.messages.append(PublishedMessage(subject, body, dict(attributes)))
        return f"message-{len(self.messages)}"


@dataclass
class FakeOnce:
    """Remembers results by key, like the DynamoDB-backed implementation (minus expiry)."""

    results: dict[str, str] = field(default_factory=dict)

    def run_once(self, key: str, action: Callable[[], str]) -> tuple[str, bool]:
        if key in self.results:
            return self.results[key], False
        result = action()
        self.results[key] = result
        return result, True
