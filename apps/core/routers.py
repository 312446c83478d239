"""Database router: every service's models go to that service's alias; Django's own apps (staff
accounts, sessions, admin log) and core stay in `default`. Migrations follow the same map."""

from __future__ import annotations

from apps.core.services import db_alias, is_service


def _alias_for_label(app_label: str) -> str:
    return db_alias(app_label) if is_service(app_label) else "default"


class ServiceRouter:
    def db_for_read(self, model, **hints) -> str:
        return _alias_for_label(model._meta.app_label)

    def db_for_write(self, model, **hints) -> str:
        return _alias_for_label(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return _alias_for_label(obj1._meta.app_label) == _alias_for_label(obj2._meta.app_label)

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool:
        return db == _alias_for_label(app_label)
