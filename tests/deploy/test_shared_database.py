"""The "shared-database" profile (#16, a small shop): the five services' databases on one RDS
instance (database.yaml), still a database per service, each with its own owner role (migrations)
and application role (rows only), both rotated by Secrets Manager as on an instance of its own.
The templates' side here; deploy/migrate.py's side against the real PostgreSQL server below."""

from __future__ import annotations

import copy
import os
import re
import secrets
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from config.services import SERVICES
from tests.deploy.templates import (
    ROOT,
    ec2_environment,
    exists,
    iam_statements,
    load,
    resolve,
    resources,
    service_parameters,
    task_containers,
)

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import entrypoint
    import migrate
finally:
    sys.path.remove(str(ROOT / "deploy"))

SHARED = {"DatabaseStackName": "shopstack-database"}
MASTER_SECRET = {"Fn::ImportValue": {"Fn::Sub": "${DatabaseStackName}-MasterSecretArn"}}
INSTANCE_RESOURCES = {
    "Database",
    "DatabaseSubnetGroup",
    "DatabaseSecurityGroup",
    "DatabaseLogGroup",
    "DatabaseMonitoringRole",
    "DatabaseCpuAlarm",
    "DatabaseFreeStorageAlarm",
    "DatabaseConnectionsAlarm",
}


def _existing(template: dict, parameters: dict) -> dict[str, dict]:
    return {name: r for name, r in resources(template).items() if exists(template, r, parameters)}


