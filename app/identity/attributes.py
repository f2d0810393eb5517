"""Which JumpCloud attribute fills which Django field: one table, read by the account decision
(``identity.accounts``), the profile page, the admin and ``ldap_doctor``.

``ATTRIBUTE_MAP`` rows are ``(target, field, attribute)``: ``target`` is ``USER`` (``auth.User``)
or ``PROFILE`` (``DirectoryProfile``). The attributes fetched with a user's entry derive from the
same table (``fetched_attributes``), so ``userPassword`` is never asked for. Attribute names are
those JumpCloud documents (FACTS.md, "Attribute names JumpCloud documents").
"""

from __future__ import annotations

USER = "user"
PROFILE = "profile"

ATTRIBUTE_MAP: tuple[tuple[str, str, str], ...] = (
    (USER, "first_name", "givenName"),
    (USER, "last_name", "sn"),
    (USER, "email", "mail"),
    (PROFILE, "middle_name", "initials"),
    (PROFILE, "display_name", "displayName"),
    (PROFILE, "title", "title"),
    (PROFILE, "department", "departmentNumber"),
    (PROFILE, "cost_center", "businessCategory"),
    (PROFILE, "location", "physicalDeliveryOfficeName"),
    (PROFILE, "employee_id", "employeeNumber"),
    (PROFILE, "employee_type", "employeeType"),
    (PROFILE, "company", "company"),
    (PROFILE, "description", "description"),
    (PROFILE, "phone", "mobile"),
)
USER_FIELDS = tuple(field for target, field, _ in ATTRIBUTE_MAP if target == USER)
PROFILE_FIELDS = tuple(field for target, field, _ in ATTRIBUTE_MAP if target == PROFILE)

# The username (RFC 4519 uid) and the groups (memberOf, RFC 2307bis / OpenLDAP's memberof overlay).
USERNAME_ATTRIBUTE = "uid"
MEMBER_OF_ATTRIBUTE = "memberOf"


def fetched_attributes(user_id_attribute: str) -> list[str]:
    """The attributes to ask for with a user's entry: the table's, the username, the stable id
    (``LDAP_USER_ID_ATTRIBUTE``; an operational one such as entryUUID is returned only when named)
    and memberOf."""
    names = [USERNAME_ATTRIBUTE, user_id_attribute, *(attribute for _, _, attribute in ATTRIBUTE_MAP)]
    names.append(MEMBER_OF_ATTRIBUTE)
    return list(dict.fromkeys(names))
