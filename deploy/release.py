#!/usr/bin/env python3
"""The pipeline's release steps for a service stack (service.yaml), stdlib and the AWS CLI only:

    python deploy/release.py files --image <uri:tag>                                   # Build stage
    python deploy/release.py scan --image <uri:tag> [--fail-on CRITICAL,HIGH]         # Build stage
    python deploy/release.py migrate --stack-name shopstack-<svc> --image <uri:tag> --cluster <c>
    python deploy/release.py deploy --stack-name shopstack-<svc> --image <uri:tag>

The service stack is the only owner of its task definitions and services; the pipeline and the
stack agree on one value, the stack's ImageTag parameter:

- files: imageDetail.json (the image the Build stage pushed), read by the later stages;
- scan: waits for ECR's scan on push of the image and stops the release on a CRITICAL or HIGH
  finding (--fail-on);
- migrate: runs the service's migrations with the new image before anything else moves, as a
  one-off task registered from the stack's own migrate task definition (its MigrateTaskDefinition
  output, never "the latest revision" of a family another environment may share) in a family of
  its own that no service runs, deregistered afterwards. It waits as long as the migration runs
  (no waiter cap; the CodeBuild timeout bounds it), and a retry that finds a migration still
  running waits for that one instead of starting a second (deploy/migrate.py also holds an
  advisory lock around `migrate`, with lock and statement timeouts);
- deploy: a stack update that keeps the template and every other parameter and sets ImageTag.
  CloudFormation updates the worker and scheduler first, then the web tier (ECS blue/green with
  alarm rollback); a failed deployment rolls the whole update back, to the previous ImageTag,
  whose image the previous release pushed. With --image, the released image then gets a
  released-<stack>-<time> tag, which the repository's lifecycle policy never expires first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from release_ec2 import ReleaseError, Runner, Stack, aws

CONTAINER = "app"
# The one-off migrate tasks this script starts carry this tag (ecs list-tasks --started-by).
STARTED_BY = "pipeline-migrate"
POLL_SECONDS = 15
# Tags of images a stack has run (deploy/cloudformation/platform.yaml's lifecycle policy keeps them).
RELEASED_TAG_PREFIX = "released-"
# The family of the one-off migrate revisions: not the stack's, so no revision the stack does not
# know ever appears in a family it owns.
RELEASE_FAMILY_SUFFIX = "-release"
# Fields describe-task-definition returns that register-task-definition does not accept.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


def registrable(described: dict, *, image: str) -> dict:
    """A task definition from describe-task-definition, ready to register with `image` in the
    release family."""
    taskdef = described.get("taskDefinition", described)
    taskdef = {key: value for key, value in taskdef.items() if key not in READ_ONLY_FIELDS}
    taskdef["family"] += RELEASE_FAMILY_SUFFIX
    for container in taskdef["containerDefinitions"]:
        if container["name"] == CONTAINER:
            container["image"] = image
    return taskdef


def write_files(*, image: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    detail = out / "imageDetail.json"
    detail.write_text(json.dumps({"ImageURI": image}))
    return [detail]


def image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


class Migration:
    """One service's migrations as a one-off ECS task on the cluster."""

    def __init__(self, stack: Stack, *, cluster: str, run: Runner = aws, sleep: Callable[[float], None] = time.sleep):
        self.stack, self.cluster, self.run, self.sleep = stack, cluster, run, sleep

    def _json(self, args: list[str]) -> dict:
        return json.loads(self.run([*args, "--output", "json"]))

    def running(self, family: str) -> str | None:
        """A migrate task of this release family still running (a retried action), if any."""
        arns = self._json(
            ["ecs", "list-tasks", "--cluster", self.cluster, "--started-by", STARTED_BY, "--desired-status", "RUNNING"]
        )["taskArns"]
        if not arns:
            return None
        tasks = self._json(["ecs", "describe-tasks", "--cluster", self.cluster, "--tasks", *arns])["tasks"]
        for task in tasks:
            if task["taskDefinitionArn"].split("/")[-1].rsplit(":", 1)[0] == family:
                return task["taskArn"]
        return None

    def start(self, *, image: str) -> tuple[str, str]:
        """Registers the release revision and starts it; (task ARN, task definition ARN)."""
        outputs = self.stack.describe()["outputs"]
        described = self._json(
            ["ecs", "describe-task-definition", "--task-definition", outputs["MigrateTaskDefinition"]]
        )
        taskdef = registrable(described, image=image)
        registered = self._json(["ecs", "register-task-definition", "--cli-input-json", json.dumps(taskdef)])
        taskdef_arn = registered["taskDefinition"]["taskDefinitionArn"]
        # The worker's network (the all-in-one stack's one service's); a stack from before the
        # NetworkServiceName output names its worker only.
        service = outputs.get("NetworkServiceName") or outputs["WorkerServiceName"]
        network = self._json(["ecs", "describe-services", "--cluster", self.cluster, "--services", service])[
            "services"
        ][0]["networkConfiguration"]
        started = self._json(
            [
                "ecs",
                "run-task",
                "--cluster",
                self.cluster,
                "--launch-type",
                "FARGATE",
                "--task-definition",
                taskdef_arn,
                "--network-configuration",
                json.dumps(network),
                "--started-by",
                STARTED_BY,
            ]
        )
        return started["tasks"][0]["taskArn"], taskdef_arn

    def wait(self, task_arn: str) -> int:
        """The exit code of the migrate container, however long the migration runs."""
        while True:
            task = self._json(["ecs", "describe-tasks", "--cluster", self.cluster, "--tasks", task_arn])["tasks"][0]
            if task["lastStatus"] == "STOPPED":
                container = next(c for c in task["containers"] if c["name"] == CONTAINER)
                if "exitCode" not in container:
                    raise ReleaseError(f"migration {task_arn} stopped without running: {task.get('stoppedReason')}")
                return int(container["exitCode"])
            self.sleep(POLL_SECONDS)

    def migrate(self, *, image: str) -> None:
        outputs = self.stack.describe()["outputs"]
        family = outputs["MigrateTaskFamily"] + RELEASE_FAMILY_SUFFIX
        task_arn = self.running(family)
        if task_arn:
            print(f"release: a migration is still running ({task_arn}); waiting for it", flush=True)
            exit_code = self.wait(task_arn)
            if exit_code != 0:
                raise ReleaseError(f"the running migration failed (exit {exit_code})")
        task_arn, taskdef_arn = self.start(image=image)
        print(f"release: migrating with {image} ({task_arn})", flush=True)
        try:
            exit_code = self.wait(task_arn)
        finally:
            self.run(["ecs", "deregister-task-definition", "--task-definition", taskdef_arn])
        if exit_code != 0:
            raise ReleaseError(f"migration failed (exit {exit_code})")
        print("release: migrations applied", flush=True)


