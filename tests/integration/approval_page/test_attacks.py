"""What an attacker, a mail scanner or an impatient approver can do to the page over HTTP: nothing decides twice."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from approval_page import logic
from codereflex.approvals.model import ActionRef
from codereflex.aws.codepipeline import CodePipelineApprovals

from .conftest import ALICE, BOB, CAROL, World
from .web import form_token, http

NOT_VALID = "This link is not valid"


def _altered(url: str, **changes: object) -> str:
    """The link with claims changed and its signature kept (what an attacker can make without the key)."""
    base, token = url.rsplit("/", 1)
    payload, key_id, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{base}/{forged}.{key_id}.{signature}"


def _approve(url: str, form: str, reason: str = "ok") -> int:
    return http("POST", url, {"form": form, "decision": "approve", "reason": reason}).status


def test_forged_and_altered_links_are_not_valid_and_decide_nothing(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    ref = world.waiting()
    world.open(ref)
    good = world.link(ref, BOB)
    form = form_token(http("GET", good).body)
    later = int((datetime.now(UTC) + timedelta(days=30)).timestamp())
    forged = [
        world.page_url + "a/eyJ2IjoxfQ.0123abcd.c2lnbmF0dXJl",  # made up
        _altered(good, r=ALICE),  # another approver
        _altered(good, e="00000000-0000-4000-8000-000000000000"),  # another execution
        _altered(good, p="other", s="Other", a="Other"),  # another pipeline, stage, action
        _altered(good, x=later),  # a later expiry
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),  # a changed signature
        good.replace(good.rsplit(".", 2)[1], "deadbeef"),  # an unknown key id
    ]
    for url in forged:
        for method, answer in (
            ("GET", http("GET", url)),
            ("POST", http("POST", url, {"form": form, "decision": "approve"})),
        ):
            assert answer.status == 403, (method, url)
            assert NOT_VALID in answer.body and "Traceback" not in answer.body
            assert "signature" not in answer.body.lower()
    assert decisions == []
    assert world.state(ref)["status"] == "InProgress"


def test_an_expired_link_is_gone_and_decides_nothing(world: World, decisions: list[tuple[str, str, str]]) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    answer = http("POST", url, {"form": "x", "decision": "approve"})
    assert answer.status == 410 and "This link has expired" in answer.body
    assert decisions == []


def test_a_post_without_or_with_a_wrong_form_token_decides_nothing(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    ref = world.waiting()
    world.open(ref)
    alice, bob = world.link(ref, ALICE), world.link(ref, BOB)
    bobs_form = form_token(http("GET", bob).body)
    for fields in (
        {"decision": "approve"},
        {"form": "", "decision": "approve"},
        {"form": bobs_form, "decision": "approve"},
    ):
        answer = http("POST", alice, fields)
        assert answer.status == 403 and "This form could not be accepted" in answer.body
    assert decisions == []


def test_get_and_head_never_decide_as_a_mail_scanner_fetches_every_link(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    ref = world.waiting()
    before = world.open(ref)
    url = world.link(ref)
    for _ in range(3):
        assert http("GET", url).status == 200
        head = http("HEAD", url)
        assert head.status == 200 and head.body == ""
        assert head.headers["Content-Security-Policy"] == http("GET", url).headers["Content-Security-Policy"]
        assert head.headers["Cache-Control"] == "no-store" and head.headers["Referrer-Policy"] == "no-referrer"
    assert decisions == []
    assert world.store.get(ref) == before
    assert world.state(ref)["status"] == "InProgress"


def test_a_replayed_post_and_a_second_tab_decide_once(world: World, decisions: list[tuple[str, str, str]]) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)
    form = form_token(http("GET", url).body)
    assert [_approve(url, form) for _ in range(3)] == [303, 303, 303]
    assert len(decisions) == 1
    page = http("GET", world.link(ref, BOB)).body
    assert f"Approved by {ALICE}" in page and "<form" not in page


def test_concurrent_posts_give_exactly_one_put_approval_result(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)
    form = form_token(http("GET", url).body)
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(_approve(url, form))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 4
    assert len(decisions) == 1


def test_concurrent_decisions_outside_the_router_still_decide_once(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    # The sandbox's router runs one invocation at a time; Lambda runs up to the reserved concurrency
    # at once. So the decision itself is raced here on threads, over the same store and CodePipeline.
    ref = world.waiting()
    world.open(ref)
    pipeline = CodePipelineApprovals(world.sandbox.client("codepipeline"))
    ports = logic.Ports(world.links, world.store, pipeline, ours=lambda _: False)  # no ending is attributed here
    tokens = {who: world.link(ref, who).rsplit("/", 1)[1] for who in (ALICE, BOB, CAROL)}
    barrier = threading.Barrier(len(tokens))

    def decide(who: str) -> None:
        token = tokens[who]
        form = logic.Form(world.links.form_token(token), "approve" if who != CAROL else "reject", who)
        barrier.wait()
        logic.decide(token, f"/a/{token}", form, datetime.now(UTC), ports)

    threads = [threading.Thread(target=decide, args=(who,)) for who in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(decisions) == 1
    held = world.store.get(ref)
    assert held is not None and held.outcome is not None and held.outcome.reported


def test_a_quorum_of_two_approves_only_at_the_second_approval(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    ref = world.waiting()
    world.open(ref, quorum=2)
    alice, bob = world.link(ref, ALICE), world.link(ref, BOB)
    assert _approve(alice, form_token(http("GET", alice).body), "first") == 303
    assert decisions == [] and world.state(ref)["status"] == "InProgress"
    assert "Waiting for more approvals (1 of 2)" in http("GET", alice).body
    assert _approve(bob, form_token(http("GET", bob).body), "second") == 303
    assert decisions == [
        (
            f"{ref.pipeline}/{ref.stage}/{ref.action}",
            "Approved",
            f"Approved by {ALICE}, {BOB} via codereflex: first; second",
        )
    ]
    assert world.state(ref)["status"] == "Succeeded"


def test_a_superseded_execution_is_said_so_and_the_newer_one_is_untouched(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    older = world.waiting()
    world.open(older)
    url = world.link(older)
    form = form_token(http("GET", url).body)
    newer = world.waiting()  # the newer execution now waits at the same approval
    assert _approve(url, form) == 303
    assert decisions == []
    assert "superseded" in http("GET", url).body
    assert world.state(newer)["status"] == "InProgress"


def test_a_parallel_mode_pipeline_is_approved_through_its_external_execution_id(
    world: World, decisions: list[tuple[str, str, str]]
) -> None:
    world.pipeline("parallel", mode="PARALLEL")
    first, second = world.waiting("parallel"), world.waiting("parallel")
    world.open(first)
    world.open(second)
    url = world.link(first)
    assert _approve(url, form_token(http("GET", url).body), "parallel") == 303
    assert len(decisions) == 1
    client = world.sandbox.client("codepipeline")

    def status(ref: ActionRef) -> str:
        details = client.list_action_executions(
            pipelineName="parallel", filter={"pipelineExecutionId": ref.execution_id}
        )
        return str(details["actionExecutionDetails"][0]["status"])

    assert status(first) == "Succeeded" and status(second) == "InProgress"


def test_no_token_signature_or_key_reaches_a_log_line(
    world: World, decisions: list[tuple[str, str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    ref = world.waiting()
    world.open(ref)
    url = world.link(ref)
    token = url.rsplit("/", 1)[1]
    pipeline_token = world.state(ref)["token"]
    page = http("GET", url).body
    # The function's own log lines (its Powertools Logger does not propagate), taken from the stdlib
    # logger its service name names: the router may import the handler module afresh (a cold start),
    # and a module imported here, outside an invocation, would name another service. Every other
    # logger in the process (Powertools' internals, botocore) through caplog.
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    service = world.sandbox.router.function("ApprovalPageFunction").environment["POWERTOOLS_SERVICE_NAME"]
    function_logger = logging.getLogger(service)
    lines = io.StringIO()
    capture = logging.StreamHandler(lines)
    capture.setFormatter(LambdaPowertoolsFormatter())
    function_logger.addHandler(capture)
    caplog.set_level(logging.DEBUG)
    try:
        form = form_token(page)
        http("POST", url, {"form": "wrong", "decision": "approve"})
        http("GET", _altered(url, r=BOB))
        assert _approve(url, form, "logged?") == 303
        http("GET", url)
        http("GET", world.page_url + "a/" + token + "x")
    finally:
        function_logger.removeHandler(capture)
    secret = world.sandbox.client("secretsmanager").get_secret_value(
        SecretId=world.sandbox.stack.refs["ApprovalLinkKey"]
    )
    text = lines.getvalue() + "\n".join(record.getMessage() for record in caplog.records)
    assert '"Approval decided"' in text and '"Approval page refused"' in text  # the page did log
    for value in (token, token.rsplit(".", 1)[1], form, form.rsplit(".", 1)[1], pipeline_token, secret["SecretString"]):
        assert value not in text
    assert decisions


def test_anything_else_is_a_plain_404_page_with_the_same_headers(world: World) -> None:
    for method, path in (("GET", ""), ("GET", "a/"), ("GET", "admin"), ("PUT", "a/x.y.z"), ("GET", "a/x/y")):
        answer = http(method, world.page_url + path)
        assert answer.status == 404, (method, path)
        assert "Page not found" in answer.body
        assert answer.headers["X-Frame-Options"] == "DENY"