def _import(export: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${DatabaseStackName}-" + export}}


# --- the templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_service_stack_on_the_shared_instance_makes_none_of_its_own(service, name):
    own, shared = service_parameters(name), service_parameters(name, **SHARED)
    assert set(_existing(service, own)) >= INSTANCE_RESOURCES
    assert not INSTANCE_RESOURCES & set(_existing(service, shared))
    # Its tasks reach the shared instance, by the database stack's exports.
    for task, container in task_containers(service, shared).items():
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert environment["DATABASE_HOST"] == _import("DatabaseAddress"), task
        assert environment["DATABASE_PORT"] == _import("DatabasePort"), task
        assert environment["DATABASE_NAME"] == name, task
    # Its tasks and its rotation functions (and nobody else) are let in to the shared instance.
    rules = {
        rule_name: resolve(rule["Properties"], service, shared)
        for rule_name, rule in _existing(service, shared).items()
        if rule["Type"] == "AWS::EC2::SecurityGroupIngress"
        and rule["Properties"]["GroupId"] == _import("DatabaseSecurityGroupId")
    }
    assert {rule["SourceSecurityGroupId"]["Ref"] for rule in rules.values()} == {
        "TaskSecurityGroup",
        "RotationSecurityGroup",
    }
    assert all((rule["FromPort"], rule["ToPort"]) == (5432, 5432) for rule in rules.values())
    # Both secrets describe the shared instance (the rotation functions read host and port there).
    for attachment in ("DatabaseSecretAttachment", "AppDatabaseSecretAttachment"):
        target = resolve(service["Resources"][attachment]["Properties"]["TargetId"], service, shared)
        assert target == _import("DatabaseInstanceId")
    assert {"DatabaseAddress", "DatabasePort"} <= {
        output for output, value in service["Outputs"].items() if value.get("Condition") == "OwnDatabase"
    }


def test_only_the_migrate_task_gets_the_shared_instances_master(service):
    for name in SERVICES:
        shared = task_containers(service, service_parameters(name, **SHARED))
        own = task_containers(service, service_parameters(name))
        for task, container in shared.items():
            admin = {s["Name"]: s["ValueFrom"] for s in container["Secrets"] if s["Name"].startswith("DATABASE_ADMIN")}
            expected = (
                {
                    "DATABASE_ADMIN_USER": {"Fn::Sub": ["${Master}:username::", {"Master": MASTER_SECRET}]},
                    "DATABASE_ADMIN_PASSWORD": {"Fn::Sub": ["${Master}:password::", {"Master": MASTER_SECRET}]},
                }
                if task == "MigrateTaskDefinition"
                else {}
            )
            assert admin == expected, (name, task)
        for container in own.values():
            assert not [s for s in container["Secrets"] if s["Name"].startswith("DATABASE_ADMIN")]
    # The execution role may read it only in a stack on the shared instance.
    policy = service["Resources"]["SharedDatabaseMasterAccess"]
    assert policy["Condition"] == "SharedDatabase"
    assert policy["Properties"]["Roles"] == [{"Ref": "ExecutionRole"}]
    ((_, statement),) = [s for s in iam_statements(service) if s[0] == "SharedDatabaseMasterAccess"]
    assert statement["Action"] == "secretsmanager:GetSecretValue" and statement["Resource"] == MASTER_SECRET
    assert not [s for n, s in iam_statements(service) if n == "TaskRole" and "MasterSecretArn" in str(s)]


def test_each_service_keeps_its_roles_and_their_rotation_on_the_shared_instance(service):
    parameters = service_parameters("orders", **SHARED)
    existing = _existing(service, parameters)
    owner = resolve(existing["DatabaseSecret"]["Properties"]["GenerateSecretString"], service, parameters)
    assert owner["SecretStringTemplate"] == {"Fn::Sub": '{"username": "shopstack_${ServiceName}"}'}
    schedules = {
        r["Properties"]["SecretId"]["Ref"]: r["Properties"]["HostedRotationLambda"]
        for r in existing.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    # The owner changes its own password; the application role alternates with its clone, which
    # the owner role (CREATEROLE, the application role's creator) makes: it is the rotation's master.
    assert schedules["DatabaseSecret"]["RotationType"] == "PostgreSQLSingleUser"
    assert schedules["AppDatabaseSecret"]["RotationType"] == "PostgreSQLMultiUser"
    assert schedules["AppDatabaseSecret"]["MasterSecretArn"] == {"Ref": "DatabaseSecret"}


def test_the_shared_instance_is_the_same_block_as_a_services_own(service):
    database = load("database")
    own = resolve(service["Resources"]["Database"], service, service_parameters("orders"))
    shared = resolve(database["Resources"]["Database"], database, {})
    differs = {
        key
        for key in own["Properties"].keys() | shared["Properties"].keys()
        if own["Properties"].get(key) != shared["Properties"].get(key)
    }
    # Its name, its first database (none: each service's migrate creates its own) and its master.
    assert differs == {"DBInstanceIdentifier", "DBName", "MasterUsername", "MasterUserPassword"}
    assert "{{resolve:secretsmanager:${MasterSecret}:" in shared["Properties"]["MasterUsername"]["Fn::Sub"]
    for name in INSTANCE_RESOURCES - {"Database"}:
        assert database["Resources"][name]["Type"] == service["Resources"][name]["Type"], name
    for text in ("database.yaml", "service.yaml"):
        assert "# >>> render: database-instance" in (ROOT / "deploy" / "cloudformation" / text).read_text()


def test_the_shared_instance_admits_only_the_service_stacks_and_its_own_rotation():
    database = load("database")
    group = database["Resources"]["DatabaseSecurityGroup"]["Properties"]
    assert [rule["SourceSecurityGroupId"] for rule in group["SecurityGroupIngress"]] == [
        {"Ref": "RotationSecurityGroup"}
    ]
    assert database["Resources"]["MasterSecretRotation"]["Properties"]["HostedRotationLambda"]["RotationType"] == (
        "PostgreSQLSingleUser"
    )
    assert set(database["Outputs"]) == {
        "DatabaseAddress",
        "DatabasePort",
        "DatabaseInstanceId",
        "DatabaseSecurityGroupId",
        "MasterSecretArn",
    }
    assert all("Export" in output for output in database["Outputs"].values())


@pytest.mark.parametrize(("version", "accepted"), [("15", False), ("16", True), ("17", True), ("16.4", False)])
def test_the_shared_instance_runs_postgresql_16_or_later(version, accepted):
    # From 16 a CREATEROLE role manages only the roles it created: one service's owner role cannot
    # grant itself another service's roles.
    pattern = load("database")["Parameters"]["DbEngineVersion"]["AllowedPattern"]
    assert (re.fullmatch(pattern, version) is not None) is accepted


def test_the_ec2_web_tier_finds_the_shared_instance(asg):
    environment = ec2_environment(
        asg, "Blue", service_parameters("catalog", ServiceStackName="shopstack-catalog", **SHARED)
    )
    assert environment["DATABASE_HOST"] == _import("DatabaseAddress")
    own = ec2_environment(asg, "Blue", service_parameters("catalog", ServiceStackName="shopstack-catalog"))
    assert own["DATABASE_HOST"] == {"Fn::ImportValue": {"Fn::Sub": "${ServiceStackName}-DatabaseAddress"}}


def test_the_check_sees_a_stack_that_keeps_its_instance(service):
    broken = copy.deepcopy(service)
    del broken["Resources"]["Database"]["Condition"]
    assert "Database" in _existing(broken, service_parameters("orders", **SHARED))


# --- deploy/migrate.py on the real PostgreSQL server ----------------------------------------------

URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PREFIX = os.environ.get("TEST_DB_PREFIX", "shopstack")


def _url(user: str, database: str, password: str = "") -> str:
    server = URL.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgres://{user}{':' + password if password else ''}@{server}/{database}"


@pytest.fixture
def instance():
    """A stand-in for the shared instance's master: like RDS's, no superuser, but CREATEROLE and
    CREATEDB. Everything the test makes carries a name of its own and is dropped afterwards."""
    tag = f"{PREFIX}_{secrets.token_hex(3)}"
    master = f"{tag}_master"
    names = {"master": master, "tag": tag, "roles": [master], "databases": []}
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB").format(sql.Identifier(master)))
    yield names
    with psycopg.connect(URL, autocommit=True) as admin:
        for database in names["databases"]:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in reversed(names["roles"]):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _service(instance: dict, service: str) -> tuple[str, str, str]:
    """(database, owner role, application role) of `service` on the test instance."""
    database, owner = f"{instance['tag']}_{service}", f"{instance['tag']}_{service}_owner"
    app = f"{owner}_app"
    instance["databases"].append(database)
    instance["roles"] += [owner, app, f"{app}_clone"]
    return database, owner, app


def _connects(user: str, database: str) -> bool:
    try:
        with psycopg.connect(_url(user, database), autocommit=True):
            return True
    except psycopg.OperationalError as error:
        assert "permission denied" in str(error), error
        return False


def test_the_migrate_task_creates_the_services_database_and_owner_once(instance):
    database, owner, _ = _service(instance, "orders")
    admin_url = _url(instance["master"], "postgres")
    migrate.database_provision(admin_url, owner_url=_url(owner, database, "owner-password"))
    with psycopg.connect(URL, autocommit=True) as server:
        row = server.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, 'CONNECT')"
            " FROM pg_database WHERE datname = %s",
            (database,),
        ).fetchone()
        assert row == (owner, False)
        role = server.execute(
            "SELECT rolcanlogin, rolcreaterole, rolcreatedb, rolsuper, rolpassword FROM pg_authid WHERE rolname = %s",
            (owner,),
        ).fetchone()
        assert role[:4] == (True, True, False, False)
        # A second run (every release migrates) creates nothing and keeps the rotated password.
        migrate.database_provision(admin_url, owner_url=_url(owner, database, "another-password"))
        assert server.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (owner,)).fetchone() == (role[4],)
    # The owner migrates (creates tables in its database's public schema).
    with psycopg.connect(_url(owner, database), autocommit=True) as connection:
        connection.execute("CREATE TABLE t (id int)")