def scan_gate(image: str, *, fail_on: set[str], run: Runner = aws) -> dict[str, int]:
    """Waits for ECR's scan of `image` (scan on push) and fails on a finding of a severity in
    `fail_on`; the severity counts."""
    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    image_id = f"imageTag={tag}"
    run(["ecr", "wait", "image-scan-complete", "--repository-name", repository, "--image-id", image_id])
    findings = json.loads(
        run(
            [
                "ecr",
                "describe-image-scan-findings",
                "--repository-name",
                repository,
                "--image-id",
                image_id,
                "--output",
                "json",
            ]
        )
    )
    counts = findings.get("imageScanFindings", {}).get("findingSeverityCounts", {})
    blocking = {severity: count for severity, count in counts.items() if severity in fail_on and count}
    print(f"release: scan of {image}: {json.dumps(counts, sort_keys=True)}", flush=True)
    if blocking:
        raise ReleaseError(
            f"the image has {json.dumps(blocking, sort_keys=True)} findings; fix them or release another image"
        )
    return counts


def deploy(stack: Stack, *, image_tag: str) -> None:
    """The stack update that releases `image_tag` to every tier of the service."""
    stack.update({"ImageTag": image_tag})


def mark_released(image: str, *, stack_name: str, run: Runner = aws, now: datetime | None = None) -> str:
    """Adds a `released-<stack>-<UTC time>` tag to the image a stack now runs (a new tag on the same
    manifest: tags stay immutable). The repository's lifecycle policy keeps images with such a tag
    before any other rule may expire them, so an image a stack runs, or rolls back to, is never
    expired by newer pushes (of this or another environment). Returns the tag."""
    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    found = json.loads(
        run(
            [
                "ecr",
                "batch-get-image",
                "--repository-name",
                repository,
                "--image-ids",
                f"imageTag={tag}",
                "--output",
                "json",
            ]
        )
    )["images"][0]
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    released = f"{RELEASED_TAG_PREFIX}{stack_name}-{stamp}"
    run(
        [
            "ecr",
            "put-image",
            "--repository-name",
            repository,
            "--image-tag",
            released,
            "--image-manifest",
            found["imageManifest"],
            "--image-manifest-media-type",
            found["imageManifestMediaType"],
        ]
    )
    print(f"release: {image} tagged {released}", flush=True)
    return released


def main(argv: list[str] | None = None, run: Runner = aws, sleep: Callable[[float], None] = time.sleep) -> int:
    parser = argparse.ArgumentParser(description="Release steps of a service stack.")
    parser.add_argument("command", choices=["files", "scan", "migrate", "deploy"])
    parser.add_argument("--image", help="<repository>:<tag> (files, migrate)")
    parser.add_argument("--image-tag", help="deploy: the tag to release")
    parser.add_argument("--stack-name", help="migrate, deploy: the service stack")
    parser.add_argument("--cluster", help="migrate: the ECS cluster")
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument(
        "--fail-on", default="CRITICAL,HIGH", help="scan: comma-separated severities that stop the release"
    )
    options = parser.parse_args(argv)
    try:
        if options.command == "files":
            for path in write_files(image=options.image, out=options.out):
                print(f"release: wrote {path}")
        elif options.command == "scan":
            scan_gate(options.image, fail_on=set(options.fail_on.split(",")), run=run)
        elif options.command == "migrate":
            Migration(Stack(options.stack_name, run), cluster=options.cluster, run=run, sleep=sleep).migrate(
                image=options.image
            )
        else:
            deploy(Stack(options.stack_name, run), image_tag=options.image_tag or image_tag(options.image))
            if options.image:
                mark_released(options.image, stack_name=options.stack_name, run=run)
    except subprocess.CalledProcessError as error:
        print(f"release: failed: {' '.join(map(str, error.cmd))}\n{error.stderr or ''}", file=sys.stderr)
        return 1
    except ReleaseError as error:
        print(f"release: failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
