"""identity.reads gives the instances the ORM gives: every field of the user and of their profile
equal to what ``select_related`` loads (datetimes aware, booleans, NULLs, any text), on SQLite and
on PostgreSQL (make test-postgres); a local account has no profile, a missing key nobody."""

from __future__ import annotations

import gc
import threading
import weakref
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.base import UpdateError
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity import reads, sessions
from identity.models import DirectoryProfile

pytestmark = pytest.mark.django_db

# Text as the directory may hold it (no NUL: neither database stores one in text).
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)
MOMENTS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 31), timezones=st.just(UTC))


def fields(instance: object) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    username=TEXT.filter(bool),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    last_login=st.none() | MOMENTS,
    joined=MOMENTS,
    directory_id=st.none() | TEXT,
    texts=st.lists(TEXT, min_size=4, max_size=4),
    synced_at=MOMENTS,
    with_profile=st.booleans(),
)
def test_a_user_and_their_profile_read_as_the_orm_reads_them(
    username: str,
    flags: tuple[bool, bool, bool],
    last_login: datetime | None,
    joined: datetime,
    directory_id: str | None,
    texts: list[str],
    synced_at: datetime,
    with_profile: bool,
) -> None:
    User.objects.all().delete()
    active, staff, superuser = flags
    user = User.objects.create(
        username=username[:150],
        is_active=active,
        is_staff=staff,
        is_superuser=superuser,
        last_login=last_login,
        date_joined=joined,
        first_name=texts[0],
        email=texts[1],
    )
    if with_profile:
        DirectoryProfile.objects.create(
            user=user,
            directory_id=directory_id,
            directory_id_attribute="entryUUID",
            dn=texts[2],
            description=texts[3],
            synced_at=synced_at,
        )
    expected = User.objects.select_related("directory_profile").get(pk=user.pk)
    expected_profile = getattr(expected, "directory_profile", None)

    found = reads.user(user.pk)

    assert found is not None
    assert fields(found) == fields(expected)
    assert found._state.adding is False
    assert found._state.db == "default"
    profile = reads.directory_profile(found)
    assert (fields(profile) if profile else None) == (fields(expected_profile) if expected_profile else None)
    if with_profile and directory_id is not None:
        held = reads.profile_holding_id("entryUUID", directory_id)
        assert held is not None
        assert fields(held) == fields(expected_profile)
        assert fields(held.user) == fields(expected)


def test_a_local_account_has_no_profile_and_asks_once(django_assert_num_queries: object) -> None:
    user = User.objects.create(username="break-glass")
    found = reads.user(user.pk)
    assert found is not None
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert reads.directory_profile(found) is None
        assert getattr(found, "directory_profile", None) is None
    fresh = User.objects.get(pk=user.pk)
    assert reads.directory_profile(fresh) is None


def test_nobody_for_a_missing_key_or_id() -> None:
    assert reads.user(123456) is None
    assert reads.profile_holding_id("entryUUID", "no-such-id") is None


def test_the_same_id_read_with_another_attribute_is_another_person() -> None:
    user = User.objects.create(username="grace")
    DirectoryProfile.objects.create(
        user=user, directory_id="42", directory_id_attribute="jcUserID", dn="uid=grace", synced_at=datetime.now(UTC)
    )
    assert reads.profile_holding_id("entryUUID", "42") is None
    held = reads.profile_holding_id("jcUserID", "42")
    assert held is not None
    assert held.user.pk == user.pk


def test_group_names_are_the_users_own() -> None:
    grace, ada = User.objects.create(username="grace"), User.objects.create(username="ada")
    staff, app = Group.objects.create(name="Staff"), Group.objects.create(name="Django App")
    Group.objects.create(name="nobody's")
    grace.groups.set([staff, app])
    ada.groups.set([app])
    assert reads.group_names(grace.pk) == {"Staff", "Django App"}
    assert reads.group_names(ada.pk) == {"Django App"}
    assert reads.group_names(User.objects.create(username="none").pk) == set()


def test_an_expired_session_is_not_read_and_gets_no_key() -> None:
    store = sessions.SessionStore()
    store["who"] = "grace"
    store.set_expiry(-1)
    store.save()
    again = sessions.SessionStore(store.session_key)
    assert again.load() == {}
    assert again.session_key is None


def test_a_session_deleted_meanwhile_is_not_written_back() -> None:
    # Signed out in another tab while this request ran: Django's SessionMiddleware turns the
    # UpdateError into SessionInterrupted (a 400), as with its own session store.
    store = sessions.SessionStore()
    store["who"] = "grace"
    store.save()
    again = sessions.SessionStore(store.session_key)
    again["who"] = "ada"
    key = store.session_key
    assert key is not None
    store.delete()
    with pytest.raises(UpdateError):
        again.save()
    assert not sessions.SessionStore().exists(key)


@pytest.mark.django_db(transaction=True)
def test_each_thread_reads_through_its_own_connection_and_none_is_kept() -> None:
    # gunicorn's threads each have their own connection: the columns and converters worked out
    # once serve them all, bound to none of them, so a connection closed with its thread is let go.
    user = User.objects.create(username="grace", last_login=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    expected = fields(User.objects.get(pk=user.pk))
    seen: list[tuple[dict[str, object], object]] = []

    def read() -> None:
        found = reads.user(user.pk)
        assert found is not None
        seen.append((fields(found), connections[connection.alias]))
        connections.close_all()

    for _ in range(3):
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    assert [found for found, _ in seen] == [expected] * 3
    assert len({id(database) for _, database in seen}) == 3
    held = [weakref.ref(database) for _, database in seen]
    seen.clear()
    gc.collect()
    assert [ref() for ref in held] == [None, None, None]


@pytest.mark.django_db(transaction=True)
def test_a_thread_that_leaves_its_connection_open_does_not_keep_it_past_its_end() -> None:
    # A thread that reads and ends without closing its connection: once the thread's objects are
    # collected its connection is gone (on PostgreSQL, a server session less), as with the ORM.
    user = User.objects.create(username="grace")
    held: list[weakref.ref[object]] = []

    def read() -> None:
        assert reads.user(user.pk) is not None
        held.append(weakref.ref(connections[connection.alias]))

    for _ in range(3):
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    gc.collect()
    assert [ref() for ref in held] == [None, None, None]