def test_services_on_the_shared_instance_cannot_reach_each_others_database(instance):
    admin_url = _url(instance["master"], "postgres")
    services = {name: _service(instance, name) for name in ("orders", "payments")}
    for database, owner, app in services.values():
        migrate.database_provision(admin_url, owner_url=_url(owner, database, "owner-password"))
        with psycopg.connect(_url(owner, database), autocommit=True) as connection:
            connection.execute("CREATE TABLE t (id int)")
            migrate.app_role_ensure(connection, role=app, password="app-password")
    (orders_db, orders_owner, orders_app), (payments_db, payments_owner, payments_app) = services.values()
    assert _connects(orders_owner, orders_db) and _connects(orders_app, orders_db)
    assert not _connects(orders_owner, payments_db) and not _connects(orders_app, payments_db)
    assert not _connects(payments_owner, orders_db) and not _connects(payments_app, orders_db)


def test_the_owner_role_can_rotate_the_application_role(instance):
    """What Secrets Manager's multi-user rotation does with the owner's secret as its master."""
    database, owner, app = _service(instance, "catalog")
    migrate.database_provision(_url(instance["master"], "postgres"), owner_url=_url(owner, database, "pw"))
    with psycopg.connect(_url(owner, database), autocommit=True) as connection:
        connection.execute("CREATE TABLE t (id int)")
        migrate.app_role_ensure(connection, role=app, password="app-password")
        connection.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD 'clone'").format(sql.Identifier(f"{app}_clone")))
        connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(app), sql.Identifier(f"{app}_clone")))
        connection.execute(sql.SQL("ALTER USER {} WITH PASSWORD 'next'").format(sql.Identifier(app)))
    with psycopg.connect(_url(f"{app}_clone", database), autocommit=True) as clone:
        clone.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            clone.execute("DROP TABLE t")


