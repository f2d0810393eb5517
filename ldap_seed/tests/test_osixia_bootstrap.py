"""The native runner loads the seed as osixia/openldap does, so both give the same directory.

The image's first start is reproduced here in shell, independently of the runner's Python: copy
the custom LDIF, ``sed -i`` its placeholders, then for each file in sorted order send it to
ldapmodify if it contains ``changetype`` and to ldapadd otherwise, over ldapi with SASL EXTERNAL
first and as cn=admin after. The directory that comes out must equal the runner's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ldap

from ldap_seed import ADMIN_DN, ADMIN_PASSWORD, DOMAIN_DN, LDIF_DIR
from ldap_seed.directory import JumpCloudDirectory

IMAGE_FIRST_START = r"""
set -o errexit -o nounset -o pipefail
add_or_modify() {
  local file=$1
  sed -i "s|{{ LDAP_BASE_DN }}|$LDAP_BASE_DN|g" "$file"
  sed -i "s|{{ LDAP_BACKEND }}|$LDAP_BACKEND|g" "$file"
  sed -i "s|{{ LDAP_DOMAIN }}|$LDAP_DOMAIN|g" "$file"
  local tool=ldapadd
  if grep -iq changetype "$file"; then tool=ldapmodify; fi
  "$tool" -Y EXTERNAL -Q -H "$LDAPI" -f "$file" 2>/dev/null ||
    "$tool" -x -H "$LDAP" -D "cn=admin,$LDAP_BASE_DN" -w "$LDAP_ADMIN_PASSWORD" -f "$file"
}
for file in $(find "$CUSTOM" -mindepth 1 -maxdepth 1 -type f -name '*.ldif' | sort); do
  add_or_modify "$file"
done
"""


def dump(directory: JumpCloudDirectory) -> dict[str, dict[str, list[bytes]]]:
    connection = ldap.initialize(directory.ldap_uri)
    connection.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
    entries = connection.search_s(DOMAIN_DN, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["*", "memberOf"])
    return {dn.lower(): {name: sorted(values) for name, values in attrs.items()} for dn, attrs in entries}


def config_of(directory: JumpCloudDirectory) -> Any:
    result = subprocess.run(
        [
            "ldapsearch",
            "-LLL",
            "-Q",
            "-Y",
            "EXTERNAL",
            "-H",
            directory.ldapi_uri,
            "-o",
            "ldif-wrap=no",
            "-b",
            "cn=config",
            "(|(olcOverlay=*)(olcDatabase={1}mdb)(cn=config))",
            "olcAccess",
            "olcDisallows",
            "olcMemberOfGroupOC",
            "olcMemberOfMemberAD",
            "olcRefintAttribute",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.replace(directory.state_dir.as_posix(), "STATE")


def test_image_bootstrap_gives_the_runners_directory(directory: JumpCloudDirectory, tmp_path: Path) -> None:
    no_custom_ldif = tmp_path / "empty"
    no_custom_ldif.mkdir()
    bare = JumpCloudDirectory(tmp_path / "bare", ephemeral=True, ldif_dir=no_custom_ldif)
    bare.start()
    try:
        custom = tmp_path / "custom"
        shutil.copytree(LDIF_DIR, custom)
        subprocess.run(
            ["bash", "-c", IMAGE_FIRST_START],
            env={
                "PATH": "/usr/bin:/bin",
                "CUSTOM": str(custom),
                "LDAPI": bare.ldapi_uri,
                "LDAP": bare.ldap_uri,
                "LDAP_BASE_DN": DOMAIN_DN,
                "LDAP_BACKEND": "mdb",
                "LDAP_DOMAIN": "jumpcloud.com",
                "LDAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            },
            check=True,
            capture_output=True,
        )
        assert dump(bare) == dump(directory)
        assert config_of(bare) == config_of(directory)
    finally:
        bare.stop()


def test_every_seed_file_has_only_placeholders_the_image_substitutes() -> None:
    known = {"{{ LDAP_BASE_DN }}", "{{ LDAP_BACKEND }}", "{{ LDAP_DOMAIN }}"}
    for path in LDIF_DIR.glob("*.ldif"):
        assert set(re.findall(r"\{\{[^}]*\}\}", path.read_text())) <= known, path.name
