"""One hook execution, decided once: claim its record, validate (or continue a hand-over), report exactly once.

Every change of the execution's record is conditional on the version this run read
(`codereflex.aws.hookrecords`), and a run acts only after its write won: a duplicate or concurrent
delivery, a Lambda retry and a forged continuation lose that write and do nothing. Every path that
is not a decided success reports Failed with its reason; a deployment CodeDeploy will not take a
status for is left with the reason logged (`Event rejected`), never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, NamedTuple, Protocol

from codereflex.approvals.model import ActionRef
from codereflex.aws.codedeploy import Answer, Deployment, Unreportable
from codereflex.aws.hookrecords import HookRecord
from codereflex.errors import CodeReflexError, TransientError
from codereflex.events.codedeploy import Continuation, HookInvocation, continuation
from codereflex.report import Count, Line, Report
from codereflex.validation import engine, report
from codereflex.validation import ports as checks
from codereflex.validation.semantics import HookVerdict, Measurement, failed, unanswered
from codereflex.validation.spec import People

from . import people
from .discovery import Balancers, Deployments, event_status, find
from .specs import SpecSource, load_spec

HOOK_LIMIT_S = 3600.0  # CodeDeploy fails a hook not reported within one hour of its start
REPORT_RESERVE_S = 15.0  # what a run keeps, past its margin, to write its record and report
HANDOVER_GRACE_S = 300.0  # a hand-over not taken up in this long was lost: a later delivery reports Failed
IN_PROGRESS = "InProgress"


class Reporter(Deployments, Protocol):
    def report(self, deployment_id: str, execution_id: str, status: Literal["Succeeded", "Failed"]) -> Answer: ...


class Records(Protocol):
    def create(self, record: HookRecord, now: float) -> HookRecord | None: ...

    def get(self, execution_id: str) -> HookRecord | None: ...

    def move(self, held: HookRecord, now: float, **changes: Any) -> HookRecord | None: ...


class Continuer(Protocol):
    def hand_over(self, payload: Mapping[str, Any]) -> None:
        """Invoke this function again, asynchronously, with `payload`."""
        ...


class Publisher(Protocol):
    def publish(self, report: Mapping[str, Any]) -> str | None:
        """Store the hook's report and notify (the i14-report step); where it is, if anywhere."""
        ...


class Ports(NamedTuple):
    deployments: Reporter
    balancers: Balancers
    specs: SpecSource
    records: Records
    checks: checks.Ports
    continuer: Continuer
    publisher: Publisher
    # The approvals table and the approvers' mail: None when approval links are off (nobody can be asked).
    people: people.Asking | None = None


class Options(NamedTuple):
    hook: str  # the AppSpec's name of the hook this function serves (the payload does not say)
    run_seconds: float  # the function's timeout: one run's length
    margin_s: float = 30.0  # every run reports or hands over at least this long before its deadline


class Run(NamedTuple):
    owner: str  # this invocation (its request id)
    deadline: float  # when Lambda ends it, on the ports' clock


class Outcome(Enum):
    REPORTED = "reported"
    HANDED_OVER = "handed-over"
    DUPLICATE = "duplicate"
    LEFT_ALONE = "left-alone"
    IGNORED = "ignored"


class Result(NamedTuple):
    outcome: Outcome
    execution_id: str
    why: str
    verdict: HookVerdict | None = None
    lines: tuple[Line, ...] = ()
    counts: tuple[Count, ...] = ()

    def report(self) -> Report:
        fields: dict[str, Any] = {"outcome": self.outcome.value, "why": self.why}
        if self.verdict is not None:
            fields.update(verdict=self.verdict.status, reason=self.verdict.reason, check=self.verdict.deciding_check)
        level: Literal["info", "warning"] = "warning" if self.outcome is Outcome.IGNORED else "info"
        response: dict[str, Any] = {"outcome": self.outcome.value, "why": self.why}
        if self.verdict is not None:
            response.update(verdict=self.verdict.status, reason=self.verdict.reason, check=self.verdict.deciding_check)
        return Report(
            response=response,
            lines=(*self.lines, Line("Hook execution handled", fields, level)),
            counts=(Count(f"HookInvocations.{self.outcome.value}"), *self.counts),
        )


