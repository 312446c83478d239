"""Traces (#17): an ADOT collector beside the app in every ECS web, worker and scheduler task and on
every EC2 web instance, exporting to X-Ray with the task role's permission, the app pointed at it
with a per-environment sampling ratio, and a configuration that keeps errors and slow traces."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from config.services import SERVICES
from tests.deploy.templates import (
    COLOURS,
    ec2_environment,
    exists,
    iam_statements,
    resolve,
    resources,
    service_parameters,
)

TRACED_TASKS = ("WebTaskDefinition", "WorkerTaskDefinition", "SchedulerTaskDefinition")
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}


def _containers(template: dict, task: str, parameters: dict) -> dict[str, dict]:
    definitions = resolve(template["Resources"][task]["Properties"]["ContainerDefinitions"], template, parameters)
    return {container["Name"]: container for container in definitions}


def _config(text: dict | str, parameters: dict[str, str]) -> dict:
    """A collector configuration as CloudFormation substitutes it, parsed."""
    body = text["Fn::Sub"] if isinstance(text, dict) else text
    for name, value in parameters.items():
        body = body.replace("${" + name + "}", value)
    assert "${" not in body, re.findall(r"\$\{[^}]+\}", body)
    return yaml.safe_load(body)


SUBSTITUTED = {"SlowTraceMs": "2000", "TraceKeepPercent": "100", "AWS::Region": "eu-west-1"}


def collector_problems(config: dict) -> list[str]:
    """What a collector configuration must do: OTLP on the loopback (gRPC 4317, HTTP 4318), to X-Ray,
    tail sampling that keeps errors and slow traces, placed before the batch processor."""
    problems = []
    protocols = config["receivers"]["otlp"]["protocols"]
    if protocols.get("grpc", {}).get("endpoint") != "127.0.0.1:4317":
        problems.append("OTLP gRPC not on 127.0.0.1:4317")
    if protocols.get("http", {}).get("endpoint") != "127.0.0.1:4318":
        problems.append("OTLP HTTP not on 127.0.0.1:4318")
    pipeline = config["service"]["pipelines"]["traces"]
    if pipeline["exporters"] != ["awsxray"]:
        problems.append(f"traces go to {pipeline['exporters']}, not X-Ray")
    processors = pipeline["processors"]
    if "tail_sampling" not in processors or "batch" not in processors:
        problems.append("no tail sampling or no batching")
    elif processors.index("tail_sampling") > processors.index("batch"):
        problems.append("batch before tail sampling (it may split a trace)")
    policies = {policy["type"]: policy for policy in config["processors"]["tail_sampling"]["policies"]}
    if policies.get("status_code", {}).get("status_code", {}).get("status_codes") != ["ERROR"]:
        problems.append("errors are not always kept")
    if "latency" not in policies:
        problems.append("slow traces are not always kept")
    return problems


@pytest.mark.parametrize("task", TRACED_TASKS)
@pytest.mark.parametrize("name", list(SERVICES))
def test_every_traced_task_runs_the_collector_beside_the_app(service, name, task):
    containers = _containers(service, task, service_parameters(name))
    assert list(containers) == ["app", "otel-collector"]
    collector = containers["otel-collector"]
    # Tracing must not take the app down: not essential, restarted when it exits.
    assert collector["Essential"] is False
    assert collector["RestartPolicy"]["Enabled"] is True
    assert collector["ReadonlyRootFilesystem"] is True
    assert collector["Image"] == service["Parameters"]["CollectorImage"]["Default"]
    assert collector["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
    assert {"ContainerName": "otel-collector", "Condition": "START"} in containers["app"]["DependsOn"]
    (variable,) = collector["Environment"]
    assert variable["Name"] == "AOT_CONFIG_CONTENT"
    assert collector["Command"] == ["--config=env:AOT_CONFIG_CONTENT"]
    assert collector_problems(_config(variable["Value"], SUBSTITUTED)) == []


def test_the_migrate_task_is_not_traced(service):
    containers = _containers(service, "MigrateTaskDefinition", service_parameters("orders"))
    assert list(containers) == ["app"]
    names = {item["Name"] for item in containers["app"]["Environment"]}
    assert not names & {"TRACING_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"}


@pytest.mark.parametrize("name", list(SERVICES))
def test_the_app_sends_its_spans_to_the_collector_with_the_environments_ratio(service, name):
    parameters = service_parameters(name, ResourcePrefix="staging-", TraceSampleRatio="1.0")
    for task in TRACED_TASKS:
        environment = {
            item["Name"]: item["Value"] for item in _containers(service, task, parameters)["app"]["Environment"]
        }
        assert environment["TRACING_EXPORTER"] == "otlp"
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
        assert environment["OTEL_SERVICE_NAME"] == {"Fn::Sub": "${ResourcePrefix}shopstack-${ServiceName}"}
        assert environment["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert environment["OTEL_TRACES_SAMPLER_ARG"] == "1.0"
        assert environment["METRICS_EMBEDDED"] == "true"
    # Production records a tenth of the traces unless told otherwise.
    assert service["Parameters"]["TraceSampleRatio"]["Default"] == "0.1"


def test_the_task_role_may_send_traces_to_xray(service):
    statements = [statement for name, statement in iam_statements(service) if name == "RuntimePolicy"]
    granted = {
        action
        for statement in statements
        if statement.get("Effect") == "Allow"
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert granted >= XRAY_ACTIONS


def test_the_check_sees_a_collector_that_drops_errors_or_batches_first(service):
    variable = _containers(service, "WebTaskDefinition", service_parameters("orders"))["otel-collector"]["Environment"][
        0
    ]
    config = _config(variable["Value"], SUBSTITUTED)
    broken = copy.deepcopy(config)
    broken["processors"]["tail_sampling"]["policies"] = [
        policy for policy in broken["processors"]["tail_sampling"]["policies"] if policy["type"] != "status_code"
    ]
    assert collector_problems(broken) == ["errors are not always kept"]
    broken = copy.deepcopy(config)
    broken["service"]["pipelines"]["traces"]["processors"] = ["batch", "tail_sampling"]
    assert collector_problems(broken) == ["batch before tail sampling (it may split a trace)"]


@pytest.mark.parametrize("colour", COLOURS)
def test_ec2_web_instances_run_the_collector_with_the_same_configuration(service, asg, colour):
    data = asg["Resources"][f"LaunchTemplate{colour}"]["Properties"]["LaunchTemplateData"]
    text, variables = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    # The configuration file the collector container reads, then the collector, then the app, both
    # on the host network (the app's 127.0.0.1:4318 is the collector's).
    assert "cat > /etc/otel-collector.yaml <<'COLLECTOR'\n${CollectorConfig}\nCOLLECTOR\n" in text
    collector = text.index("docker run -d --name otel-collector")
    app = text.index("docker run -d --name app")
    assert collector < app
    assert "--network host" in text[collector:app] and '"${CollectorImage}" --config=/etc/otel-collector.yaml' in text
    assert "--network host" in text[app:] and "-p 8000:8000" not in text
    ec2 = _config(variables["CollectorConfig"], SUBSTITUTED)
    assert collector_problems(ec2) == []
    ecs = _config(
        _containers(service, "WebTaskDefinition", service_parameters("orders"))["otel-collector"]["Environment"][0][
            "Value"
        ],
        SUBSTITUTED,
    )
    # The same configuration but where the collector finds out what it runs on.
    assert ec2["processors"]["resourcedetection"]["detectors"] == ["env", "ec2"]
    assert ecs["processors"]["resourcedetection"]["detectors"] == ["env", "ecs"]
    ec2["processors"].pop("resourcedetection")
    ecs["processors"].pop("resourcedetection")
    assert ec2 == ecs
    environment = ec2_environment(asg, colour, service_parameters("orders"))
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"


def test_tasks_of_a_service_on_ec2_keep_their_collector(service):
    # WebPlatform=ec2 drops the web service, not the worker's and scheduler's collectors.
    parameters = service_parameters("catalog", WebPlatform="ec2")
    for task in ("WorkerTaskDefinition", "SchedulerTaskDefinition"):
        assert exists(service, service["Resources"][task], parameters)
        assert "otel-collector" in _containers(service, task, parameters)
    assert not any(
        exists(service, resource, parameters)
        and resource["Properties"]["TaskDefinition"] == {"Ref": "WebTaskDefinition"}
        for resource in resources(service, "AWS::ECS::Service").values()
    )
