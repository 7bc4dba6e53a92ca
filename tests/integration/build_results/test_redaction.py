"""The redaction corpus through the real comment path: failing builds whose output carries every secret.

Each build's log tail (CloudWatch Logs in moto) or failing test messages (the sandbox's reports)
carry a batch of corpus cases; the real BuildResultsFunction handler posts the failure comment,
and the comment read back from the sandbox's CodeCommit must show every case (its marker), no
secret, and every near-miss as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sandbox.demo.ci_scenario import BUILDS_ONLY, CiScenario
from sandbox.local import Sandbox
from tests.secrets_corpus import SecretCase, batches, leaked, near_misses, secret_cases

FUNCTION = "BuildResultsFunction"
PROJECT = "payments-service-ci"
TAIL = 100  # the most log lines the function may be configured to show
ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LOG_TAIL_LINES": str(TAIL),
    "FAILED_TESTS_SHOWN": "100",
}
CELL = 240  # a test message's table cell shows this much of it


class Builds:
    """Failing builds of commits on main, one per batch, each answered with one comment."""

    def __init__(self, sandbox: Sandbox, scratch: Path) -> None:
        self.sandbox = sandbox
        self.scenario = CiScenario(sandbox, scratch)
        self.tip = self.scenario.main

    def failure_comment(self, *, log_lines: Sequence[str] = (), tests: Sequence[dict[str, Any]] = ()) -> str:
        parent = self.tip
        self.tip = self.scenario.commit("refs/heads/main", "More refunds", {"refunds.py": f"# {parent}\n"})
        build = self.scenario.start(PROJECT, self.tip)
        self.scenario.running(build)
        self.scenario.finish(build, "FAILED", log_lines=log_lines, tests=tests)
        (invocation,) = [i for i in self.sandbox.deliver(self.scenario.event(build)) if i.logical_id == FUNCTION]
        assert invocation.error is None, invocation.error
        assert invocation.result["outcome"] == "posted"
        (comment,) = self.scenario.commit_comments(self.tip, parent)
        return str(comment["content"])


@pytest.fixture
def builds(tmp_path: Path) -> Iterator[Builds]:
    with Sandbox(function_env=ENV, parameters=BUILDS_ONLY) as sandbox:
        yield Builds(sandbox, tmp_path)


def _marker(index: int) -> str:
    return f"[corpus case {index}]"


def test_no_secret_survives_the_log_tail_and_near_misses_stay_as_they_were(builds: Builds) -> None:
    # Given every corpus case and near-miss printed in build logs, each after a marker line,
    # batched so that each batch fits one tail (and one comment); CloudWatch Logs refuses an empty
    # event, so a blank line is logged as one space
    cases = secret_cases()
    misses = near_misses()
    texts = [case.text for case in cases] + [miss.text for miss in misses]
    shown_cases: list[SecretCase] = []
    leaks: list[str] = []
    at_end = {index for index, case in enumerate(cases) if case.at_end}
    for batch in batches(list(enumerate(texts)), max_lines=TAIL - 5, max_chars=5000, last=at_end):
        lines = [line or " " for index in batch for line in (_marker(index), *texts[index].split("\n"))]
        # When the build fails and the handler posts its comment
        comment = builds.failure_comment(log_lines=lines)
        # Then the comment shows every case of the batch (its marker) ...
        assert [index for index in batch if _marker(index) not in comment] == []
        batch_cases = [cases[index] for index in batch if index < len(cases)]
        shown_cases += batch_cases
        # ... none of their secrets, and each near-miss unchanged
        leaks += leaked(batch_cases, comment)
        changed = [misses[i - len(cases)].kind for i in batch if i >= len(cases) and texts[i] not in comment]
        assert changed == [], f"near-misses changed: {changed}\n{comment}"
    assert len(shown_cases) == len(cases)
    assert leaks == [], f"{len(leaks)} leaks:\n" + "\n".join(leaks)


def test_no_secret_survives_the_failing_test_messages(builds: Builds) -> None:
    # Given every corpus case as the message of a failing test, and the near-misses that fit a cell
    cases = secret_cases()
    misses = [miss for miss in near_misses() if len(" ".join(miss.text.split())) <= CELL]
    texts = [case.text for case in cases] + [miss.text for miss in misses]
    leaks: list[str] = []
    for batch in batches([(i, text[:CELL]) for i, text in enumerate(texts)], max_lines=10**6, max_chars=5000):
        tests = [
            {"name": f"case_{i}", "prefix": "tests.corpus", "status": "FAILED", "message": texts[i]} for i in batch
        ]
        # When the build fails and the handler posts its comment
        comment = builds.failure_comment(tests=tests)
        # Then every test of the batch is listed, no secret shows, near-misses read as they were
        assert [i for i in batch if f"`tests.corpus.case_{i}`" not in comment] == []
        leaks += leaked([cases[i] for i in batch if i < len(cases)], comment)
        flat = {i: " ".join(texts[i].split()) for i in batch if i >= len(cases)}
        assert [i for i, text in flat.items() if text not in comment] == []
    assert leaks == [], f"{len(leaks)} leaks:\n" + "\n".join(leaks)


def test_a_key_whose_begin_line_fell_off_the_tail_is_masked(builds: Builds) -> None:
    # Given a log that printed a private key and then more output, so that the tail the function
    # reads starts inside the key: its BEGIN line is older than the last TAIL lines
    (case,) = [case for case in secret_cases() if case.kind == "rsa-private-key"]
    key = case.text.split("\n")[:-1]  # BEGIN ... END
    after = [f"[Container] step {n} of the cleanup" for n in range(TAIL - 10)]
    comment = builds.failure_comment(log_lines=["$ cat deploy.pem", *key, *after])
    # Then the comment shows the end of the tail but no line of the key's body
    assert "BEGIN RSA PRIVATE KEY" not in comment
    assert after[0] in comment
    assert after[-1] in comment
    assert leaked([case], comment) == []