def handle(event: HookInvocation | Continuation, ports: Ports, options: Options, run: Run) -> Result:
    now = ports.checks.clock.now()
    if isinstance(event, Continuation):
        return _continue(event, ports, options, run, now)
    fresh = HookRecord(
        event.execution_id, event.deployment_id, options.hook, "running", run.owner, run.deadline, now + HOOK_LIMIT_S
    )
    held = ports.records.create(fresh, now)
    if held is None:
        return _validate(fresh, ports, options, run)
    if held.deployment_id != event.deployment_id or held.hook != options.hook:
        # Only CodeDeploy's own pair names an execution: a mismatch is not CodeDeploy speaking.
        return Result(Outcome.IGNORED, event.execution_id, "the execution belongs to another deployment or hook")
    return _again(held, ports, options, run, now)


def _continue(event: Continuation, ports: Ports, options: Options, run: Run, now: float) -> Result:
    held = ports.records.get(event.execution_id)
    if held is None or held.hook != options.hook:
        return Result(Outcome.IGNORED, event.execution_id, "a continuation of no hand-over of this hook")
    if held.status != "handed-over":
        # Honoured only after a hand-over; otherwise it may only do what a retry would.
        return _again(held, ports, options, run, now, continuing=True)
    mine = ports.records.move(
        held, now, status="running", owner=run.owner, lease_until=run.deadline, runs=held.runs + 1
    )
    if mine is None:
        return Result(Outcome.DUPLICATE, held.execution_id, "another run took the hand-over")
    return _validate(mine, ports, options, run)


def _again(
    held: HookRecord, ports: Ports, options: Options, run: Run, now: float, *, continuing: bool = False
) -> Result:
    """A later delivery of an execution already claimed: nothing, unless the run holding it is gone."""
    if held.status in ("reported", "abandoned"):
        return Result(Outcome.DUPLICATE, held.execution_id, f"already {held.status}")
    if held.lease_until > now:
        if held.status == "handed-over" or (held.runs > 1 and not continuing):
            # A later run's own invocation (a continuation, which Lambda retries) watches over it.
            return Result(Outcome.DUPLICATE, held.execution_id, f"{held.status} in run {held.runs}")
        # Alive, or dead and not yet known to be: Lambda's retries (one, then three minutes on) look
        # again, and the last comes after the lease (one run) has ended, so a dead run is taken over.
        raise TransientError(f"the hook execution is {held.status} in another run until its lease ends")
    mine = ports.records.move(held, now, owner=run.owner, lease_until=run.deadline)
    if mine is None:
        return Result(Outcome.DUPLICATE, held.execution_id, "another run took it over")
    if not _still_waiting(mine, ports):
        # The run before us reported and died before saying so, or CodeDeploy gave up: nothing to send.
        ports.records.move(mine, now, status="reported" if held.status == "reporting" else "abandoned")
        return Result(Outcome.LEFT_ALONE, held.execution_id, "the hook's lifecycle event is no longer in progress")
    if held.status == "reporting" and held.verdict is not None:
        status: Literal["Succeeded", "Failed"] = "Succeeded" if held.verdict == "Succeeded" else "Failed"
        decided = HookVerdict(status, held.reason or "", None, (), ())
        return _send(mine, decided, ports, now, ())
    why = {
        "running": "the run validating this hook ended without reporting (it crashed or timed out)",
        "handed-over": "the run this hook was handed over to never started",
    }.get(held.status, f"the hook's record was left {held.status}")
    return _decide(mine, failed(why), ports, ())


def _still_waiting(mine: HookRecord, ports: Ports) -> bool:
    """Whether CodeDeploy still waits for this hook's status (a lost report must not be sent twice)."""
    try:
        targets = ports.deployments.targets(mine.deployment_id)
    except CodeReflexError:
        return True  # unknown: sending is safe, CodeDeploy refuses a second status
    return event_status(targets, mine.hook) in (None, IN_PROGRESS)