def test_a_missing_owner_without_a_password_stops_the_release(instance):
    database, owner, _ = _service(instance, "users")
    with pytest.raises(SystemExit, match="DATABASE_PASSWORD"):
        migrate.database_provision(_url(instance["master"], "postgres"), owner_url=_url(owner, database))


def test_the_entrypoint_gives_migrate_the_master_on_the_maintenance_database():
    prepared = entrypoint.prepare_environment(
        {
            "DATABASE_HOST": "db.internal",
            "DATABASE_NAME": "orders",
            "DATABASE_USER": "shopstack_orders",
            "DATABASE_PASSWORD": "owner:pw",
            "DATABASE_ADMIN_USER": "shopstack_master",
            "DATABASE_ADMIN_PASSWORD": "m@ster/pw",
        }
    )
    assert "DATABASE_ADMIN_PASSWORD" not in prepared and "DATABASE_PASSWORD" not in prepared
    assert prepared["DATABASE_URL"] == "postgres://shopstack_orders:owner%3Apw@db.internal:5432/orders?sslmode=require"
    assert prepared["DATABASE_ADMIN_URL"] == (
        "postgres://shopstack_master:m%40ster%2Fpw@db.internal:5432/postgres?sslmode=require"
    )
    assert "DATABASE_ADMIN_URL" not in entrypoint.prepare_environment({"DATABASE_HOST": "db.internal"})


def test_the_migrate_role_on_a_shared_instance_end_to_end(instance):
    """`SERVICE=notifications entrypoint.py migrate` as the task runs it: the database and owner
    made by the master, every migration applied by the owner, the application role granted."""
    database, owner, app = _service(instance, "notifications")
    server = URL.split("@", 1)[1].rsplit("/", 1)[0]
    host, _, port = server.partition(":")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DATABASE", "DJANGO"))},
        "SERVICE": "notifications",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_HOST": host,
        "DATABASE_PORT": port or "5432",
        "DATABASE_NAME": database,
        "DATABASE_SSLMODE": "disable",
        "DATABASE_USER": owner,
        "DATABASE_PASSWORD": "owner-password",
        "DATABASE_ADMIN_USER": instance["master"],
        "DATABASE_ADMIN_PASSWORD": "master-password",
        "DATABASE_APP_ROLE": app,
        "DATABASE_APP_PASSWORD": "app-password",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "entrypoint.py"), "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"created the database {database}, owned by {owner}" in result.stdout
    with psycopg.connect(_url(app, database), autocommit=True) as connection:
        applied = connection.execute("SELECT count(*) FROM django_migrations WHERE app = 'notifications'").fetchone()
        assert applied[0] >= 5
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", (owner,)
        ).fetchone()
        assert tables[0] > 10
