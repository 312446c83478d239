#!/usr/bin/env python3
"""Blue/green release of one service's web tier on EC2 Auto Scaling (service-asg.yaml), stdlib and
the AWS CLI only. The pipeline's web-<service> action runs it (deploy/buildspec-web-ec2.yml) for a
service whose <Service>WebPlatform is ec2, after the Migrate stage; by hand:

    python deploy/release_ec2.py --stack-name shopstack-<service>-web-ec2 --image-tag <tag> \
        [--service-stack shopstack-<service>]

The live colour is the one with the larger weight; the other is idle. The release is a sequence of
stack updates, each keeping the template and every other parameter, each with the stack's
deployment alarms (its RollbackTriggers output) as rollback triggers:

0. only if an earlier release stopped half way (the idle colour still has weight): all traffic
   back to the live colour;
1. the idle colour gets the new image tag, the current Amazon Linux 2023 AMI, the live colour's
   minimum (Capacity) and its current size (DesiredCapacity: what autoscaling has grown it to, read
   from its group); then wait until its instances pass the target group's health check (no
   traffic yet);
2. canary: 10% to it, watched 10 minutes;
3. all traffic to it, watched 10 minutes;
4. the old colour scaled to 0: it is the idle colour of the next release.

An alarm during an update (or its monitoring window) rolls that update back and this script stops
with an error, leaving the stack as the update before it left it.

With --service-stack, the stack first takes the service stack's values of the parameters both
declare (environment, secret ARNs, queue settings, alarm thresholds), so they are set in one place.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable

COLOURS = ("Blue", "Green")
# The AMI a released colour gets, unless --ami-id names one (service-asg.yaml pins it per colour).
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
CANARY_PERCENT = 10
MONITORING_MINUTES = 10
NO_UPDATES = "No updates are to be performed"

Runner = Callable[[list[str]], str]


class ReleaseError(Exception):
    pass


def aws(args: list[str]) -> str:
    """`aws <args>`'s standard output; CalledProcessError (with stderr) when it fails."""
    return subprocess.run(["aws", *args], check=True, capture_output=True, text=True).stdout


def other(colour: str) -> str:
    return COLOURS[1 - COLOURS.index(colour)]


