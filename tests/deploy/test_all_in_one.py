"""The "all-in-one" profile (#16, a small shop): the all-in-one shape as one ECS service, rendered
from the same service.yaml (ServiceName all). One task runs every service's web in one process
(SERVICE=all) and, beside it, the scheduler doing every service's periodic work in its own
process; no queue, no worker (events and tasks run in the process); one database per service on
one PostgreSQL instance, the application connecting as its own role."""

from __future__ import annotations

import copy
import os
import secrets
import subprocess
import sys

import psycopg
import pytest
from celery.beat import ScheduleEntry
from django.test import override_settings
from psycopg import sql

from config.services import SERVICES
from tests.deploy.templates import (
    ROOT,
    exists,
    foreign_role_resources,
    listener_rules,
    resolve,
    resources,
    secret_arn,
    service_parameters,
)

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import entrypoint
finally:
    sys.path.remove(str(ROOT / "deploy"))

ALL = "all"


def all_in_one_parameters(**overrides: str) -> dict[str, str]:
    """Every secret the five services need, as deploy/README.md deploys the all-in-one stack."""
    parameters = {
        **service_parameters("users"),
        **service_parameters("payments"),
        **service_parameters("notifications"),
        "EventSealingKeysSecretArn": secret_arn("shopstack/event-sealing-keys"),
        "ServiceName": ALL,
    }
    return {**parameters, **overrides}


def _existing(template: dict, parameters: dict) -> dict[str, dict]:
    return {name: r for name, r in resources(template).items() if exists(template, r, parameters)}


def _task(template: dict, parameters: dict, name: str = "WebTaskDefinition") -> dict[str, dict]:
    """{container name: container} of a task definition, resolved."""
    task = resolve(template["Resources"][name]["Properties"], template, parameters)
    return {container["Name"]: container for container in task["ContainerDefinitions"]}


# --- the template ----------------------------------------------------------------------------------


