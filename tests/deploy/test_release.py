"""A release on ECS (issue #16, 1, 2, 4, 5): the service stack is the only owner of its task
definitions, the pipeline changes nothing but the stack's ImageTag, the workers go before the web
tier, and the migrate step neither gives up on a long migration nor starts a second one.
deploy/release.py runs against a fake AWS CLI that keeps one service stack and its ECS tasks."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from config.services import SERVICES
from tests.deploy.templates import ROOT, exists, iam_statements, load, resolve, resources, service_parameters

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import release
finally:
    sys.path.remove(str(ROOT / "deploy"))

STACK = "shopstack-orders"
CLUSTER = "shopstack-platform"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shopstack:new"
MIGRATE_ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shopstack-orders-migrate:7"


# --- one owner: the stack ---------------------------------------------------------------------------


def test_no_codedeploy_owns_a_web_service(service, pipeline):
    # CloudFormation cannot update a service whose task definition CodeDeploy replaces.
    for template in (service, pipeline):
        assert not [name for name, r in resources(template).items() if r["Type"].startswith("AWS::CodeDeploy::")]
        assert "CodeDeploy" not in json.dumps(template["Resources"])
    for name, ecs_service in resources(service, "AWS::ECS::Service").items():
        assert ecs_service["Properties"]["DeploymentController"] == {"Type": "ECS"}, name


def test_the_pipeline_registers_no_task_definition_a_service_runs(pipeline):
    stages = resolve(pipeline["Resources"]["Pipeline"]["Properties"]["Stages"], pipeline, {})
    providers = {action["ActionTypeId"]["Provider"] for stage in stages for action in stage["Actions"]}
    assert not providers & {"ECS", "CodeDeployToECS"}
    pipeline_actions = {
        action
        for name, statement in iam_statements(pipeline)
        if name == "PipelineRole"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert not [action for action in pipeline_actions if action.startswith(("ecs:", "codedeploy:"))]
    # The migrate step may start one-off tasks of the migrate families only.
    run_task = next(s for name, s in iam_statements(pipeline) if name == "BuildRole" and s["Sid"] == "RunMigrations")
    assert run_task["Resource"]["Fn::Sub"].endswith("task-definition/*shopstack-*-migrate-release:*")


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_task_runs_the_image_of_the_stacks_image_tag(service, name):
    template = load("service")
    parameters = service_parameters(name, ImageTag="abc123def456")
    tasks = resources(template, "AWS::ECS::TaskDefinition")
    assert set(tasks) == {
        "WebTaskDefinition",
        "WorkerTaskDefinition",
        "SchedulerTaskDefinition",
        "MigrateTaskDefinition",
    }
    for task in tasks.values():
        image = resolve(task["Properties"]["ContainerDefinitions"][0]["Image"], template, parameters)
        assert image["Fn::Sub"][0] == "${Repository}:${ImageTag}"


def test_image_tag_is_a_tag_and_its_description_says_who_sets_it(service):
    parameter = service["Parameters"]["ImageTag"]
    assert "Default" not in parameter
    assert "deploy/release.py" in parameter["Description"]
    assert parameter["AllowedPattern"] == "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


@pytest.mark.parametrize("name", list(SERVICES))
def test_the_web_tier_is_released_by_ecs_blue_green_with_alarm_rollback(service, name):
    parameters = service_parameters(name)
    web = resolve(service["Resources"]["WebService"]["Properties"], service, parameters)
    configuration = web["DeploymentConfiguration"]
    assert configuration["Strategy"] == "CANARY"
    assert configuration["CanaryConfiguration"] == {"CanaryPercent": 10, "CanaryBakeTimeInMinutes": 5}
    assert configuration["BakeTimeInMinutes"] >= 5
    assert configuration["Alarms"]["Enable"] is True and configuration["Alarms"]["Rollback"] is True
    alarms = {alarm["Ref"] for alarm in configuration["Alarms"]["AlarmNames"]}
    assert alarms == {
        "Web5xxBlueAlarm",
        "Web5xxGreenAlarm",
        "WebLatencyBlueAlarm",
        "WebLatencyGreenAlarm",
        "LoadBalancer5xxAlarm",  # 502/503/504 made by the load balancer, not the app
    }
    assert all(exists(service, service["Resources"][alarm], parameters) for alarm in alarms)
    # Every listener rule the service has is moved by the deployment, each between its own pair.
    rules = {
        rule
        for rule, r in resources(service, "AWS::ElasticLoadBalancingV2::ListenerRule").items()
        if exists(service, r, parameters)
    }
    entries = web["LoadBalancers"]
    assert {entry["AdvancedConfiguration"]["ProductionListenerRule"]["Ref"] for entry in entries} == rules
    groups = [entry["TargetGroupArn"]["Ref"] for entry in entries] + [
        entry["AdvancedConfiguration"]["AlternateTargetGroupArn"]["Ref"] for entry in entries
    ]
    assert len(groups) == len(set(groups)) == 2 * len(rules)
    for rule in rules:
        forward = resolve(service["Resources"][rule]["Properties"]["Actions"], service, parameters)[0]
        entry = next(e for e in entries if e["AdvancedConfiguration"]["ProductionListenerRule"]["Ref"] == rule)
        assert forward["TargetGroupArn"] == entry["TargetGroupArn"]


def test_users_key_discovery_rule_has_its_own_target_group_pair(service):
    web = resolve(service["Resources"]["WebService"]["Properties"], service, service_parameters("users"))
    assert [entry["AdvancedConfiguration"]["ProductionListenerRule"]["Ref"] for entry in web["LoadBalancers"]] == [
        "WebListenerRule",
        "WebRootListenerRule",
    ]


def test_workers_and_scheduler_roll_back_on_their_own_failures(service):
    for name in ("WorkerService", "SchedulerService"):
        configuration = service["Resources"][name]["Properties"]["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert configuration["Alarms"] == {
            "Enable": True,
            "Rollback": True,
            "AlarmNames": [{"Ref": "DeadLetterGrowingAlarm"}],
        }
    # It counts messages arriving in the dead-letter queue, not the ones already there.
    alarm = service["Resources"]["DeadLetterGrowingAlarm"]["Properties"]
    assert next(m for m in alarm["Metrics"] if m["ReturnData"])["Expression"].startswith("DIFF(")


# --- release order ------------------------------------------------------------------------------------


def test_a_services_workers_are_released_before_its_web_tier(service):
    # One stack update releases all three tiers; CloudFormation updates a resource only after
    # those it depends on, so no new web task publishes a task before its workers know it.
    # Through ReleasedTiers (the all-in-one stack has neither service): it names both services and
    # their new revisions, so a release updates it after both are stable, and the web after it.
    assert service["Resources"]["WebService"]["DependsOn"] == "ReleasedTiers"
    value = service["Resources"]["ReleasedTiers"]["Properties"]["Value"]["Fn::If"]
    assert value[0] == "Split"
    for reference in ("WorkerService.Name", "WorkerTaskDefinition", "SchedulerService.Name", "SchedulerTaskDefinition"):
        assert "${" + reference + "}" in value[1]["Fn::Sub"]


def test_the_migrations_run_before_any_service_is_released(pipeline):
    stages = [
        stage["Name"] for stage in resolve(pipeline["Resources"]["Pipeline"]["Properties"]["Stages"], pipeline, {})
    ]
    assert stages.index("Migrate") < stages.index("Deploy")


# --- deploy/release.py deploy: a stack update of ImageTag, nothing else --------------------------------


class FakeAws:
    """The AWS CLI calls deploy/release.py makes on one service stack and its ECS tasks."""

    def __init__(self) -> None:
        self.parameters = dict.fromkeys(load("service")["Parameters"], "x")
        self.parameters.update(ServiceName="orders", ImageTag="old")
        self.status = "UPDATE_COMPLETE"
        self.updates: list[dict[str, str]] = []
        self.rollback = False
        self.calls: list[list[str]] = []
        # ECS
        self.registered: list[dict] = []
        self.deregistered: list[str] = []
        self.started: list[str] = []
        self.running: dict[str, dict] = {}  # task ARN -> {"family", "polls", "exit"}
        self.polls_until_stopped = 60  # 15 minutes at 15 s a poll: longer than the old 10-minute waiter
        self.exit_code = 0
        self.tags: list[tuple[str, str, str]] = []  # ECR put-image: (tag, manifest, media type)

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        command = args[:2]
        if command == ["cloudformation", "describe-stacks"]:
            outputs = {
                "MigrateTaskDefinition": MIGRATE_ARN,
                "MigrateTaskFamily": "shopstack-orders-migrate",
                "WorkerServiceName": "orders-worker",
            }
            return json.dumps(
                {
                    "Stacks": [
                        {
                            "StackStatus": self.status,
                            "Parameters": [
                                {"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()
                            ],
                            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                        }
                    ]
                }
            )
        if command == ["cloudformation", "update-stack"]:
            assert "--use-previous-template" in args
            given = json.loads(args[args.index("--parameters") + 1])
            assert [item["ParameterKey"] for item in given] == list(self.parameters)
            self.updates.append(
                {item["ParameterKey"]: item["ParameterValue"] for item in given if not item.get("UsePreviousValue")}
            )
            return "{}"
        if command == ["cloudformation", "wait"]:
            if self.rollback:
                self.status = "UPDATE_ROLLBACK_COMPLETE"
                raise subprocess.CalledProcessError(255, ["aws", *args], stderr="Waiter StackUpdateComplete failed")
            self.parameters.update(self.updates[-1])
            return ""
        if command == ["ecs", "describe-task-definition"]:
            assert args[args.index("--task-definition") + 1] == MIGRATE_ARN
            return json.dumps(
                {
                    "taskDefinition": {
                        "taskDefinitionArn": MIGRATE_ARN,
                        "family": "shopstack-orders-migrate",
                        "revision": 7,
                        "status": "ACTIVE",
                        "containerDefinitions": [{"name": "app", "image": "repo:old", "command": ["migrate"]}],
                    }
                }
            )
        if command == ["ecs", "register-task-definition"]:
            taskdef = json.loads(args[args.index("--cli-input-json") + 1])
            self.registered.append(taskdef)
            arn = f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{taskdef['family']}:{len(self.registered)}"
            return json.dumps({"taskDefinition": {"taskDefinitionArn": arn}})
        if command == ["ecs", "deregister-task-definition"]:
            self.deregistered.append(args[args.index("--task-definition") + 1])
            return "{}"
        if command == ["ecs", "describe-services"]:
            return json.dumps({"services": [{"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}]})
        if command == ["ecs", "run-task"]:
            assert args[args.index("--started-by") + 1] == release.STARTED_BY
            taskdef_arn = args[args.index("--task-definition") + 1]
            task_arn = f"arn:aws:ecs:eu-west-1:123456789012:task/{CLUSTER}/t{len(self.started) + 1}"
            self.started.append(task_arn)
            self.running[task_arn] = {"taskdef": taskdef_arn, "polls": 0, "exit": self.exit_code}
            return json.dumps({"tasks": [{"taskArn": task_arn}]})
        if command == ["ecs", "list-tasks"]:
            running = [arn for arn, task in self.running.items() if task["polls"] < self.polls_until_stopped]
            return json.dumps({"taskArns": running})
        if command == ["ecs", "describe-tasks"]:
            arns = args[args.index("--tasks") + 1 : args.index("--output")]
            tasks = []
            for arn in arns:
                task = self.running[arn]
                task["polls"] += 1
                stopped = task["polls"] > self.polls_until_stopped
                container = {"name": "app", **({"exitCode": task["exit"]} if stopped else {})}
                tasks.append(
                    {
                        "taskArn": arn,
                        "taskDefinitionArn": task["taskdef"],
                        "lastStatus": "STOPPED" if stopped else "RUNNING",
                        "containers": [container],
                    }
                )
            return json.dumps({"tasks": tasks})
        if command == ["ecr", "batch-get-image"]:
            assert args[args.index("--image-ids") + 1] == "imageTag=new"
            image = {
                "imageManifest": '{"layers": []}',
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            }
            return json.dumps({"images": [image]})
        if command == ["ecr", "put-image"]:
            self.tags.append(
                (
                    args[args.index("--image-tag") + 1],
                    args[args.index("--image-manifest") + 1],
                    args[args.index("--image-manifest-media-type") + 1],
                )
            )
            return "{}"
        raise AssertionError(f"unexpected call {args}")


def run(fake: FakeAws, *args: str) -> int:
    return release.main(list(args), run=fake, sleep=lambda seconds: None)


def test_a_release_changes_only_the_stacks_image_tag():
    fake = FakeAws()
    assert run(fake, "deploy", "--stack-name", STACK, "--image-tag", "new") == 0
    assert fake.updates == [{"ImageTag": "new"}]
    assert fake.parameters["ImageTag"] == "new"


def test_a_released_image_gets_a_tag_the_lifecycle_policy_keeps():
    fake = FakeAws()
    assert run(fake, "deploy", "--stack-name", STACK, "--image", IMAGE) == 0
    assert fake.updates == [{"ImageTag": "new"}]
    [(tag, manifest, media_type)] = fake.tags
    assert re.fullmatch(r"released-shopstack-orders-\d{8}T\d{6}Z", tag)
    # The same manifest under one more tag: the image is not copied or rebuilt.
    assert (manifest, media_type) == ('{"layers": []}', "application/vnd.oci.image.manifest.v1+json")


def test_a_release_that_rolls_back_tags_nothing():
    fake = FakeAws()
    fake.rollback = True
    assert run(fake, "deploy", "--stack-name", STACK, "--image", IMAGE) == 1
    assert fake.tags == []


def test_the_lifecycle_policy_expires_released_images_last(platform):
    policy = json.loads(platform["Resources"]["Repository"]["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])
    first, *others = sorted(policy["rules"], key=lambda rule: rule["rulePriority"])
    # An image the first rule matches is never expired by a later rule.
    assert first["selection"]["tagStatus"] == "tagged"
    assert first["selection"]["tagPrefixList"] == [release.RELEASED_TAG_PREFIX]
    assert first["selection"]["countNumber"] >= 50
    assert [rule["selection"]["tagStatus"] for rule in others] == ["any"]


def test_a_release_that_rolls_back_fails_and_leaves_the_previous_tag():
    fake = FakeAws()
    fake.rollback = True
    assert run(fake, "deploy", "--stack-name", STACK, "--image-tag", "new") == 1
    assert fake.parameters["ImageTag"] == "old"


def test_the_build_writes_only_the_image_the_later_stages_read(tmp_path):
    assert release.write_files(image=IMAGE, out=tmp_path) == [tmp_path / "imageDetail.json"]
    assert json.loads((tmp_path / "imageDetail.json").read_text()) == {"ImageURI": IMAGE}
    assert release.image_tag(IMAGE) == "new"


# --- deploy/release.py migrate --------------------------------------------------------------------------


def test_a_long_migration_is_waited_for_and_its_one_off_revision_removed():
    fake = FakeAws()
    assert run(fake, "migrate", "--stack-name", STACK, "--image", IMAGE, "--cluster", CLUSTER) == 0
    # Registered from the stack's own migrate task definition, in a family no service runs.
    [taskdef] = fake.registered
    assert taskdef["family"] == "shopstack-orders-migrate-release"
    assert taskdef["containerDefinitions"][0]["image"] == IMAGE
    assert "revision" not in taskdef and "taskDefinitionArn" not in taskdef
    assert len(fake.started) == 1
    assert fake.running[fake.started[0]]["polls"] > 40  # past the 10 minutes the old waiter allowed
    assert fake.deregistered == [fake.running[fake.started[0]]["taskdef"]]


def test_a_retry_waits_for_the_migration_still_running_instead_of_starting_a_second():
    fake = FakeAws()
    first = FakeAws.__call__(
        fake,
        [
            "ecs",
            "run-task",
            "--started-by",
            release.STARTED_BY,
            "--task-definition",
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/shopstack-orders-migrate-release:1",
        ],
    )
    running = json.loads(first)["tasks"][0]["taskArn"]
    assert run(fake, "migrate", "--stack-name", STACK, "--image", IMAGE, "--cluster", CLUSTER) == 0
    # The running one was waited for until it stopped, before the release's own run started.
    assert fake.running[running]["polls"] > fake.polls_until_stopped
    started_after = [args for args in fake.calls if args[:2] == ["ecs", "run-task"]]
    assert len(started_after) == 2  # the one already running, then this release's
    first_new_run = fake.calls.index(started_after[1])
    last_poll_of_old = max(
        i for i, args in enumerate(fake.calls) if args[:2] == ["ecs", "describe-tasks"] and running in args
    )
    assert last_poll_of_old < first_new_run


def test_a_failed_migration_fails_the_release():
    fake = FakeAws()
    fake.exit_code = 1
    assert run(fake, "migrate", "--stack-name", STACK, "--image", IMAGE, "--cluster", CLUSTER) == 1
    assert len(fake.deregistered) == 1


# --- the environment the other services' settings read ----------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_task_gets_the_proxy_count_csrf_origin_and_cors_origins(service, name):
    template = load("service")
    parameters = service_parameters(name, CorsAllowedOrigins="https://shop.example.com")
    for task, container in resources(template, "AWS::ECS::TaskDefinition").items():
        environment = {
            item["Name"]: item["Value"]
            for item in resolve(container["Properties"]["ContainerDefinitions"][0]["Environment"], template, parameters)
        }
        assert environment["TRUSTED_PROXY_COUNT"] == "2", task
        assert environment["DJANGO_CSRF_TRUSTED_ORIGINS"] == {
            "Fn::Sub": [
                "${Issuer},https://${Internal}",
                {
                    "Issuer": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-JwtIssuer"}},
                    "Internal": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-LoadBalancerServerName"}},
                },
            ]
        }
        assert environment["CORS_ALLOWED_ORIGINS"] == "https://shop.example.com"
    assert service["Parameters"]["CorsAllowedOrigins"]["Default"] == ""


# --- two environments in one account ----------------------------------------------------------------

# Properties whose value is a name unique in the account and region (not only in its stack, cluster
# or parent resource).
ACCOUNT_WIDE_NAMES = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


def unprefixed_names(template: dict) -> list[str]:
    problems = []
    for name, resource in resources(template).items():
        key = ACCOUNT_WIDE_NAMES.get(resource["Type"])
        if key and "${ResourcePrefix}" not in json.dumps(resource["Properties"].get(key, "${ResourcePrefix}")):
            problems.append(f"{name}.{key}")
    return problems


def test_every_account_wide_name_of_a_service_stack_carries_the_resource_prefix(service):
    assert unprefixed_names(service) == []
    # The release finds the migrate task definition through the stack, never by a family name.
    assert "${ResourcePrefix}" in service["Outputs"]["MigrateTaskFamily"]["Value"]["Fn::Sub"]
    assert service["Outputs"]["MigrateTaskDefinition"]["Value"] == {"Ref": "MigrateTaskDefinition"}


def test_an_unprefixed_name_fails_the_check(service):
    broken = json.loads(json.dumps(service))
    broken["Resources"]["LogGroup"]["Properties"]["LogGroupName"] = {"Fn::Sub": "/shopstack/${ServiceName}"}
    assert unprefixed_names(broken) == ["LogGroup.LogGroupName"]


# --- deploy/release.py scan: ECR's findings gate the release -------------------------------------------


class FakeEcr:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts, self.calls = counts, []

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        assert args[args.index("--repository-name") + 1] == "shopstack"
        assert args[args.index("--image-id") + 1] == "imageTag=new"
        if args[:3] == ["ecr", "wait", "image-scan-complete"]:
            return ""
        if args[:2] == ["ecr", "describe-image-scan-findings"]:
            return json.dumps({"imageScanFindings": {"findingSeverityCounts": self.counts}})
        raise AssertionError(f"unexpected call {args}")


@pytest.mark.parametrize(
    ("counts", "exit_code"), [({}, 0), ({"LOW": 3, "MEDIUM": 1}, 0), ({"HIGH": 1}, 1), ({"CRITICAL": 2, "LOW": 1}, 1)]
)
def test_a_critical_or_high_finding_stops_the_release(counts, exit_code):
    fake = FakeEcr(counts)
    assert run(fake, "scan", "--image", IMAGE) == exit_code
    # It waits for the scan to finish before reading the findings.
    assert fake.calls[0][:3] == ["ecr", "wait", "image-scan-complete"]


def test_the_build_gates_on_the_scan_before_writing_the_release(pipeline):
    buildspec = yaml.safe_load((ROOT / "deploy" / "buildspec.yml").read_text())
    commands = buildspec["phases"]["post_build"]["commands"]
    scan = commands.index('python deploy/release.py scan --image "$IMAGE"')
    assert scan < commands.index('python deploy/release.py files --image "$IMAGE"')
    statements = {s["Sid"]: s for name, s in iam_statements(pipeline) if name == "BuildRole"}
    assert "ecr:DescribeImageScanFindings" in statements["PushImage"]["Action"]