def _validate(mine: HookRecord, ports: Ports, options: Options, run: Run) -> Result:
    try:
        deployment = ports.deployments.deployment(mine.deployment_id)
    except Unreportable:
        _abandon(mine, ports, "CodeDeploy does not know this deployment")
        raise
    except CodeReflexError as error:  # throttled, denied, 5xx after the client's retries: not a success
        return _decide(mine, failed(f"could not read the deployment: {error}"), ports, ())
    if deployment.status != IN_PROGRESS:
        _abandon(mine, ports, f"deployment is {deployment.status}")
        return Result(Outcome.LEFT_ALONE, mine.execution_id, f"the deployment is {deployment.status}, not in progress")
    try:
        measured = _measure(mine, deployment, ports, options, run)
    except TransientError as error:
        measured = Decided(mine, failed(f"validation could not run: {error}"))
    except CodeReflexError as error:
        measured = Decided(mine, failed(str(error)))
    except Exception as error:  # every undecided path reports Failed, a crash included
        measured = Decided(mine, failed(f"unexpected {type(error).__name__} while validating"))
    if isinstance(measured, Result):
        return measured
    if measured.verdict.asks:
        return _ask(measured, deployment, ports, options, run)
    # Reported outside the guard above: a report that fails must reach Lambda (its retry sends it).
    return _decide(measured.record, measured.verdict, ports, measured.lines, measured.measured, spec_name=measured.spec)


class Decided(NamedTuple):
    """A verdict to report, for the record as this run holds it."""

    record: HookRecord
    verdict: HookVerdict
    lines: tuple[Line, ...] = ()
    measured: tuple[Measurement, ...] = ()
    spec: str = ""
    # For a verdict that asks a person: where the engine stands (a next run re-derives the verdict
    # from it), who to ask, and when the hook's time is up (CodeDeploy's hour; and less the margin).
    state: engine.State | None = None
    people: People | None = None
    hook_deadline: float = 0.0
    hook_margin_s: float = 0.0
    run_stop: float = 0.0


def _measure(mine: HookRecord, deployment: Deployment, ports: Ports, options: Options, run: Run) -> Result | Decided:
    spec = load_spec(ports.specs, deployment, options.run_seconds)
    platform = {"Lambda": "lambda", "ECS": "ecs"}.get(deployment.platform)
    if spec.platform != platform:
        return Decided(mine, failed(f"the spec is for {spec.platform}, the deployment is {deployment.platform}"))
    found = find(deployment, options.hook, mine.execution_id, ports.deployments, ports.balancers)
    hook_deadline = min(mine.hook_deadline, (found.event_started_at or mine.hook_deadline) + HOOK_LIMIT_S)
    state = engine.State.from_json(mine.state) if mine.state else None
    seen = len(state.measurements) if state else 0
    run_stop = run.deadline - max(options.margin_s, spec.run_margin_seconds) - REPORT_RESERVE_S
    outcome = engine.run(
        spec,
        options.hook,
        found.context,
        ports.checks,
        run_deadline=run_stop,
        hook_deadline=hook_deadline - spec.hook_margin_seconds,
        state=state,
    )
    measured = outcome.state.measurements if outcome.state else ()
    lines = tuple(Line("Validation measurement", _logged(m)) for m in measured[seen:])
    if isinstance(outcome, engine.Continue):
        return _hand_over(mine, outcome.state, hook_deadline, ports, lines)
    return Decided(
        mine, outcome.verdict, lines, measured, spec.name,
        outcome.state, spec.people, hook_deadline, spec.hook_margin_seconds, run_stop,
    )  # fmt: skip


