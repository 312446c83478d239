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

__all__ = ["ROOT", "SERVICES", "only_for", "platform_import", "ref", "sub", "subscribed_event_types"]


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
    """`value` in the stack of `service`, nothing in the others (Is<Service> is a condition of the
    template)."""
    return {"Fn::If": [f"Is{service.capitalize()}", value, ref("AWS::NoValue")]}
