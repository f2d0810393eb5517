"""The persona that plays each role of the browser suite against the local directory (the persona
facts themselves are ldap_seed/personas.csv's)."""

from __future__ import annotations

LOCAL_ROLES = {
    "superuser": "ada",
    "staff": "grace",
    "member": "linus",
    "inactive": "ken",
    "outsider": "eve",
    "locked": "joan",
}
