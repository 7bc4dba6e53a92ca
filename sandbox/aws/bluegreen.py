"""Ready-made Lambda and ECS blue/green applications in the sandbox's moto, with their stand-ins running.

`LambdaStage` is a function with published versions that run in-process, an alias on the current
one, and a CodeDeploy application and deployment group for it. `EcsStage` is a blue and a green
`Service` on loopback, their ELBv2 target groups, an ALB (DNS name 127.0.0.1) whose production and
test listeners are `Listener` proxies bound to the very ports moto's listeners name, and a CodeDeploy
ECS deployment group over them; `native_blue_green` adds the ECS service an ECS native blue/green
deployment of it would have. `deploy(hooks)` creates a deployment with an AppSpec naming the hooks;
`sandbox.aws.deployments.Deployer` runs it. `client(service)` is any boto3 client factory (a
`Sandbox`'s, or plain boto3 under `mock_aws`): the stages create everything through the API.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from sandbox.aws.moto_ext import elbv2, lambda_versions
from sandbox.aws.services import Behaviour, Listener, RoundRobin, Route, Service

ClientFactory = Callable[[str], Any]
ACCOUNT_ID = "123456789012"
SERVICE_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/codedeploy-service"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"]


def _group_options(alarms: Sequence[str], auto_rollback: bool) -> dict[str, Any]:
    return {
        "serviceRoleArn": SERVICE_ROLE,
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "alarmConfiguration": {
            "enabled": bool(alarms),
            "ignorePollAlarmFailure": False,
            "alarms": [{"name": a} for a in alarms],
        },
        "autoRollbackConfiguration": {"enabled": auto_rollback, "events": ROLLBACK_EVENTS if auto_rollback else []},
    }


def _hooks(hooks: Mapping[str, str]) -> list[dict[str, str]]:
    return [{event: function} for event, function in hooks.items()]


class LambdaStage:
    """Function `name` with versions "1".."n" (each a Python handler), alias `alias` on `current`."""

    def __init__(
        self,
        client: ClientFactory,
        versions: Sequence[lambda_versions.Handler],
        *,
        name: str = "orders",
        alias: str = "live",
        current: str = "1",
        config: str = "CodeDeployDefault.LambdaAllAtOnce",
        alarms: Sequence[str] = (),
        auto_rollback: bool = True,
        application: str = "orders-app",
        group: str = "orders-dg",
    ) -> None:
        self.client, self.name, self.alias, self.application, self.group = client, name, alias, application, group
        iam = client("iam")
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = client("lambda")
        lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": _zip()}
        )
        self.versions: list[str] = []
        for index, handler in enumerate(versions):
            if index:
                lam.update_function_code(FunctionName=name, ZipFile=_zip(str(index)))
            version = str(lam.publish_version(FunctionName=name)["Version"])
            lambda_versions.run_version(name, version, handler)
            self.versions.append(version)
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=current)
        codedeploy = client("codedeploy")
        codedeploy.create_application(applicationName=application, computePlatform="Lambda")
        codedeploy.create_deployment_group(
            applicationName=application,
            deploymentGroupName=group,
            deploymentConfigName=config,
            **_group_options(alarms, auto_rollback),
        )

    def deploy(self, hooks: Mapping[str, str] | None = None, *, target: str | None = None) -> str:
        """A deployment of the alias from its current version to `target` (default: the newest)."""
        lam = self.client("lambda")
        current = str(lam.get_alias(FunctionName=self.name, Name=self.alias)["FunctionVersion"])
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    self.name: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": self.name,
                            "Alias": self.alias,
                            "CurrentVersion": current,
                            "TargetVersion": target or self.versions[-1],
                        },
                    }
                }
            ],
            "Hooks": _hooks(hooks or {}),
        }
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}}
        created = self.client("codedeploy").create_deployment(
            applicationName=self.application, deploymentGroupName=self.group, revision=revision
        )
        return str(created["deploymentId"])


class EcsStage:
    """A blue and a green service behind an ALB's production and test listeners, and their deployment group."""

    def __init__(
        self,
        client: ClientFactory,
        *,
        targets: int = 2,
        blue: Behaviour | None = None,
        green: Behaviour | None = None,
        config: str = "CodeDeployDefault.ECSAllAtOnce",
        alarms: Sequence[str] = (),
        auto_rollback: bool = True,
        cluster: str = "shop",
        service: str = "web",
        application: str = "web-app",
        group: str = "web-dg",
    ) -> None:
        self.client, self.application, self.group = client, application, group
        self.blue = Service("blue", count=targets, behaviour=blue or Behaviour(body={"status": "ok", "colour": "blue"}))
        self.green = Service(
            "green", count=targets, behaviour=green or Behaviour(body={"status": "ok", "colour": "green"}), seed=100
        )
        self._chooser = RoundRobin()
        self.listeners: dict[str, Listener] = {}
        self.listener_arns: dict[str, str] = {}
        try:
            self._build(
                client, cluster=cluster, service=service, config=config, alarms=alarms, auto_rollback=auto_rollback
            )
        except BaseException:
            self.stop()
            raise

    def _build(
        self,
        client: ClientFactory,
        *,
        cluster: str,
        service: str,
        config: str,
        alarms: Sequence[str],
        auto_rollback: bool,
    ) -> None:
        ec2, elb = client("ec2"), client("elbv2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"][
                "SubnetId"
            ]
            for i, zone in enumerate("ab")
        ]
        lb = elb.create_load_balancer(Name=f"{service}-alb", Subnets=subnets, Scheme="internal", Type="application")
        self.load_balancer_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        # Hooks build listener URLs from the ALB's DNS name and the listener's port: here both are real.
        elbv2.backend_for().load_balancers[self.load_balancer_arn].dns_name = "127.0.0.1"
        self.target_groups: dict[str, str] = {}
        for colour, fleet in (("blue", self.blue), ("green", self.green)):
            group = elb.create_target_group(
                Name=f"{service}-{colour}",
                Protocol="HTTP",
                Port=80,
                VpcId=vpc,
                TargetType="ip",
                HealthCheckPath="/health",
            )["TargetGroups"][0]["TargetGroupArn"]
            elb.register_targets(TargetGroupArn=group, Targets=[{"Id": t.ip, "Port": t.port} for t in fleet.targets])
            self.target_groups[colour] = group
        for role in ("prod", "test"):
            listener = Listener(role, self._route_for(role), observe=self._observe)
            self.listeners[role] = listener
            arn = elb.create_listener(
                LoadBalancerArn=self.load_balancer_arn,
                Protocol="HTTP",
                Port=listener.port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": self.target_groups["blue"]}],
            )["Listeners"][0]["ListenerArn"]
            self.listener_arns[role] = arn
        codedeploy = client("codedeploy")
        codedeploy.create_application(applicationName=self.application, computePlatform="ECS")
        codedeploy.create_deployment_group(
            applicationName=self.application,
            deploymentGroupName=self.group,
            deploymentConfigName=config,
            ecsServices=[{"serviceName": service, "clusterName": cluster}],
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": f"{service}-blue"}, {"name": f"{service}-green"}],
                        "prodTrafficRoute": {"listenerArns": [self.listener_arns["prod"]]},
                        "testTrafficRoute": {"listenerArns": [self.listener_arns["test"]]},
                    }
                ]
            },
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
            },
            **_group_options(alarms, auto_rollback),
        )
        self.task_definition = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task-definition/{service}:2"

    def _route_for(self, role: str) -> Callable[[], Route | None]:
        def choose() -> Route | None:
            arn = self.listener_arns.get(role)
            if arn is None:
                return None
            return self._chooser.pick(elbv2.forward_weights(arn), elbv2.target_states)

        return choose

    def _observe(self, route: Route, status: int, seconds: float) -> None:
        """The ALB's own metrics per target group, as CloudWatch gets them (per request here, not per minute)."""
        dimensions = [
            {"Name": "TargetGroup", "Value": route.target_group_arn.split(":")[-1]},
            {"Name": "LoadBalancer", "Value": self.load_balancer_arn.split(":loadbalancer/")[-1]},
        ]
        metrics = [
            ("RequestCount", 1.0, "Count"),
            ("TargetResponseTime", seconds, "Seconds"),
            (f"HTTPCode_Target_{status // 100}XX_Count", 1.0, "Count"),
        ]
        data = [{"MetricName": n, "Value": v, "Unit": u, "Dimensions": dimensions} for n, v, u in metrics]
        cloudwatch_backends[ACCOUNT_ID]["us-east-1"].put_metric_data("AWS/ApplicationELB", data)

    @property
    def prod_url(self) -> str:
        return self.listeners["prod"].url

    @property
    def test_url(self) -> str:
        return self.listeners["test"].url

    def mark(self, colour: str, index: int, state: str) -> None:
        """Set one target's ELBv2 health (`unhealthy`, `initial`, `healthy`...); the listeners route accordingly."""
        fleet = self.blue if colour == "blue" else self.green
        elbv2.set_target_health(self.target_groups[colour], fleet.targets[index].ip, state)

    def deploy(self, hooks: Mapping[str, str] | None = None) -> str:
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": self.task_definition,
                            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                        },
                    }
                }
            ],
            "Hooks": _hooks(hooks or {}),
        }
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec)}}
        created = self.client("codedeploy").create_deployment(
            applicationName=self.application, deploymentGroupName=self.group, revision=revision
        )
        return str(created["deploymentId"])

    def stop(self) -> None:
        for listener in self.listeners.values():
            listener.stop()
        self.blue.stop()
        self.green.stop()


