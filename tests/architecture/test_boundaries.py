"""The service boundaries hold, and the checks that guard them can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import models
from django.test.utils import isolate_apps

from apps.core.checks import cross_service_relations

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for name in ("apps", "config"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "statement", "broken_contract"),
    [
        ("apps/orders/bad_import.py", "from apps.catalog import models\n", "independent"),
        (
            "apps/orders/bad_import.py",
            "def f():\n    from apps.payments.models import OutboxEvent\n",
            "independent",
        ),
        ("apps/catalog/contracts/bad_import.py", "import django.db\n", "no Django"),
        ("apps/core/bad_import.py", "import apps.users.models\n", "imports no service"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(project_copy, module, statement, broken_contract):
    (project_copy / module).write_text(statement)
    result = _lint_imports(project_copy)
    assert result.returncode != 0
    assert broken_contract in result.stdout and "BROKEN" in result.stdout


def test_importing_another_services_contract_is_allowed(project_copy):
    (project_copy / "apps/orders/uses_contract.py").write_text("from apps.catalog.contracts import events\n")
    result = _lint_imports(project_copy)
    assert result.returncode == 0, result.stdout


def test_no_model_relates_to_another_service():
    assert cross_service_relations() == []


@isolate_apps("apps.orders")
def test_a_foreign_key_into_another_service_is_reported():
    class OrderLineWithProduct(models.Model):
        outbox = models.ForeignKey("catalog.OutboxEvent", on_delete=models.CASCADE)

        class Meta:
            app_label = "orders"

    errors = cross_service_relations([OrderLineWithProduct])
    assert [error.id for error in errors] == ["core.E001"]
    assert "catalog.OutboxEvent" in errors[0].msg