def test_the_all_in_one_stack_is_one_ecs_service(service):
    parameters = all_in_one_parameters()
    existing = _existing(service, parameters)
    assert [name for name, r in existing.items() if r["Type"] == "AWS::ECS::Service"] == ["WebService"]
    assert {name for name, r in existing.items() if r["Type"] == "AWS::ECS::TaskDefinition"} == {
        "WebTaskDefinition",
        "MigrateTaskDefinition",
    }
    # No queue, no subscription, no worker scaling: events and tasks run in the process.
    kinds = {r["Type"] for r in existing.values()}
    assert not kinds & {"AWS::SQS::Queue", "AWS::SNS::Subscription", "AWS::SQS::QueuePolicy"}
    assert [name for name, r in existing.items() if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"] == [
        "WebScalableTarget"
    ]
    # Released like any web tier: ECS blue/green with the deployment alarms.
    web = resolve(existing["WebService"]["Properties"], service, parameters)
    assert web["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert web["DeploymentConfiguration"]["Alarms"]["Rollback"] is True


def test_one_task_runs_every_services_web_and_their_periodic_work(service):
    containers = _task(service, all_in_one_parameters())
    assert set(containers) == {"app", "scheduler", "otel-collector"}
    app, scheduler = containers["app"], containers["scheduler"]
    assert (app["Command"], scheduler["Command"]) == (["web"], ["beat"])
    for container in (app, scheduler):
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert environment["SERVICE"] == ALL  # deploy/entrypoint.py: every service, one process
        assert environment["DATABASE_NAME"] == "shopstack"
        assert environment["CELERY_BROKER_URL"] == "memory://"
        # Orders calls catalog in its own task, on the loopback it answers to.
        assert environment["CATALOG_API_URL"] == "http://127.0.0.1:8000"
        assert environment["DJANGO_ALLOWED_HOSTS"] == {"Fn::Sub": "${AllowedHosts},127.0.0.1"}
        # Every service's own settings and secrets, each once.
        names = [item["Name"] for item in container["Secrets"]]
        assert len(names) == len(set(names))
        assert {"JWT_PRIVATE_KEY", "EVENT_SEALING_KEYS", "PAYMENTS_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"} <= set(names)
        assert {"AWS_S3_CUSTOM_DOMAIN", "DEFAULT_FROM_EMAIL", "PAYMENTS_PROVIDER"} <= set(environment)
        assert "DATABASE_ADMIN_USER" not in names
    # The scheduler never takes the web down: restarted in place when it exits, its hang caught by
    # the outbox alarm (no sweep reports).
    assert app["Essential"] is True and scheduler["Essential"] is False
    assert scheduler["RestartPolicy"]["Enabled"] is True
    assert scheduler["HealthCheck"]["Command"] == ["CMD", "python", "/app/deploy/healthcheck.py"]


def test_the_split_stacks_keep_their_three_tiers(service):
    for name in SERVICES:
        parameters = service_parameters(name)
        assert set(_task(service, parameters)) == {"app", "otel-collector"}
        existing = _existing(service, parameters)
        assert {"WorkerService", "SchedulerService", "Queue", "DeadLetterQueue"} <= set(existing)
        # The web tier still waits for both: through ReleasedTiers, which names their revisions.
        assert existing["WebService"]["DependsOn"] == "ReleasedTiers"
        value = resolve(existing["ReleasedTiers"]["Properties"]["Value"], service, parameters)
        for tier in ("WorkerService.Name", "WorkerTaskDefinition", "SchedulerService.Name", "SchedulerTaskDefinition"):
            assert "${" + tier + "}" in value["Fn::Sub"]


def test_the_load_balancer_sends_every_service_path_to_the_one_service(service):
    rules = listener_rules(service, all_in_one_parameters())
    patterns = sorted(value for rule in rules.values() for values in rule["conditions"] for value in values)
    assert patterns == ["/.well-known/*", "/admin/*", "/api/*", "/static/*"]
    split_priorities = {
        rule["priority"] for name in SERVICES for rule in listener_rules(service, service_parameters(name)).values()
    }
    assert not {rule["priority"] for rule in rules.values()} & split_priorities


def test_the_task_role_has_no_queue_or_topic_and_only_catalogs_media(service):
    parameters = all_in_one_parameters()
    policy = resolve(service["Resources"]["RuntimePolicy"]["Properties"]["PolicyDocument"], service, parameters)
    by_sid = {statement.get("Sid"): statement for statement in policy["Statement"]}
    assert "OwnQueue" not in by_sid and "PublishEvents" not in by_sid
    assert by_sid["OwnMediaPrefix"]["Resource"]["Fn::Sub"][0] == "${Bucket}/catalog/*"
    assert by_sid["ListOwnMediaPrefix"]["Condition"] == {"StringLike": {"s3:prefix": "catalog/*"}}
    # SMS to phone numbers (users, notifications), never to a topic.
    assert by_sid["SmsOnlyNoTopics"]["Effect"] == "Deny"
    assert foreign_role_resources(service) == []


def test_the_all_in_one_stack_needs_every_services_secrets_and_its_own_instance(service):
    rules = service["Rules"]
    for rule in ("UsersSignsTokens", "PaymentsVerifiesWebhooks", "ServicesSealingEvents", "NotificationsSendsEmail"):
        assert {"Fn::Equals": [{"Ref": "ServiceName"}, ALL]} in rules[rule]["RuleCondition"]["Fn::Or"], rule
    assertions = [item["Assert"] for item in rules["AllInOneOnItsOwn"]["Assertions"]]
    assert {"Fn::Equals": [{"Ref": "WebPlatform"}, "ecs"]} in assertions
    assert {"Fn::Equals": [{"Ref": "DatabaseStackName"}, ""]} in assertions
    assert "Database" in _existing(service, all_in_one_parameters())


def test_its_outbox_alarm_watches_every_service(service):
    parameters = all_in_one_parameters()
    existing = _existing(service, parameters)
    assert "OutboxStuckAlarm" not in existing
    alarm = existing["AllInOneOutboxStuckAlarm"]["Properties"]
    watched = {
        metric["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::Sub"]
        for metric in alarm["Metrics"]
        if "MetricStat" in metric
    }
    assert watched == {f"${{ResourcePrefix}}{name}" for name in SERVICES}
    (expression,) = [metric for metric in alarm["Metrics"] if metric["ReturnData"]]
    assert expression["Expression"].startswith("MAX([")
    assert alarm["TreatMissingData"] == "breaching" and alarm["Threshold"] == 300


def test_the_pipeline_releases_the_all_in_one_stack_alone(pipeline):
    def actions(stage: str, shape: str) -> list[str]:
        (found,) = [s for s in pipeline["Resources"]["Pipeline"]["Properties"]["Stages"] if s["Name"] == stage]
        return [action["Name"] for action in resolve(found["Actions"], pipeline, {"Shape": shape})]

    assert actions("Migrate", "all-in-one") == ["migrate-all"]
    assert actions("Deploy", "all-in-one") == ["release-all"]
    assert actions("Migrate", "split") == [f"migrate-{name}" for name in SERVICES]
    assert actions("Deploy", "split") == [f"release-{name}" for name in SERVICES]


def test_the_check_sees_a_worker_in_the_all_in_one_stack(service):
    broken = copy.deepcopy(service)
    del broken["Resources"]["WorkerService"]["Condition"]
    services = [
        name for name, r in _existing(broken, all_in_one_parameters()).items() if r["Type"] == "AWS::ECS::Service"
    ]
    assert services != ["WebService"]


def test_its_execution_role_reads_every_services_secrets_its_tasks_get(service):
    parameters = all_in_one_parameters()
    injected = {
        item["ValueFrom"]
        for container in _task(service, parameters).values()
        for item in container.get("Secrets", [])
        if isinstance(item["ValueFrom"], str)
    }
    policies = {"SigningKeyAccess", "WebhookSecretAccess", "StripeSecretsAccess", "SealingKeysAccess"}
    readable = set()
    for name in policies:
        assert exists(service, service["Resources"][name], parameters), name
        document = resolve(service["Resources"][name]["Properties"]["PolicyDocument"], service, parameters)
        for statement in document["Statement"]:
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            readable |= set(targets)
    expected = {
        parameters[name]
        for name in (
            "JwtPrivateKeySecretArn",
            "PaymentsWebhookSecretArn",
            "StripeSecretKeySecretArn",
            "StripeWebhookSecretSecretArn",
            "EventSealingKeysSecretArn",
        )
    }
    assert readable == expected and expected <= injected


# --- the entrypoint and the scheduler --------------------------------------------------------------


def test_service_all_runs_django_all_in_one_on_a_database_per_service():
    prepared = entrypoint.prepare_environment(
        {
            "SERVICE": ALL,
            "DATABASE_HOST": "db.internal",
            "DATABASE_NAME": "shopstack",
            "DATABASE_USER": "shopstack_all_app",
            "DATABASE_PASSWORD": "pw",
        }
    )
    assert "SERVICE" not in prepared  # Django's all-in-one shape
    assert prepared["DATABASE_URL"] == "postgres://shopstack_all_app:pw@db.internal:5432/shopstack?sslmode=require"
    for name in SERVICES:
        assert prepared[f"{name.upper()}_DATABASE_URL"] == (
            f"postgres://shopstack_all_app:pw@db.internal:5432/{name}?sslmode=require"
        )
    assert entrypoint.build_command("web", service=ALL, env={})[0] == "gunicorn"
    assert "beat" in entrypoint.build_command("beat", service=ALL, env={})
    with pytest.raises(entrypoint.EntrypointError, match="no worker"):
        entrypoint.build_command("worker", service=ALL, env={})


def test_the_all_in_one_scheduler_runs_due_tasks_in_its_process(tmp_path, monkeypatch):
    heartbeat = pytest.importorskip("deploy.heartbeat")
    monkeypatch.setattr(heartbeat, "touch", lambda: None)
    ran: list[str] = []

    @heartbeat.app.task(name="tests.deploy.periodic_probe")
    def probe(value: str) -> None:
        ran.append(value)

    sent = []
    monkeypatch.setattr(probe, "apply_async", lambda *args, **kwargs: sent.append(args))
    scheduler = heartbeat.HeartbeatScheduler(app=heartbeat.app, schedule_filename=str(tmp_path / "schedule"))
    try:
        entry = ScheduleEntry(
            name="probe", task="tests.deploy.periodic_probe", schedule=60, args=("x",), app=heartbeat.app
        )
        with override_settings(TASKS_RUN_IN_PROCESS=True):
            result = scheduler.apply_async(entry)
        assert ran == ["x"] and sent == [] and result.successful()
        # Split, beat sends it to the broker (a worker runs it).
        with override_settings(TASKS_RUN_IN_PROCESS=False):
            scheduler.apply_async(entry)
        assert ran == ["x"] and sent == [(["x"], {})]
    finally:
        scheduler.close()


# --- deploy/migrate.py on the real PostgreSQL server ----------------------------------------------

URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def server():
    """A master like RDS's (no superuser; CREATEROLE, CREATEDB) owning a first database, and names
    of this test for the rest; all dropped afterwards."""
    tag = f"{os.environ.get('TEST_DB_PREFIX', 'shopstack')}_{secrets.token_hex(3)}"
    made = {"master": f"{tag}_master", "first": f"{tag}_shopstack", "tag": tag}
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB").format(sql.Identifier(made["master"])))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(made["first"]), sql.Identifier(made["master"]))
        )
    yield made
    with psycopg.connect(URL, autocommit=True) as admin:
        for database in [made["first"], *(f"{tag}_{name}" for name in SERVICES)]:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in (f"{tag}_app", f"{tag}_app_clone", made["master"]):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_all_in_one_migrate_task_end_to_end(server):
    """`SERVICE=all entrypoint.py migrate` as the task runs it, its databases named after the test:
    the services' databases made beside the first, every alias migrated, the application role
    granted rows in each."""
    host_port = URL.split("@", 1)[1].rsplit("/", 1)[0]
    host, _, port = host_port.partition(":")
    tag, app = server["tag"], f"{server['tag']}_app"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DATABASE", "DJANGO", "SERVICE"))},
        "SERVICE": ALL,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_HOST": host,
        "DATABASE_PORT": port or "5432",
        "DATABASE_NAME": server["first"],
        "DATABASE_SSLMODE": "disable",
        "DATABASE_USER": server["master"],
        "DATABASE_PASSWORD": "master-password",
        "DATABASE_APP_ROLE": app,
        "DATABASE_APP_PASSWORD": "app-password",
    }
    prepared = entrypoint.prepare_environment(env)
    # The services' databases carry the test's names (the task's are the services' own names).
    for name in SERVICES:
        prepared[f"{name.upper()}_DATABASE_URL"] = prepared[f"{name.upper()}_DATABASE_URL"].replace(
            f"/{name}?", f"/{tag}_{name}?"
        )
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "migrate.py")],
        cwd=ROOT,
        env=prepared,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in SERVICES:
        assert f"created the database {tag}_{name}" in result.stdout
        with psycopg.connect(URL.rsplit("/", 1)[0] + f"/{tag}_{name}", user=app, autocommit=True) as connection:
            applied = connection.execute("SELECT count(*) FROM django_migrations WHERE app = %s", (name,)).fetchone()
            assert applied[0] >= 1, name
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute("CREATE TABLE mine (id int)")
    with psycopg.connect(URL.rsplit("/", 1)[0] + f"/{server['first']}", user=app, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM django_migrations WHERE app = 'auth'").fetchone()[0] >= 1
