#!/usr/bin/env python3
"""Release files for the pipeline (run in CodeBuild by deploy/buildspec.yml), stdlib only:

    python deploy/release.py files --image <uri:tag> --out release/   # reads task definitions via the AWS CLI
    python deploy/release.py migrate-taskdef --image <uri:tag> < described.json > taskdef.json

- imageDetail.json: the image the CodeDeployToECS actions substitute for <IMAGE1_NAME>;
- imagedefinitions.json: the image for the ECS rolling actions (worker, scheduler: container "app");
- release/<service>/taskdef.json and appspec.yaml: the web task definition as CloudFormation
  last registered it (so the stack stays the source of truth for environment, secrets and
  roles), with the image replaced by the <IMAGE1_NAME> placeholder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.services import SERVICES  # noqa: E402

CONTAINER = "app"
WEB_PORT = 8000
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
    """A task definition from describe-task-definition, ready to register with `image`."""
    taskdef = described.get("taskDefinition", described)
    taskdef = {key: value for key, value in taskdef.items() if key not in READ_ONLY_FIELDS}
    for container in taskdef["containerDefinitions"]:
        if container["name"] == CONTAINER:
            container["image"] = image
    return taskdef


def appspec() -> str:
    # CodeDeploy fills <TASK_DEFINITION> with the revision it registers from taskdef.json.
    return (
        "version: 0.0\n"
        "Resources:\n"
        "  - TargetService:\n"
        "      Type: AWS::ECS::Service\n"
        "      Properties:\n"
        '        TaskDefinition: "<TASK_DEFINITION>"\n'
        "        LoadBalancerInfo:\n"
        f'          ContainerName: "{CONTAINER}"\n'
        f"          ContainerPort: {WEB_PORT}\n"
    )


def _describe(family: str) -> dict:
    output = subprocess.run(
        ["aws", "ecs", "describe-task-definition", "--task-definition", family, "--output", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def write_files(*, image: str, out: Path, describe=_describe) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out.parent / "imageDetail.json", out.parent / "imagedefinitions.json"]
    written[0].write_text(json.dumps({"ImageURI": image}))
    written[1].write_text(json.dumps([{"name": CONTAINER, "imageUri": image}]))
    for name in SERVICES:
        folder = out / name
        folder.mkdir(exist_ok=True)
        taskdef = registrable(describe(f"shopstack-{name}-web"), image="<IMAGE1_NAME>")
        (folder / "taskdef.json").write_text(json.dumps(taskdef, indent=2))
        (folder / "appspec.yaml").write_text(appspec())
        written += [folder / "taskdef.json", folder / "appspec.yaml"]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Release files for the pipeline.")
    parser.add_argument("command", choices=["files", "migrate-taskdef"])
    parser.add_argument("--image", required=True)
    parser.add_argument("--out", type=Path, default=Path("release"))
    options = parser.parse_args(argv)
    if options.command == "files":
        for path in write_files(image=options.image, out=options.out):
            print(f"release: wrote {path}")
    else:
        json.dump(registrable(json.load(sys.stdin), image=options.image), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
