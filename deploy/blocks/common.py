"""What every block builds on: the repository's service registry and event declarations, and
helpers for the CloudFormation intrinsics the blocks write. Plain Python: no Django."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.services import SERVICES  # noqa: E402

__all__ = [
    "ALL_IN_ONE_KNOWN",
    "ROOT",
    "SERVICES",
    "SPLIT_KNOWN",
    "only_for",
    "platform_import",
    "ref",
    "specialise",
    "sub",
    "subscribed_event_types",
]


def _declarations() -> ModuleType:
    # Loaded by path: importing the apps.core.events package would pull in Django models.
    path = ROOT / "apps" / "core" / "events" / "declarations.py"
    spec = importlib.util.spec_from_file_location("shopstack_declarations", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subscribed_event_types(service: str) -> list[str]:
    return sorted(_declarations().subscribes(service))


def ref(name: str) -> dict:
    return {"Ref": name}


def sub(text: str, variables: dict | None = None) -> dict:
    return {"Fn::Sub": [text, variables] if variables else text}


def platform_import(export: str) -> dict:
    return {"Fn::ImportValue": sub("${PlatformStackName}-" + export)}


def only_for(service: str, value: Any) -> dict:
    """`value` in the stacks that run `service`, nothing in the others (Is<Service> is a condition
    of the template: in service.yaml it also holds in the all-in-one stack, which runs them all)."""
    return {"Fn::If": [f"Is{service.capitalize()}", value, ref("AWS::NoValue")]}


# What a resource that exists in one shape only knows of service.yaml's conditions: a value
# rendered for it takes that side of each Fn::If (cfn-lint refuses a branch that can never be taken).
SPLIT_KNOWN = {"AllInOne": False, "Split": True}
ALL_IN_ONE_KNOWN = {
    "AllInOne": True,
    "Split": False,
    # The all-in-one task runs every service, none of them on its own.
    **{f"Is{name.capitalize()}": True for name in SERVICES},
    "SealsEvents": True,
    "OrdersAlone": False,
    "CallsCatalogByName": False,
}


def specialise(value: Any, known: dict[str, bool]) -> Any:
    """`value` with every Fn::If on a condition in `known` replaced by its branch for that value
    (an item that becomes AWS::NoValue leaves its list)."""
    if isinstance(value, list):
        items = [specialise(item, known) for item in value]
        return [item for item in items if item != ref("AWS::NoValue")]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        if name in known:
            return specialise(when_true if known[name] else when_false, known)
        # A branch may be AWS::NoValue: it stays.
        return {"Fn::If": [name, specialise(when_true, known), specialise(when_false, known)]}
    return {key: specialise(item, known) for key, item in value.items()}
