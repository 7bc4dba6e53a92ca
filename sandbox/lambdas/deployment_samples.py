"""The deployment a hook sample names, seeded: a Lambda or ECS deployment waiting at that hook, with its spec.

CodeDeploy's payload names a deployment and a hook execution, not the hook (the function is told
which it serves), so seeding reads the invoked function's DEPLOYMENT_HOOK. The sample's deployment
id says the platform (`d-ECSSAMPLE`, `d-LAMBDASMP`). A deployer runs the deployment in a thread up
to that hook and holds it there, as CodeDeploy waits for the function; the event is rewritten to
the real deployment and execution ids, and the function's report lets the deployment go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.aws.bluegreen import EcsStage, LambdaStage
from sandbox.aws.deployments import Deployer, WallClock

if TYPE_CHECKING:
    from sandbox.local import Sandbox

PLATFORMS = {"d-ECSSAMPLE": "ECS", "d-LAMBDASMP": "Lambda"}
_AFTER_TEST_TRAFFIC = ("AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")

ECS_SPEC = """version: 1
kind: HookValidation
name: web-sample
platform: ecs
hooks: [{hook}]
checks:
  - name: {listener}-health
    type: http
    request: {{url: "{{{{ ecs.{listener}Listener.url }}}}/health", timeoutMs: 2000}}
    assert: {{status: [200], body: [{{jsonPath: "$.status", equals: ok}}], latencyMs: {{p99: "<=500"}}}}
    sampling: {{count: 20, intervalMs: 200, concurrency: 4}}
"""
LAMBDA_SPEC = """{{"version": 1, "kind": "HookValidation", "name": "orders-sample", "platform": "lambda",
 "checks": [{{"name": "contract", "type": "lambdaInvoke", "hooks": ["{hook}"],
   "function": "{{{{ lambda.functionName }}}}", "qualifier": "{{{{ lambda.targetVersion }}}}",
   "cases": [{{"name": "quote", "payload": {{"sku": "A1"}},
     "expect": {{"functionError": "none", "body": [{{"jsonPath": "$.statusCode", "equals": 200}}]}}}}]}}]}}
"""


class MissingDeployment(Exception):
    """The sample names no deployment the seeding knows how to make."""


def seed_deployment(
    sandbox: Sandbox, event: dict[str, Any], function: str
) -> tuple[dict[str, Any], list[str], Callable[[], None]]:
    """The event naming a deployment that waits at the function's hook, what was created, and how to stop it."""
    platform = PLATFORMS.get(str(event.get("DeploymentId")))
    if platform is None:
        raise MissingDeployment(
            f"The sample names deployment {event.get('DeploymentId')!r}; seeding makes {', '.join(PLATFORMS)} "
            "(ECS, Lambda): use one of those ids, or create the deployment in `python -m sandbox up`."
        )
    hook = sandbox.router.function(function).environment["DEPLOYMENT_HOOK"]
    bucket = sandbox.router.function(function).environment["VALIDATION_BUCKET"]
    s3 = sandbox.client("s3")
    if platform == "ECS":
        ecs = EcsStage(sandbox.client)
        listener = "test" if hook in _AFTER_TEST_TRAFFIC else "prod"
        key = f"specs/{ecs.application}/{ecs.group}.yaml"
        s3.put_object(Bucket=bucket, Key=key, Body=ECS_SPEC.format(hook=hook, listener=listener).encode())
        deployment_id, created = ecs.deploy(), f"ECS service {ecs.application}/{ecs.group} (blue and green on loopback)"
        stop_stage: Callable[[], None] = ecs.stop
    else:
        if hook not in ("BeforeAllowTraffic", "AfterAllowTraffic"):
            raise MissingDeployment(f"A Lambda deployment has no {hook} hook: invoke a Before/AfterAllowTraffic one.")
        stage = LambdaStage(sandbox.client, [_answer(1), _answer(2)])
        key = f"specs/{stage.application}/{stage.group}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=LAMBDA_SPEC.format(hook=hook).encode())
        deployment_id, created = stage.deploy(), f"Lambda function {stage.name} (versions 1 and 2, alias live on 1)"
        stop_stage = _nothing
    payload, deployer = _waiting_at(sandbox, deployment_id, hook)
    seeded = {key: payload[key] for key in ("DeploymentId", "LifecycleEventHookExecutionId")}

    def stop() -> None:
        deployer.join(10)  # after the function's report the deployment runs to its end in moments
        stop_stage()

    return seeded, [created, f"spec s3://{bucket}/{key}", f"deployment {deployment_id} waiting at {hook}"], stop


def _waiting_at(sandbox: Sandbox, deployment_id: str, hook: str) -> tuple[dict[str, Any], threading.Thread]:
    """Run the deployment in the background until CodeDeploy invokes `hook`; its payload."""
    reached = threading.Event()
    seen: dict[str, Any] = {}

    def at_hook(payload: dict[str, Any]) -> None:
        seen.update(payload)
        reached.set()  # and report nothing: the invoked function will

    deployer = Deployer(clock=WallClock(), emit=lambda _event: None)
    thread = threading.Thread(
        target=deployer.run, args=(deployment_id,), kwargs={"hooks": {hook: at_hook}}, daemon=True
    )
    thread.start()
    if not reached.wait(30):
        raise MissingDeployment(f"deployment {deployment_id} did not reach {hook}")
    return seen, thread


def _nothing() -> None:
    return None


def _answer(version: int) -> Callable[[Any, Any], Any]:
    return lambda _event, _context: {"statusCode": 200, "version": version}
