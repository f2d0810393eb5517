"""The reads on the path of every page view and every returning sign-in, as SQL written here.

Django's ORM spends 0.2-0.4 ms of CPU building and compiling each of these queries (a filter, a
``select_related``), which SQLite answers in about 0.01 ms: on a signed-in page view that was a
third of the request (``bench/README.md``). Here each is one SELECT by an indexed key, its columns
and their converters worked out once per process from the models' ``_meta``, and each row made
into an instance the way the ORM makes it: the database backend's and the field's converters
applied to each value (``SQLCompiler.apply_converters``), then ``Model.from_db`` (Django docs,
"Model.from_db": "the values ... in the order of concrete fields"). Names are quoted by the
database's own ``quote_name``; every value is a parameter. Writes stay with the ORM, except where
a module says why (``identity.throttle``, ``identity.sessions``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, connections, models

from identity.models import DirectoryProfile

# A converter, and whether it is a method of the database operations (``connection.ops``): those
# are kept unbound and bound at each read to the reading thread's own connection's operations.
_Converter = tuple[Callable[..., Any], bool]


@dataclass(frozen=True)
class _Table:
    """One model's concrete columns as read under a table alias in a SELECT list."""

    model: type[models.Model]
    alias: str
    columns: str  # "alias"."column", ... in the order of concrete fields
    attnames: tuple[str, ...]  # the same fields' attribute names
    converters: tuple[tuple[int, tuple[_Converter, ...], Any], ...]  # (position, converters, Col)

    @property
    def width(self) -> int:
        return len(self.model._meta.concrete_fields)

    def instance(self, values: Sequence[Any], database: Any) -> Any:
        """The instance for this table's slice of a row read on ``database`` (a connection)."""
        converted = list(values)
        for position, converters, column in self.converters:
            for converter, of_operations in converters:
                if of_operations:
                    converted[position] = converter(database.ops, converted[position], column, database)
                else:
                    converted[position] = converter(converted[position], column, database)
        return self.model.from_db(database.alias, self.attnames, converted)


# Worked out once per kind of database, and holding no connection: Django gives each thread its
# own, and these are used by all of them.
@cache
def _table(model: type[models.Model], alias: str, vendor: str, database_alias: str) -> _Table:
    """``model``'s columns and converters under the table alias ``alias`` on the ``vendor`` database
    ``database_alias``: the converters the ORM's compiler applies (``SQLCompiler.get_converters``)."""
    database = connections[database_alias]
    q = database.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(alias)
        found: list[_Converter] = [
            (converter.__func__, True) if getattr(converter, "__self__", None) is database.ops else (converter, False)
            for converter in database.ops.get_db_converters(column)
        ]
        found += [(converter, False) for converter in column.get_db_converters(database)]
        if found:
            converters.append((position, tuple(found), column))
    return _Table(
        model,
        alias,
        ", ".join(f"{q(alias)}.{q(field.column)}" for field in fields),  # type: ignore[arg-type]  # concrete: a column each
        tuple(field.attname for field in fields),
        tuple(converters),
    )


def _tables(*models_and_aliases: tuple[type[models.Model], str]) -> list[_Table]:
    database = _database()
    return [_table(model, alias, database.vendor, database.alias) for model, alias in models_and_aliases]


def _database() -> Any:
    """This thread's connection object (``django.db.connection`` is a proxy to it)."""
    return connections[connection.alias]


def _column(model: type[models.Model], alias: str, field: str) -> str:
    q = connection.ops.quote_name
    column: str = model._meta.get_field(field).column  # type: ignore[union-attr,assignment]
    return f"{q(alias)}.{q(column)}"


def _from(model: type[models.Model], alias: str) -> str:
    q = connection.ops.quote_name
    return f"{q(model._meta.db_table)} {q(alias)}"


def _fetch_one(sql: str, values: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def user(pk: Any) -> User | None:
    """The user with primary key ``pk``, with their directory profile (kept on the user, as
    ``select_related("directory_profile")`` keeps it: None for a local account), or None. One
    SELECT: the user LEFT JOIN the profile."""
    users, profiles = _tables((User, "u"), (DirectoryProfile, "p"))
    row = _fetch_one(
        f"SELECT {users.columns}, {profiles.columns} FROM {_from(User, 'u')} "  # noqa: S608 - names from _meta
        f"LEFT JOIN {_from(DirectoryProfile, 'p')} "
        f"ON {_column(DirectoryProfile, 'p', 'user')} = {_column(User, 'u', 'id')} "
        f"WHERE {_column(User, 'u', 'id')} = %s",
        [pk],
    )
    if row is None:
        return None
    person: User = users.instance(row[: users.width], _database())
    profile_values = row[users.width :]
    _keep(person, profiles.instance(profile_values, _database()) if profile_values[0] is not None else None)
    return person


def directory_profile(person: User) -> DirectoryProfile | None:
    """``person``'s directory profile, None for a local account: the one ``user`` kept, or read
    now (once per user object)."""
    relation = User.directory_profile.related
    if not relation.is_cached(person):
        (profiles,) = _tables((DirectoryProfile, "p"))
        row = _fetch_one(
            f"SELECT {profiles.columns} FROM {_from(DirectoryProfile, 'p')} "  # noqa: S608 - names from _meta
            f"WHERE {_column(DirectoryProfile, 'p', 'user')} = %s",
            [person.pk],
        )
        _keep(person, profiles.instance(row, _database()) if row is not None else None)
    found: DirectoryProfile | None = relation.get_cached_value(person)  # type: ignore[assignment]
    return found


def profile_holding_id(attribute: str, directory_id: str) -> DirectoryProfile | None:
    """The profile holding the stable id ``directory_id`` read with ``attribute``, with its user
    (``profile.user`` asks nothing more), or None. One row at most (``one_user_per_directory_id``),
    one SELECT: the profile JOIN its user."""
    profiles, users = _tables((DirectoryProfile, "p"), (User, "u"))
    row = _fetch_one(
        f"SELECT {profiles.columns}, {users.columns} FROM {_from(DirectoryProfile, 'p')} "  # noqa: S608
        f"JOIN {_from(User, 'u')} ON {_column(User, 'u', 'id')} = {_column(DirectoryProfile, 'p', 'user')} "
        f"WHERE {_column(DirectoryProfile, 'p', 'directory_id_attribute')} = %s "
        f"AND {_column(DirectoryProfile, 'p', 'directory_id')} = %s",
        [attribute, directory_id],
    )
    if row is None:
        return None
    profile: DirectoryProfile = profiles.instance(row[: profiles.width], _database())
    _keep(users.instance(row[profiles.width :], _database()), profile)
    return profile


def group_names(user_pk: Any) -> set[str]:
    """The names of the Django groups of the user with primary key ``user_pk``."""
    links: type[models.Model] = User.groups.through
    group_model: type[models.Model] = links._meta.get_field("group").related_model  # type: ignore[assignment]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_column(group_model, 'g', 'name')} FROM {_from(group_model, 'g')} "  # noqa: S608
            f"JOIN {_from(links, 'l')} ON {_column(links, 'l', 'group')} = {_column(group_model, 'g', 'id')} "
            f"WHERE {_column(links, 'l', 'user')} = %s",
            [user_pk],
        )
        return {name for (name,) in cursor.fetchall()}


def _keep(person: User, profile: DirectoryProfile | None) -> None:
    """Both ends of the one-to-one kept on the instances, as ``select_related`` leaves them."""
    User.directory_profile.related.set_cached_value(person, profile)
    if profile is not None:
        DirectoryProfile.user.field.set_cached_value(profile, person)
