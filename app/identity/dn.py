"""Distinguished names: parsing, one comparable form, "is this under the base DN", and the DN of a
group named in the settings. Every other module asks these questions here.

Vocabulary (as in django-auth-ldap's ``backend.py``): a name ending in ``_dn`` is a DN string as
the directory or the settings spell it; ``key`` is the comparable form ``dn_key`` makes of one;
``rdns`` is python-ldap's parsed form, a list of RDNs, each a list of ``(type, value, flags)``.

Two spellings name the same entry when their RDNs match pairwise: attribute types compare without
letter case (RFC 4512 2.5), and the values of the attributes used in JumpCloud's DNs (``uid``,
``cn``, ``ou``, ``o``, ``dc``) compare with caseIgnoreMatch, which folds letter case after Unicode
normalisation (RFC 4517 4.2.11, RFC 4518 2). ``cn=Django App`` and ``CN=django app`` are one group.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import ldap
import ldap.dn
from ldap.filter import escape_filter_chars

RDNs = list[list[tuple[str, str, int]]]


def parse(dn: str) -> RDNs | None:
    """``dn`` as RDNs (RFC 4514), or None when it is not a DN (``ldap.dn.str2dn`` failed)."""
    if not dn:
        return None
    try:
        rdns: Any = ldap.dn.str2dn(dn)
    except ldap.DECODING_ERROR:
        return None
    return [[(str(a), str(v), int(f)) for a, v, f in rdn] for rdn in rdns]


def fold(value: str) -> str:
    """A string value in caseIgnoreMatch's comparable form: NFC, then case folded, then NFC again
    (case folding can leave a string unnormalised, e.g. U+0130); white space around it dropped and
    runs of it inside made one space (RFC 4518 2.2 and 2.6.1, insignificant space handling)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
    return " ".join(folded.split())


def _key(rdns: RDNs) -> tuple[tuple[tuple[str, str], ...], ...]:
    # Multi-valued RDNs (a+b) are sets: sort their parts.
    return tuple(tuple(sorted((a.lower(), fold(v)) for a, v, _ in rdn)) for rdn in rdns)


# dn_key, is_under and first_value are pure functions of their strings, asked about the same few
# group DNs for every user of a sync: remembered, they are parsed once (about 0.3 of a sync's
# decisions at 10,000 users). Bounded, so a sync of many distinct DNs does not grow memory.
@lru_cache(maxsize=4096)
def dn_key(dn: str) -> tuple[tuple[tuple[str, str], ...], ...] | None:
    """The comparable form of ``dn``: equal for every spelling of one DN; None if not a DN."""
    rdns = parse(dn)
    return None if rdns is None else _key(rdns)


def same_dn(a: str, b: str) -> bool:
    key = dn_key(a)
    return key is not None and key == dn_key(b)


@lru_cache(maxsize=4096)
def is_under(dn: str, base_dn: str, *, directly: bool = False) -> bool:
    """True when ``dn`` is strictly below ``base_dn`` (``directly``: one level below)."""
    rdns, base = parse(dn), parse(base_dn)
    if rdns is None or base is None or len(rdns) <= len(base):
        return False
    if directly and len(rdns) != len(base) + 1:
        return False
    return _key(rdns[len(rdns) - len(base) :]) == _key(base)


@lru_cache(maxsize=4096)
def first_value(dn: str) -> str | None:
    """The value of the DN's first RDN, unescaped (``cn=Tier\\3D1,...`` gives ``Tier=1``)."""
    rdns = parse(dn)
    return rdns[0][0][1] if rdns else None


def group_dn(value: str, base_dn: str) -> str:
    """The DN of the JumpCloud group a setting names. A value is a DN only when it ends with the
    base DN; anything else is a group's name, ``cn=<name>,<base DN>`` with the name escaped
    (``ldap.dn.escape_dn_chars``), so ``Tier=1`` or ``R&D, Europe`` are names, as JumpCloud allows."""
    if base_dn and is_under(value, base_dn):
        return value
    return f"cn={ldap.dn.escape_dn_chars(value)},{base_dn}"


def escape_filter_value(value: str) -> str:
    """``value`` escaped for an LDAP filter (RFC 4515 3), as python-ldap's ``escape_filter_chars``."""
    return str(escape_filter_chars(value))