class Stack:
    def __init__(self, name: str, run: Runner = aws) -> None:
        self.name, self.run = name, run

    def describe(self) -> dict:
        output = self.run(["cloudformation", "describe-stacks", "--stack-name", self.name, "--output", "json"])
        stack = json.loads(output)["Stacks"][0]
        return {
            "status": stack["StackStatus"],
            "parameters": {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack["Parameters"]},
            "outputs": {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])},
        }

    def update(self, changes: dict[str, str], *, monitoring_minutes: int = 0) -> None:
        current = self.describe()
        unknown = set(changes) - set(current["parameters"])
        if unknown:
            raise ReleaseError(f"{self.name} has no parameter {', '.join(sorted(unknown))}")
        parameters = [
            {"ParameterKey": key, "ParameterValue": changes[key]}
            if key in changes
            else {"ParameterKey": key, "UsePreviousValue": True}
            for key in current["parameters"]
        ]
        # A service stack (service.yaml) has none: its ECS services roll back on their own alarms.
        arns = [arn for arn in current["outputs"].get("RollbackTriggers", "").split(",") if arn]
        triggers = [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in arns]
        rollback = {"RollbackTriggers": triggers, "MonitoringTimeInMinutes": monitoring_minutes}
        print(f"release: updating {self.name}: {json.dumps(changes, sort_keys=True)}", flush=True)
        try:
            self.run(
                [
                    "cloudformation",
                    "update-stack",
                    "--stack-name",
                    self.name,
                    "--use-previous-template",
                    "--capabilities",
                    "CAPABILITY_IAM",
                    "--parameters",
                    json.dumps(parameters),
                    "--rollback-configuration",
                    json.dumps(rollback),
                ]
            )
        except subprocess.CalledProcessError as error:
            if NO_UPDATES in (error.stderr or ""):
                print(f"release: {self.name} already has these values", flush=True)
                return
            raise
        # Fails (non-zero exit) when the update rolls back, an alarm during monitoring included.
        self.run(["cloudformation", "wait", "stack-update-complete", "--stack-name", self.name])
        status = self.describe()["status"]
        if status != "UPDATE_COMPLETE":
            raise ReleaseError(f"{self.name} ended in {status}")

    def current_size(self, colour: str) -> int:
        group = self.describe()["outputs"][f"{colour}AutoScalingGroupName"]
        output = self.run(
            ["autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group, "--output", "json"]
        )
        return int(json.loads(output)["AutoScalingGroups"][0]["DesiredCapacity"])

    def wait_healthy(self, colour: str) -> None:
        group = self.describe()["outputs"][f"{colour}TargetGroupArn"]
        print(f"release: waiting for the {colour.lower()} instances to pass the health check", flush=True)
        self.run(["elbv2", "wait", "target-in-service", "--target-group-arn", group])


def latest_ami(run: Runner = aws, parameter: str = AMI_PARAMETER) -> str:
    return run(["ssm", "get-parameter", "--name", parameter, "--query", "Parameter.Value", "--output", "text"]).strip()


def sync_from(service: Stack, stack: Stack) -> dict[str, str]:
    """Gives `stack` the service stack's values of every parameter both declare (the environment,
    secret ARNs, queue settings, alarm thresholds): the service stack is where they are set, and
    the web instances must run with what its tasks run with. Returns the changes made."""
    ours, theirs = stack.describe()["parameters"], service.describe()["parameters"]
    if ours.get("ServiceStackName") != service.name or ours.get("ServiceName") != theirs.get("ServiceName"):
        raise ReleaseError(f"{stack.name} is not the web tier of {service.name}")
    changes = {key: theirs[key] for key in sorted(set(ours) & set(theirs)) if ours[key] != theirs[key]}
    if changes:
        print(f"release: {stack.name} takes {', '.join(changes)} from {service.name}", flush=True)
        stack.update(changes)
    return changes


def release(stack: Stack, *, image_tag: str, ami_id: str) -> str:
    """Releases `image_tag` on `ami_id` to the idle colour and moves all traffic to it; returns it."""
    parameters = stack.describe()["parameters"]
    weights = {colour: int(parameters[f"{colour}Weight"]) for colour in COLOURS}
    if weights["Blue"] == weights["Green"]:
        raise ReleaseError(f"both colours weigh {weights['Blue']}: set the live colour's weight to 100 by hand")
    live = max(COLOURS, key=lambda colour: weights[colour])
    idle = other(live)
    capacity = parameters[f"{live}Capacity"]
    if int(capacity) < 1:
        raise ReleaseError(f"the live colour ({live.lower()}) has Capacity {capacity}")
    print(f"release: {live.lower()} is live, releasing {image_tag} ({ami_id}) to {idle.lower()}", flush=True)
    if weights[idle]:
        stack.update({f"{live}Weight": "100", f"{idle}Weight": "0"})
    size = str(max(int(capacity), stack.current_size(live)))
    stack.update(
        {
            f"{idle}ImageTag": image_tag,
            f"{idle}AmiId": ami_id,
            f"{idle}Capacity": capacity,
            f"{idle}DesiredCapacity": size,
        }
    )
    stack.wait_healthy(idle)
    stack.update(
        {f"{live}Weight": str(100 - CANARY_PERCENT), f"{idle}Weight": str(CANARY_PERCENT)},
        monitoring_minutes=MONITORING_MINUTES,
    )
    stack.update({f"{live}Weight": "0", f"{idle}Weight": "100"}, monitoring_minutes=MONITORING_MINUTES)
    stack.update({f"{live}Capacity": "0", f"{live}DesiredCapacity": "0"})
    print(f"release: {idle.lower()} serves {image_tag}; {live.lower()} scaled to 0", flush=True)
    return idle


def main(argv: list[str] | None = None, run: Runner = aws) -> int:
    parser = argparse.ArgumentParser(description="Blue/green release of a web tier on EC2 (service-asg.yaml).")
    parser.add_argument("--stack-name", required=True, help="the service-asg.yaml stack, shopstack-<service>-web-ec2")
    parser.add_argument("--image-tag", required=True)
    parser.add_argument("--ami-id", help=f"default: the current value of {AMI_PARAMETER}")
    parser.add_argument(
        "--service-stack", help="the service stack (shopstack-<service>) whose shared parameters this stack takes first"
    )
    options = parser.parse_args(argv)
    try:
        ami_id = options.ami_id or latest_ami(run)
        stack = Stack(options.stack_name, run)
        if options.service_stack:
            sync_from(Stack(options.service_stack, run), stack)
        release(stack, image_tag=options.image_tag, ami_id=ami_id)
    except subprocess.CalledProcessError as error:
        print(f"release: failed: {' '.join(map(str, error.cmd))}\n{error.stderr or ''}", file=sys.stderr)
        return 1
    except ReleaseError as error:
        print(f"release: failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
