"""The local directory has JumpCloud's shape and access rules (checked with ldapsearch, as a person would)."""

from __future__ import annotations

import subprocess

import ldap
import pytest

from ldap_seed import GROUPS, ORG_ID, SERVICE_DN, SERVICE_PASSWORD, USERS_DN, group_dn, user_dn
from ldap_seed.directory import JumpCloudDirectory
from ldap_seed.personas import PERSONAS


def ldapsearch(
    directory: JumpCloudDirectory, *args: str, bind: tuple[str, str] | None = None, base: str = USERS_DN
) -> subprocess.CompletedProcess[str]:
    command = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", directory.ldaps_uri, "-b", base]
    if bind:
        command += ["-D", bind[0], "-w", bind[1]]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env={"LDAPTLS_CACERT": directory.cafile}, check=False
    )


def test_suffix_is_a_jumpcloud_org(directory: JumpCloudDirectory) -> None:
    assert len(ORG_ID) == 24
    int(ORG_ID, 16)
    assert f"ou=Users,o={ORG_ID},dc=jumpcloud,dc=com" == USERS_DN


def test_service_account_sees_users_with_memberof(directory: JumpCloudDirectory) -> None:
    result = ldapsearch(directory, "(uid=ada)", "memberOf", bind=(SERVICE_DN, SERVICE_PASSWORD))
    assert result.returncode == 0, result.stderr
    assert f"dn: {user_dn('ada')}" in result.stdout
    for name in GROUPS:  # ada is in every group
        assert f"memberOf: {group_dn(name)}" in result.stdout


def test_service_account_sees_groups_of_names_beside_users(directory: JumpCloudDirectory) -> None:
    result = ldapsearch(
        directory, "-s", "one", "(objectClass=groupOfNames)", "member", bind=(SERVICE_DN, SERVICE_PASSWORD)
    )
    assert result.returncode == 0, result.stderr
    assert f"dn: {group_dn('Django App')}" in result.stdout
    assert f"member: {user_dn('linus')}" in result.stdout


def test_anonymous_search_returns_nothing(directory: JumpCloudDirectory) -> None:
    result = ldapsearch(directory, "(objectClass=*)")
    assert result.returncode != 0
    assert "dn:" not in result.stdout
    assert "anonymous bind disallowed" in result.stderr


def test_nobody_reads_user_password(directory: JumpCloudDirectory) -> None:
    for who in ((SERVICE_DN, SERVICE_PASSWORD), (user_dn("ada"), "ada-demo-pass")):
        result = ldapsearch(directory, "(uid=ada)", "userPassword", bind=who, base=user_dn("ada"))
        assert result.returncode == 0, result.stderr
        assert f"dn: {user_dn('ada')}" in result.stdout
        assert "userPassword" not in result.stdout


def test_a_user_reads_only_their_own_entry(directory: JumpCloudDirectory) -> None:
    linus = (user_dn("linus"), "linus-demo-pass")
    own = ldapsearch(directory, "(objectClass=*)", "uid", "memberOf", bind=linus, base=user_dn("linus"))
    assert own.returncode == 0, own.stderr
    assert f"dn: {user_dn('linus')}" in own.stdout
    assert f"memberOf: {group_dn('active')}" in own.stdout
    for base in (user_dn("ada"), USERS_DN, group_dn("staff")):
        other = ldapsearch(directory, "(objectClass=*)", bind=linus, base=base)
        assert "dn:" not in other.stdout, base


def test_seed_groups_match_the_persona_table(directory: JumpCloudDirectory) -> None:
    connection = ldap.initialize(directory.ldaps_uri)
    connection.set_option(ldap.OPT_X_TLS_CACERTFILE, directory.cafile)
    connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    connection.simple_bind_s(SERVICE_DN, SERVICE_PASSWORD)
    for persona in PERSONAS:
        [(_, attrs)] = connection.search_s(user_dn(persona.uid), ldap.SCOPE_BASE, attrlist=["memberOf"])
        groups = {ldap.dn.str2dn(dn.decode())[0][0][1] for dn in attrs.get("memberOf", [])}
        assert groups == persona.groups, persona.uid


@pytest.mark.parametrize("uri_attribute", ["ldap_uri", "ldaps_uri"])
def test_tls_is_offered_with_the_local_ca(directory: JumpCloudDirectory, uri_attribute: str) -> None:
    command = ["ldapwhoami", "-x", "-H", getattr(directory, uri_attribute), "-D", SERVICE_DN, "-w", SERVICE_PASSWORD]
    if uri_attribute == "ldap_uri":
        command.append("-ZZ")
    result = subprocess.run(
        command, capture_output=True, text=True, env={"LDAPTLS_CACERT": directory.cafile}, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"dn:{SERVICE_DN}"
