"""ECS Exec can be switched on (EnableExec) without giving up the read-only root filesystem: the
agent writes to volumes of its own, and only then does the task role get Session Manager's
channels (#16, 13)."""

from __future__ import annotations

from tests.deploy.templates import load, resources


def test_exec_is_a_switch_off_by_default_on_every_ecs_service():
    service = load("service")
    assert service["Parameters"]["EnableExec"]["Default"] == "false"
    for ecs_service in resources(service, "AWS::ECS::Service").values():
        assert ecs_service["Properties"]["EnableExecuteCommand"] == {"Fn::If": ["ExecEnabled", True, False]}


def test_the_agent_gets_writable_volumes_and_the_root_filesystem_stays_read_only():
    service = load("service")
    for task in resources(service, "AWS::ECS::TaskDefinition").values():
        volumes = {volume["Name"] for volume in task["Properties"]["Volumes"]}
        container = task["Properties"]["ContainerDefinitions"][0]
        mounts = {mount["ContainerPath"]: mount for mount in container["MountPoints"]}
        assert {"ssm-agent-state", "ssm-agent-logs"} <= volumes
        for path, volume in (("/var/lib/amazon", "ssm-agent-state"), ("/var/log/amazon", "ssm-agent-logs")):
            assert mounts[path]["SourceVolume"] == volume and mounts[path]["ReadOnly"] is False
        assert container["ReadonlyRootFilesystem"] is True


def test_session_manager_channels_only_when_exec_is_on():
    service = load("service")
    policy = service["Resources"]["ExecPolicy"]
    assert policy["Condition"] == "ExecEnabled"
    assert policy["Properties"]["Roles"] == [{"Ref": "TaskRole"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {action.split(":")[0] for action in statement["Action"]} == {"ssmmessages"}
    runtime = str(service["Resources"]["RuntimePolicy"])
    assert "ssmmessages" not in runtime
