"""Signal receivers that replicate staff accounts: every change to a staff account (auth.User) or
its group membership publishes `staff.changed` (see services/staff.py). Thin: the
decisions are here, the publishing is in services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from apps.core.staff import applying_replica
from apps.users.services import staff

# Saves that change nothing another service's admin needs (Django writes last_login on sign-in).
_IRRELEVANT_UPDATES = frozenset({"last_login"})


def _replicating() -> bool:
    # A replica being applied (all-in-one: the same table) must not echo back as a new event.
    return applying_replica.get()


def on_user_saved(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    if raw or _replicating():
        return
    if update_fields is not None and set(update_fields) <= _IRRELEVANT_UPDATES:
        return
    staff.staff_account_changed(user=instance)


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not _replicating():
        staff.staff_account_deleted(user=instance)


def on_membership_changed(
    sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kwargs: Any
) -> None:
    if _replicating():
        return
    if not reverse:  # user.groups.add/remove/clear/set
        if action in {"post_add", "post_remove", "post_clear"}:
            staff.staff_account_changed(user=instance)
        return
    # group.user_set.add/remove/clear: `instance` is the group, `pk_set` the users.
    if action == "pre_clear":
        instance._staff_cleared_user_pks = list(instance.user_set.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_staff_cleared_user_pks", [])
    elif action not in {"post_add", "post_remove"}:
        return
    for user in model.objects.filter(pk__in=pk_set or []):
        staff.staff_account_changed(user=user)


def on_group_saved(sender: Any, instance: Group, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # A renamed group changes every member's list of group names.
    if raw or created or _replicating():
        return
    for user in instance.user_set.all():
        staff.staff_account_changed(user=user)


def on_group_deleting(sender: Any, instance: Group, **kwargs: Any) -> None:
    instance._staff_member_pks = list(instance.user_set.values_list("pk", flat=True))


def on_group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    if _replicating():
        return
    for user in get_user_model().objects.filter(pk__in=getattr(instance, "_staff_member_pks", [])):
        staff.staff_account_changed(user=user)


def connect() -> None:
    user_model = get_user_model()
    uid = "apps.users.receivers"
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid=f"{uid}.user_saved")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid=f"{uid}.user_deleted")
    m2m_changed.connect(on_membership_changed, sender=user_model.groups.through, dispatch_uid=f"{uid}.membership")
    post_save.connect(on_group_saved, sender=Group, dispatch_uid=f"{uid}.group_saved")
    pre_delete.connect(on_group_deleting, sender=Group, dispatch_uid=f"{uid}.group_deleting")
    post_delete.connect(on_group_deleted, sender=Group, dispatch_uid=f"{uid}.group_deleted")
