"""Every staff account change publishes `staff.changed` with the account's replicable state."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group, User, update_last_login
from django.core.management import call_command
from django.test import override_settings

from apps.core.services import db_alias
from apps.core.staff import applying_replica
from apps.users.contracts.events import STAFF_CHANGED
from apps.users.models import OutboxEvent
from tests.users.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def staff() -> User:
    user = User.objects.create_user("clerk", email="clerk@example.com", password="s3cret-staff-pass", is_staff=True)
    OutboxEvent.objects.all().delete()
    return user


def test_creating_a_staff_account_publishes_it():
    User.objects.create_user("clerk", email="clerk@example.com", password="s3cret-staff-pass", is_staff=True)

    [payload] = events(STAFF_CHANGED)
    assert payload["username"] == "clerk"
    assert payload["email"] == "clerk@example.com"
    assert (payload["is_active"], payload["is_staff"], payload["is_superuser"]) == (True, True, False)
    assert payload["groups"] == []
    assert payload["password"].startswith("md5$")  # the hash, never the password
    assert check_password("s3cret-staff-pass", payload["password"])


def test_createsuperuser_publishes(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-admin-pass")

    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)

    assert [(p["username"], p["is_superuser"]) for p in events(STAFF_CHANGED)] == [("root", True)]


def test_a_password_change_publishes_the_new_hash(staff):
    staff.set_password("a-new-staff-pass")
    staff.save()

    [payload] = events(STAFF_CHANGED)
    assert check_password("a-new-staff-pass", payload["password"])


def test_group_membership_changes_publish_the_group_names(staff):
    editors, buyers = Group.objects.create(name="editors"), Group.objects.create(name="buyers")

    staff.groups.add(editors, buyers)
    staff.groups.remove(buyers)
    staff.groups.clear()

    assert [p["groups"] for p in events(STAFF_CHANGED)] == [["buyers", "editors"], ["editors"], []]


def test_membership_changed_from_the_group_side_publishes_each_member(staff):
    other = User.objects.create_user("other", password="s3cret-staff-pass", is_staff=True)
    group = Group.objects.create(name="editors")
    OutboxEvent.objects.all().delete()

    group.user_set.add(staff, other)
    group.user_set.clear()

    published = [(p["username"], p["groups"]) for p in events(STAFF_CHANGED)]
    assert sorted(published[:2]) == [("clerk", ["editors"]), ("other", ["editors"])]
    assert sorted(published[2:]) == [("clerk", []), ("other", [])]


def test_renaming_or_deleting_a_group_publishes_its_members(staff):
    group = Group.objects.create(name="editors")
    staff.groups.add(group)
    OutboxEvent.objects.all().delete()

    group.name = "content"
    group.save()
    group.delete()

    assert [p["groups"] for p in events(STAFF_CHANGED)] == [["content"], []]


def test_a_sign_in_that_only_updates_last_login_publishes_nothing(staff):
    update_last_login(None, staff)

    assert events(STAFF_CHANGED) == []


def test_applying_a_replica_publishes_nothing(staff):
    token = applying_replica.set(True)
    try:
        staff.first_name = "Replica"
        staff.save()
        staff.groups.add(Group.objects.create(name="editors"))
    finally:
        applying_replica.reset(token)

    assert events(STAFF_CHANGED) == []


@override_settings(ALL_IN_ONE=True)
def test_deleting_an_account_all_in_one_publishes_nothing(staff):
    # All-in-one, every service's admin reads this very table: there is no replica to update.
    staff.delete()

    assert events(STAFF_CHANGED) == []


@override_settings(ALL_IN_ONE=False)
def test_deleting_an_account_in_the_split_shape_replicates_it_as_disabled(staff):
    staff.delete()

    [payload] = events(STAFF_CHANGED)
    assert payload["username"] == "clerk"
    assert (payload["is_active"], payload["is_staff"], payload["is_superuser"], payload["groups"]) == (
        False,
        False,
        False,
        [],
    )
    assert not check_password("s3cret-staff-pass", payload["password"])


@pytest.mark.skipif(not settings.ALL_IN_ONE, reason="in-process delivery is the all-in-one shape")
def test_the_event_is_delivered_in_process_without_echoing(django_capture_on_commit_callbacks):
    # All-in-one: the relay runs after commit and every subscribing service applies the account
    # to the shared table; applying must not publish again.
    with django_capture_on_commit_callbacks(using=db_alias("users"), execute=True):
        User.objects.create_user("clerk", password="s3cret-staff-pass", is_staff=True)

    [row] = OutboxEvent.objects.filter(event_type=STAFF_CHANGED)
    assert row.sent_at is not None
    for service in ("catalog", "orders", "payments", "notifications"):
        assert apps.get_model(service, "InboxEvent").objects.filter(event_id=row.id).exists()
    assert User.objects.get(username="clerk").is_staff
