"""A django-auth-ldap group type for JumpCloud: groups from the user's own ``memberOf``.

JumpCloud, like the local directory, returns ``memberOf`` with the user's entry, so the groups are
known without a group search or a compare per group: a first sign-in is three operations (the
service account's bind, the user search, the user's bind). ``LDAP_GROUP_SOURCE=search`` keeps
django-auth-ldap's ``GroupOfNamesType`` for directories without memberOf.
"""

from __future__ import annotations

from typing import Any

import ldap.dn
from django_auth_ldap.config import LDAPGroupType, LDAPSearch


def normalized_dn(dn: str) -> str:
    """Lower case, one spelling per DN, as django-auth-ldap compares them."""
    return str(ldap.dn.dn2str(ldap.dn.str2dn(dn.lower())))


class MemberOfGroupType(LDAPGroupType):  # type: ignore[misc]
    """Groups are the ``memberOf`` DNs directly under the group search's base DN (JumpCloud's
    ``ou=Users``); their name is the first RDN's value (``cn=Django App`` is "Django App")."""

    def user_groups(self, ldap_user: Any, group_search: LDAPSearch) -> list[tuple[str, dict[str, list[str]]]]:
        base = ldap.dn.str2dn(group_search.base_dn.lower())
        groups = []
        for dn in (ldap_user.attrs or {}).get("memberOf", []):
            try:
                rdns = ldap.dn.str2dn(dn)
            except ldap.DECODING_ERROR:
                continue
            if [[(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in rdns[1:]] != base:
                continue
            attribute, value, _ = rdns[0][0]
            groups.append((normalized_dn(dn), {attribute.lower(): [value]}))
        return groups

    def is_member(self, ldap_user: Any, group_dn: str) -> bool:
        member_of = (ldap_user.attrs or {}).get("memberOf", [])
        return normalized_dn(group_dn) in {normalized_dn(dn) for dn in member_of}
