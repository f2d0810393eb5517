"""The persona that plays each role of the browser suite against the local directory: the first
persona of ldap_seed/personas.csv in that role (``Persona.role``, from its groups and state)."""

from __future__ import annotations

from ldap_seed.personas import OUTCOMES, PERSONAS


def _first_in_each_role() -> dict[str, str]:
    players: dict[str, str] = {}
    for persona in PERSONAS:
        players.setdefault(persona.role, persona.uid)
    missing = [role for role in OUTCOMES if role not in players]
    if missing:
        raise LookupError(f"ldap_seed/personas.csv has no persona for the role(s) {', '.join(missing)}")
    return {role: players[role] for role in OUTCOMES}


LOCAL_ROLES = _first_in_each_role()