def _ask(measured: Decided, deployment: Deployment, ports: Ports, options: Options, run: Run) -> Result:
    """Inconclusive to a person: ask the spec's people once, wait for their decision in this run and the
    next ones, and report what they decided, or Failed when nobody did in time."""
    mine, asked, who = measured.record, measured.verdict, measured.people
    if ports.people is None or who is None:
        why = "a person would decide, but nobody can be asked: approval links are off (EnableApprovalLinks)"
        return _decide(mine, unanswered(asked, why), ports, measured.lines, measured.measured, spec_name=measured.spec)
    clock, asking = ports.checks.clock, ports.people
    ref = people.ref_for(deployment.application, deployment.group, mine.hook, mine.deployment_id)
    lines, counts = list(measured.lines), []
    try:
        now = clock.now()
        if mine.asked is None:
            moved = ports.records.move(mine, now, asked=people.as_text(ref))
            if moved is None:
                return Result(
                    Outcome.DUPLICATE, mine.execution_id, "another run took the hook over", lines=measured.lines
                )
            mine = moved
        request = asking.questions.get(ref)
        if request is None:
            until = min(now + who.wait_minutes * 60, measured.hook_deadline - measured.hook_margin_s)
            request, opened = asking.questions.open(people.question(ref, who, asked, now, until))
            if opened:
                counts.append(Count("HooksAskedPeople"))
                lines.append(Line("Validation asks people", {"request": ref.key, "approvers": len(who.approvers)}))
        asking.mail.send(request, "request", request.approvers, now=people.at(now))  # each once, however often run
        answered = people.wait(request, asking.questions, clock.now, clock.sleep, measured.run_stop)
    except Exception as error:  # asking failed: the hook fails closed, as any undecided path
        verdict = unanswered(asked, f"asking a person failed ({type(error).__name__})")
        return _decide(mine, verdict, ports, tuple(lines), measured.measured, spec_name=measured.spec)
    if answered is None:
        return _wait_on(mine, measured, ref, ports, tuple(lines), tuple(counts))
    verdict = people.verdict_for(answered, asked, who)
    result = _decide(mine, verdict, ports, tuple(lines), measured.measured, spec_name=measured.spec)
    return result._replace(counts=(*result.counts, *counts))


def _wait_on(  # noqa: PLR0917
    mine: HookRecord,
    measured: Decided,
    ref: ActionRef,
    ports: Ports,
    lines: tuple[Line, ...],
    counts: tuple[Count, ...],
) -> Result:
    """This run's time is up and nobody has decided: the next run waits on (it re-derives the verdict)."""
    if measured.state is None:  # the engine always leaves one; without it no next run could go on
        return _decide(mine, unanswered(measured.verdict, "the wait could not be handed on"), ports, lines)
    handed = _hand_over(mine, measured.state, measured.hook_deadline, ports, lines)
    if isinstance(handed, Result) and handed.outcome is Outcome.HANDED_OVER:
        return handed._replace(why=f"waiting for a person ({ref.key})", counts=(*handed.counts, *counts))
    if isinstance(handed, Result):
        return handed
    return _decide(handed.record, handed.verdict, ports, handed.lines, measured.measured, spec_name=measured.spec)


def _hand_over(
    mine: HookRecord, state: engine.State, hook_deadline: float, ports: Ports, lines: tuple[Line, ...]
) -> Result | Decided:
    now = ports.checks.clock.now()
    moved = ports.records.move(
        mine,
        now,
        status="handed-over",
        state=state.to_json(),
        lease_until=now + HANDOVER_GRACE_S,
        hook_deadline=hook_deadline,
    )
    if moved is None:
        return Result(Outcome.DUPLICATE, mine.execution_id, "another run took the hook over", lines=lines)
    try:
        ports.continuer.hand_over(continuation(mine.execution_id))
    except Exception as error:  # no next run: this one must decide, fail closed
        back = ports.records.move(moved, now, status="running")
        if back is None:
            return Result(Outcome.DUPLICATE, mine.execution_id, "another run took the hook over", lines=lines)
        return Decided(back, failed(f"could not hand over to the next run ({type(error).__name__})"), lines)
    done = len(state.results)
    return Result(Outcome.HANDED_OVER, mine.execution_id, f"run {mine.runs} ended after {done} checks", lines=lines)