def native_blue_green(stage: EcsStage, client: ClientFactory, *, cluster: str, service: str) -> None:
    """An ECS native blue/green service over `stage` as ECS has it at POST_TEST_TRAFFIC_SHIFT.

    Listener rules forward production to blue and test to green; the service's load balancer names
    blue's target group, with green's as `advancedConfiguration.alternateTargetGroupArn` and the two
    rules; the test listener's default action sends everything to green (the stage's proxies route by it).
    """
    elb, ecs = client("elbv2"), client("ecs")
    rules = {}
    for role, colour in (("prod", "blue"), ("test", "green")):
        rules[role] = elb.create_rule(
            ListenerArn=stage.listener_arns[role],
            Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": stage.target_groups[colour]}],
        )["Rules"][0]["RuleArn"]
    elb.modify_listener(
        ListenerArn=stage.listener_arns["test"],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": stage.target_groups["green"]}],
    )
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=service, containerDefinitions=[{"name": "web", "image": f"{service}:2", "memory": 256}]
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=service,
        desiredCount=len(stage.green.targets),
        loadBalancers=[
            {
                "targetGroupArn": stage.target_groups["blue"],
                "containerName": "web",
                "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": stage.target_groups["green"],
                    "productionListenerRule": rules["prod"],
                    "testListenerRule": rules["test"],
                    "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/ecs-infrastructure",
                },
            }
        ],
    )


def _zip(marker: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(event, context):  # {marker}\n    return event\n")
    return buffer.getvalue()
