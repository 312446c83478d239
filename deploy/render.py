#!/usr/bin/env python3
"""Renders the per-service parts of the CloudFormation templates from the service registry
(config/services.py) and the services' event declarations (apps/<svc>/contracts/events.py):

    python deploy/render.py           # rewrite the generated blocks in deploy/cloudformation/*.yaml
    python deploy/render.py --check   # exit 1 if any generated block is out of date (CI)
    python deploy/render.py --profile small-shop --out DIR
                                      # each stack of a cost profile (deploy/profiles/*.json) as
                                      # deployed: the template with the profile's values as its
                                      # defaults, one file per stack (scripts/check-deploy lints them)

A generated block sits between `# >>> render: NAME [ARG]` and `# <<< render: NAME [ARG]` marker
comments; everything outside the markers is hand-written. Run it after adding a service or changing
a PUBLISHES/SUBSCRIBES declaration. Plain Python: no Django is imported or configured.

This module is the engine (markers, YAML output, --check); the blocks are built by the package
deploy/blocks/, one module per concern (services, environment, containers, alarms, dashboards,
gateway, pipeline).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# The blocks live in the package deploy/blocks/, one module per concern.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from blocks.alarms import deployment_alarms, outbox_alarms, saga_alarms, web_rollback_alarm_names
from blocks.common import ROOT
from blocks.containers import all_in_one_scheduler, container
from blocks.dashboards import dashboard, saga_dashboard, service_dashboard
from blocks.database import database_instance
from blocks.environment import ec2_environment
from blocks.gateway import gateway_routes
from blocks.pipeline import deploy_actions, migrate_actions, release_stacks, web_platform_parameters
from blocks.services import service_names, services_mapping
from blocks.tracing import collector_config, collector_container

TEMPLATES = ROOT / "deploy" / "cloudformation"
PROFILES = ROOT / "deploy" / "profiles"
# A profile's stacks, by its keys; "database" is null where the profile has no shared instance.
PROFILE_STACKS = {
    "network": "network",
    "platform": "platform",
    "database": "database",
    "service": "service",
    "api-gateway": "api-gateway",
    "pipeline": "pipeline",
}

_MARKER = re.compile(
    r"^(?P<indent>[ ]*)# >>> render: (?P<spec>[^\n]+?)[ ]*\n.*?^(?P=indent)# <<< render: (?P=spec)[ ]*$",
    re.MULTILINE | re.DOTALL,
)

BLOCKS: dict[str, Callable[..., Any]] = {
    "services-mapping": services_mapping,
    "service-names": service_names,
    "container": container,
    "collector-container": collector_container,
    "collector-config": collector_config,
    "ec2-environment": ec2_environment,
    "deployment-alarms": deployment_alarms,
    "dashboard": dashboard,
    "service-dashboard": service_dashboard,
    "saga-dashboard": saga_dashboard,
    "saga-alarms": saga_alarms,
    "gateway-routes": gateway_routes,
    "migrate-actions": migrate_actions,
    "deploy-actions": deploy_actions,
    "web-platform-parameters": web_platform_parameters,
    "web-rollback-alarm-names": web_rollback_alarm_names,
    "release-stacks": release_stacks,
    "database-instance": database_instance,
    "all-in-one-scheduler": all_in_one_scheduler,
    "outbox-alarms": outbox_alarms,
}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # CloudFormation rejects YAML aliases
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # lists indented under keys
        super().increase_indent(flow, False)


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Block style for multi-line text; a bare line break (a join delimiter) reads better quoted.
    style = "|" if "\n" in value.strip("\n") else '"' if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render_block(spec: str) -> Any:
    name, *args = spec.split()
    if name not in BLOCKS:
        raise SystemExit(f"render: unknown block {name!r}")
    return BLOCKS[name](*args)


def _dump(value: Any, indent: str) -> str:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return "".join(f"{indent}{line}".rstrip() + "\n" for line in text.splitlines())


def render_text(text: str) -> str:
    def replace(match: re.Match) -> str:
        indent, spec = match["indent"], match["spec"]
        body = _dump(render_block(spec), indent)
        return f"{indent}# >>> render: {spec}\n{body}{indent}# <<< render: {spec}"

    return _MARKER.sub(replace, text)


def render_all() -> dict[Path, tuple[str, str]]:
    """{template: (current text, rendered text)} for every template with generated blocks."""
    results = {}
    for path in sorted(TEMPLATES.glob("*.yaml")):
        current = path.read_text()
        if "# >>> render:" in current:
            results[path] = (current, render_text(current))
    return results


def profile_templates(name: str) -> dict[str, dict]:
    """{file name: template} of every stack profile `name` deploys, each the rendered template with
    the profile's values as its parameters' defaults (a service stack per entry of "services")."""
    from cfnlint.decode import decode  # the deploy tooling's venv has it (cfn-lint)

    profile = json.loads((PROFILES / f"{name}.json").read_text())
    rendered = {}
    for key, template_name in PROFILE_STACKS.items():
        values = profile[key]
        if values is None:
            continue
        template, problems = decode(str(TEMPLATES / f"{template_name}.yaml"))
        if problems:
            raise SystemExit(f"render: {template_name}.yaml does not parse: {problems}")
        template = json.loads(json.dumps(template))
        for service in profile["services"] if key == "service" else [None]:
            stack = json.loads(json.dumps(template))
            for parameter, value in {**values, **({"ServiceName": service} if service else {})}.items():
                if parameter not in stack["Parameters"]:
                    raise SystemExit(f"render: profile {name}: {template_name}.yaml has no parameter {parameter}")
                declared = stack["Parameters"][parameter]
                number = declared["Type"] == "Number" and str(value).isdigit()
                declared["Default"] = int(value) if number else value
            rendered[f"{key}-{service}.json" if service else f"{key}.json"] = stack
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated block is out of date")
    parser.add_argument("--profile", help="write the stacks of this cost profile (deploy/profiles/<name>.json)")
    parser.add_argument("--out", type=Path, help="with --profile: the directory to write them to")
    options = parser.parse_args(argv)
    if options.profile:
        if not options.out:
            parser.error("--profile needs --out")
        options.out.mkdir(parents=True, exist_ok=True)
        for file_name, template in profile_templates(options.profile).items():
            (options.out / file_name).write_text(json.dumps(template, indent=1) + "\n")
        return 0
    stale = []
    for path, (current, rendered) in render_all().items():
        if current == rendered:
            continue
        stale.append(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        if not options.check:
            path.write_text(rendered)
    if options.check and stale:
        print("render: out of date (run `python deploy/render.py`): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    for path in stale:
        print(f"render: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