def _decide(
    mine: HookRecord,
    verdict: HookVerdict,
    ports: Ports,
    lines: tuple[Line, ...],
    measured: tuple[Measurement, ...] = (),
    *,
    spec_name: str = "",
) -> Result:
    now = ports.checks.clock.now()
    moved = ports.records.move(mine, now, status="reporting", verdict=verdict.status, reason=verdict.reason, state=None)
    if moved is None:
        return Result(Outcome.DUPLICATE, mine.execution_id, "another run decided this hook", lines=lines)
    return _send(moved, verdict, ports, now, lines, measured, spec_name=spec_name)


def _send(  # noqa: PLR0917
    mine: HookRecord,
    verdict: HookVerdict,
    ports: Ports,
    now: float,
    lines: tuple[Line, ...],
    measured: tuple[Measurement, ...] = (),
    *,
    spec_name: str = "",
) -> Result:
    status: Literal["Succeeded", "Failed"] = "Succeeded" if verdict.status == "Succeeded" else "Failed"
    try:
        answer = ports.deployments.report(mine.deployment_id, mine.execution_id, status)
    except Unreportable:
        _abandon(mine, ports, "CodeDeploy refused the report")
        raise
    except CodeReflexError:
        # Released at once, so Lambda's retry (one minute on) may send the decided verdict again.
        ports.records.move(mine, now, lease_until=now)
        raise
    ports.records.move(mine, ports.checks.clock.now(), status="reported")
    closed = _close_question(mine, ports)
    summary = _publish(mine, verdict, ports, measured, spec_name)
    return Result(
        Outcome.REPORTED, mine.execution_id, answer, verdict, (*lines, *closed, *summary), (Count("HookReports"),)
    )


def _close_question(mine: HookRecord, ports: Ports) -> tuple[Line, ...]:
    """Once the hook is over, its question to people (if it asked) is closed and each approver told, once.

    After the report: CodeDeploy's status comes first. A question left open would let someone answer
    a hook that no longer listens; the page then says how it ended instead.
    """
    ref = people.from_text(mine.asked) if mine.asked else None
    if ref is None or ports.people is None:
        return ()
    try:
        request = ports.people.questions.get(ref)
        mailed = people.close(request, ports.people, ports.checks.clock.now()) if request is not None else 0
    except Exception as error:  # the status is reported; a lost close-out must not change it
        return (Line("Validation question not closed", {"request": ref.key, "error": type(error).__name__}, "warning"),)
    return (Line("Validation question closed", {"request": ref.key, "mailed": mailed}),)


def _publish(
    mine: HookRecord, verdict: HookVerdict, ports: Ports, measured: tuple[Measurement, ...], spec_name: str
) -> tuple[Line, ...]:
    """The report after the status (CodeDeploy's deadline matters more): stored and announced by the publisher."""
    meta = report.Meta(
        mine.deployment_id, mine.execution_id, mine.hook, spec_name, "", mine.hook_deadline - HOOK_LIMIT_S,
        ports.checks.clock.now(), mine.runs,
    )  # fmt: skip
    document = report.report(verdict, measured, meta)
    if verdict.deciders:
        document["decidedBy"] = ", ".join(verdict.deciders)
    try:
        where = ports.publisher.publish(document)
    except Exception as error:  # the verdict is reported; a lost report page must not change it
        return (Line("Validation report not published", {"error": type(error).__name__}, "warning"),)
    summary = {k: v for k, v in report.summary(verdict, measured, meta).items() if k != "hookExecutionId"}
    return (Line("Hook validated", {**summary, "report": where}),)


def _abandon(mine: HookRecord, ports: Ports, why: str) -> None:
    ports.records.move(mine, ports.checks.clock.now(), status="abandoned", reason=why, state=None)
    _close_question(mine, ports)


def _logged(measurement: Measurement) -> dict[str, Any]:
    """One measurement's log line. What green answered is already redacted where it was measured
    (codereflex.validation), so a passing run never loads the redaction rules; the samples a
    comparison carries stay in the report."""
    record = measurement.record()
    record["data"] = {k: v for k, v in record["data"].items() if k not in ("greenLatencyMs", "blueLatencyMs")}
    return record
