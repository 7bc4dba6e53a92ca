"""The sweep leaves a deployment hook's request alone: its hook mails, ends and reports it, never CodePipeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from approval_requests.logic import handle, read
from approval_requests.ports import Ports
from codereflex.approvals.model import (
    APPROVED,
    ActionDetails,
    ActionRef,
    BuildSummary,
    Outcome,
    Request,
    Revision,
    Status,
)
from tests.unit.approval_requests.fakes import NOW, REF, World
from tests.unit.approval_requests.test_logic import run, started, sweep_event

ALICE, BOB = "alice@example.com", "bob@example.com"


def deployment(deployment_id: str, **changes: object) -> Request:
    return Request(
        ref=ActionRef.deployment_hook("payments-api", "payments-prod", "BeforeAllowTraffic", deployment_id),
        approvers=(ALICE, BOB),
        quorum=1,
        separate_duties=False,
        expires_at=NOW + timedelta(minutes=50),
        link_expires_at=NOW + timedelta(minutes=50),
        custom_data="error-rate inconclusive: only 3 of 10 datapoints",
        external_link=None,
        revisions=(),
        builds=(BuildSummary("error-rate", "inconclusive", "only 3 of 10 datapoints", ""),),
        created_at=NOW - timedelta(minutes=10),
    )._replace(**changes)  # type: ignore[arg-type]


class NoPipelines:
    """CodePipeline has no part in a deployment's request: any call the sweep makes for one fails the test."""

    def _called(self, name: str, ref: object) -> AssertionError:
        return AssertionError(f"CodePipeline {name} called for {ref}")

    def waiting_token(self, ref: ActionRef) -> str | None:
        raise self._called("waiting_token", ref)

    def execution_for_token(self, pipeline: str, stage: str, action: str, token: str) -> str | None:
        raise self._called("execution_for_token", pipeline)

    def action_details(self, ref: ActionRef) -> ActionDetails:
        raise self._called("action_details", ref)

    def execution_details(self, ref: ActionRef) -> tuple[tuple[Revision, ...], tuple[BuildSummary, ...]]:
        raise self._called("execution_details", ref)

    def put_result(self, ref: ActionRef, token: str, status: Status, summary: str) -> str:
        raise self._called("put_result", ref)

    def updated_by(self, ref: ActionRef) -> str | None:
        raise self._called("updated_by", ref)

    def final_state(self, ref: ActionRef) -> tuple[str, str | None]:
        raise self._called("final_state", ref)


def held_by_the_hook(world: World, now: datetime) -> dict[str, Request]:
    """Three deployment requests every sweep rule would act on, were they a pipeline's."""
    requests = [
        # Claimed long ago and never marked reported (the page's invocation ended between the two writes).
        deployment("d-UNREPORTED", outcome=Outcome(APPROVED, (ALICE,), "fine", now - timedelta(hours=1))),
        # Past its expiry, not ended: the hook has not closed it yet (or it died).
        deployment("d-EXPIRED", expires_at=now - timedelta(hours=2), link_expires_at=now - timedelta(hours=2)),
        # Ten minutes before its link expires, nobody answered: a pipeline's would get its reminder now.
        deployment("d-REMINDER", expires_at=now + timedelta(minutes=10), link_expires_at=now + timedelta(minutes=10)),
    ]
    for request in requests:
        world.store.requests[request.ref.key] = request
    return dict(world.store.requests)


def test_the_sweep_never_finishes_expires_or_reminds_a_deployment_request_nor_asks_codepipeline() -> None:
    world = World()
    before = held_by_the_hook(world, NOW)
    ports: Ports = world.ports._replace(pipelines=NoPipelines())
    for minutes in (0, 5, 60):  # several sweeps, the reminder's time and far past every expiry
        result = handle(read(sweep_event()), ports, world.options._replace(reminder_minutes=15))
        assert result.swept == {"finished": 0, "reminded": 0, "expired": 0, "failed": 0}, minutes
        world.later(minutes)
    assert world.mail.messages == []
    assert world.store.requests == before  # no mark of any kind: reported, ended, reminded, closed out


def test_a_pipelines_request_beside_them_is_still_swept() -> None:
    world = World()
    world.pipelines.wait(REF)
    run(world, started())  # the pipeline's request, mailed to alice and bob
    held_by_the_hook(world, NOW + timedelta(minutes=50))
    deployments = {key: r for key, r in world.store.requests.items() if r.ref.kind == "deployment"}
    world.later(50)  # 10 minutes before the pipeline's approval expires, within its 15-minute reminder
    run(world, sweep_event())
    assert world.sent("reminder") == [ALICE, BOB]  # the pipeline's reminder, and only its
    assert {m.attributes["kind"] for m in world.mail.messages} == {"request", "reminder"}
    assert {key: r for key, r in world.store.requests.items() if r.ref.kind == "deployment"} == deployments
