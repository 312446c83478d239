"""The application connects as its own database role, rotated by Secrets Manager (alternating
users); only migrations get the owner's credentials, themselves rotated in place (#16, 10)."""

from __future__ import annotations

from tests.deploy.templates import TEMPLATES, load, resources

APP_TASKS = ("WebTaskDefinition", "WorkerTaskDefinition", "SchedulerTaskDefinition")


def _secrets(template: dict, task: str) -> dict[str, object]:
    container = template["Resources"][task]["Properties"]["ContainerDefinitions"][0]
    return {item["Name"]: item["ValueFrom"] for item in container["Secrets"] if "Name" in item}


def _environment(template: dict, task: str) -> dict[str, object]:
    container = template["Resources"][task]["Properties"]["ContainerDefinitions"][0]
    return {item["Name"]: item["Value"] for item in container["Environment"] if "Name" in item}


def test_app_tiers_connect_as_the_app_role_and_only_migrate_as_the_owner():
    service = load("service")
    for task in APP_TASKS:
        secrets = _secrets(service, task)
        assert secrets["DATABASE_USER"] == {"Fn::Sub": "${AppDatabaseSecret}:username::"}
        assert secrets["DATABASE_PASSWORD"] == {"Fn::Sub": "${AppDatabaseSecret}:password::"}
        assert "DATABASE_APP_PASSWORD" not in secrets
    migrate = _secrets(service, "MigrateTaskDefinition")
    assert migrate["DATABASE_USER"] == {"Fn::Sub": "${DatabaseSecret}:username::"}
    assert migrate["DATABASE_APP_PASSWORD"] == {"Fn::Sub": "${AppDatabaseSecret}:password::"}
    assert _environment(service, "MigrateTaskDefinition")["DATABASE_APP_ROLE"] == {
        "Fn::Sub": "shopstack_${ServiceName}_app"
    }
    # The app secret names the same role migrate creates, and the master the rotation logs in as.
    template = service["Resources"]["AppDatabaseSecret"]["Properties"]["GenerateSecretString"]
    assert template["SecretStringTemplate"] == {
        "Fn::Sub": '{"username": "shopstack_${ServiceName}_app", "masterarn": "${DatabaseSecret}"}'
    }


def test_both_database_secrets_are_rotated_by_the_hosted_rotation():
    service = load("service")
    assert service["Transform"] == "AWS::SecretsManager-2020-07-23"
    schedules = {
        props["SecretId"]["Ref"]: props
        for props in (r["Properties"] for r in resources(service, "AWS::SecretsManager::RotationSchedule").values())
    }
    assert schedules["AppDatabaseSecret"]["HostedRotationLambda"]["RotationType"] == "PostgreSQLMultiUser"
    assert schedules["AppDatabaseSecret"]["HostedRotationLambda"]["MasterSecretArn"] == {"Ref": "DatabaseSecret"}
    assert schedules["DatabaseSecret"]["HostedRotationLambda"]["RotationType"] == "PostgreSQLSingleUser"
    for props in schedules.values():
        assert props["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
        # The app role exists only after the first migrate: no rotation at creation.
        assert props["RotateImmediatelyOnUpdate"] is False
    # No secret of the stack is left without rotation but the Django key (rotated by a release).
    secrets = set(resources(service, "AWS::SecretsManager::Secret"))
    assert secrets - set(schedules) == {"AppSecret"}


def test_every_tier_is_redeployed_well_within_the_credentials_lifetime():
    service = load("service")
    schedules = resources(service, "AWS::Scheduler::Schedule")
    targets = {
        props["Target"]["Input"]["Fn::Sub"][0].split('"Service": "${')[1].split(".Name")[0]
        for props in (s["Properties"] for s in schedules.values())
    }
    assert targets == {"WebService", "WorkerService", "SchedulerService"}
    # A task's credentials stay valid at least one rotation period (30 days) after the next rotation.
    assert all(s["Properties"]["ScheduleExpression"] == "rate(14 days)" for s in schedules.values())


def test_the_ec2_web_tier_reads_the_app_secret_not_the_owners():
    text = (TEMPLATES / "service-asg.yaml").read_text()
    assert "-AppDatabaseSecretArn" in text and "-DatabaseSecretArn" not in text
