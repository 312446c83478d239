"""Migrations stay backward compatible (issue #16, 5): the migrate step runs before the new code,
so the release still serving runs against the new schema. A migration may add tables, nullable
columns, columns with a database default (db_default) and indexes; it may not remove, rename or
retype what the running release reads, or add a NOT NULL column the running release does not fill.
Such a "contract" step goes in a later release than the code that stopped using the column, and is
listed in CONTRACT_MIGRATIONS with the release it follows.

A static check over every migration of apps/ (no database): the same rules django-migration-linter
applies to the SQL, without adding it to the dependencies."""

from __future__ import annotations

import pytest
from django.db import models
from django.db.migrations import operations
from django.db.migrations.loader import MigrationLoader

# (app label, migration name): why it may break the release before it, i.e. which release stopped
# using what it removes.
CONTRACT_MIGRATIONS: dict[tuple[str, str], str] = {}

BREAKING = (
    operations.RemoveField,
    operations.DeleteModel,
    operations.RenameField,
    operations.RenameModel,
    operations.AlterModelTable,
)


def _loader() -> MigrationLoader:
    return MigrationLoader(None, ignore_no_migrations=True)


def _ours(loader: MigrationLoader) -> list[tuple[str, str]]:
    return sorted(
        key for key, migration in loader.disk_migrations.items() if type(migration).__module__.startswith("apps.")
    )


def _not_null_without_db_default(field: models.Field) -> bool:
    if field.many_to_many or field.null:
        return False
    return getattr(field, "db_default", models.NOT_PROVIDED) is models.NOT_PROVIDED


def incompatibilities(loader: MigrationLoader, key: tuple[str, str]) -> list[str]:
    migration = loader.disk_migrations[key]
    if getattr(migration, "initial", False):
        return []
    state = loader.project_state(key, at_end=False)
    # Tables this migration creates: no running code uses them yet, so anything goes on them.
    created = {op.name_lower for op in migration.operations if isinstance(op, operations.CreateModel)}
    problems = []
    for operation in migration.operations:
        if getattr(operation, "model_name_lower", None) not in created:
            problems += _operation_problems(operation, state, key[0])
        state = state.clone()
        operation.state_forwards(key[0], state)
    return problems


def _operation_problems(operation: operations.base.Operation, state, app: str) -> list[str]:
    if isinstance(operation, BREAKING):
        return [f"{type(operation).__name__} {operation.describe()}"]
    if isinstance(operation, operations.AddField) and _not_null_without_db_default(operation.field):
        return [f"AddField {operation.model_name}.{operation.name}: NOT NULL without db_default"]
    if not isinstance(operation, operations.AlterField):
        return []
    old, new = state.models[app, operation.model_name_lower].fields[operation.name], operation.field
    problems = []
    if old.null and not new.null:
        problems.append(f"AlterField {operation.model_name}.{operation.name}: becomes NOT NULL")
    if old.db_column != new.db_column or type(old) is not type(new):
        problems.append(f"AlterField {operation.model_name}.{operation.name}: column renamed or retyped")
    return problems


def test_the_check_sees_every_services_migrations():
    apps = {app for app, _ in _ours(_loader())}
    assert {"users", "catalog", "orders", "payments", "notifications"} <= apps


@pytest.mark.parametrize("key", _ours(_loader()), ids=lambda key: f"{key[0]}.{key[1]}")
def test_every_migration_is_backward_compatible(key):
    if key in CONTRACT_MIGRATIONS:
        pytest.skip(CONTRACT_MIGRATIONS[key])
    assert incompatibilities(_loader(), key) == []


class _FakeMigration:
    def __init__(self, *ops) -> None:
        self.operations = list(ops)
        self.initial = False


def test_the_check_catches_a_removed_column_and_a_not_null_addition():
    loader = _loader()
    key = next(k for k in _ours(loader) if k[0] == "catalog" and not loader.disk_migrations[k].initial)
    model = loader.project_state(key).models[next(m for m in loader.project_state(key).models if m[0] == "catalog")]
    field_name = next(name for name in model.fields if name != "id")
    loader.disk_migrations[key] = _FakeMigration(
        operations.RemoveField(model.name_lower, field_name),
        operations.AddField(model.name_lower, "extra", models.IntegerField(default=0)),
        operations.AddField(model.name_lower, "fine", models.IntegerField(null=True)),
        operations.AddField(model.name_lower, "also_fine", models.IntegerField(db_default=0)),
    )
    problems = incompatibilities(loader, key)
    assert problems[0].startswith("RemoveField")
    assert problems[1:] == [f"AddField {model.name_lower}.extra: NOT NULL without db_default"]
