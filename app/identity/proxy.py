"""The client's address, as django-axes and the audit log see it.

Behind ``DJANGO_PROXY_COUNT`` proxies, each proxy appends the address it was reached from to
``X-Forwarded-For``; the last of them is the peer gunicorn sees (``REMOTE_ADDR``). Only the
entries our own proxies appended can be believed: anything further left was sent by the client.
So the client is the ``DJANGO_PROXY_COUNT``-th entry from the right, and only when the peer is
one of ``DJANGO_TRUSTED_PROXIES``: a client that reaches gunicorn directly keeps its own address,
whatever header it sends.

django-ipware reads the chain (IPv6, ports, RFC 7239 spellings); on its own it believes a header
from anyone, hence the peer check first.
"""

from __future__ import annotations

import copy
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.ipv6 import clean_ipv6_address
from ipware.ip import get_client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"DJANGO_TRUSTED_PROXIES holds {proxy!r}, which is not an IP address or network."
            ) from None
    return tuple(networks)


def is_trusted_proxy(address: str | None) -> bool:
    canonical = canonical_ip(address)  # a proxy reaching a dual-stack socket over IPv4 is ::ffff:a.b.c.d
    if canonical is None:
        return False
    peer = ipaddress.ip_address(canonical)
    return any(peer in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address the outermost of our proxies was reached from, in
    its one spelling (``canonical_ip``); None when that proxy wrote something that is not an
    address there (RFC 7239 allows ``unknown``): the client is then unknown, not whoever the
    entries further left name, which the client wrote."""
    peer: str | None = request.META.get("REMOTE_ADDR")
    count: int = settings.PROXY_COUNT
    if count == 0 or not is_trusted_proxy(peer):
        return canonical_ip(peer)
    # Only the right-most PROXY_COUNT entries are our proxies' (the client's address, then each
    # inner proxy's); without them the header is not our proxies' and the peer is all we know.
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    ours = [entry.strip() for entry in header.split(",")][-count:] if header.strip() else []
    if len(ours) < count:
        return canonical_ip(peer)
    # ipware reads the entries (IPv6, ports, brackets); strict: one that is not an address
    # makes it answer None instead of skipping to the next one.
    entries_of_ours = copy.copy(request)
    entries_of_ours.META = {"HTTP_X_FORWARDED_FOR": ", ".join(ours)}
    forwarded, _ = get_client_ip(
        entries_of_ours,
        proxy_order="left-most",
        proxy_count=count - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=True,
    )
    return canonical_ip(forwarded)


def canonical_ip(value: str | None) -> str | None:
    """One spelling per address (``django.utils.ipv6.clean_ipv6_address``: IPv6 lower case and
    compressed), so the lockout's counts and the rows django-axes writes name a client alike
    however it was written and whichever way it came. An IPv4-mapped IPv6 address
    (``::ffff:192.0.2.1``, an IPv4 client on a dual-stack socket) is its IPv4 address, as
    django-ipware reads it from a proxy's header. An IPv6 zone (``fe80::1%eth0``) names the
    server's interface, not the client: it is dropped (PostgreSQL's inet has no place for it).
    Not an IP address: None."""
    if not value:
        return None
    address = value.split("%", 1)[0] if ":" in value else value
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return clean_ipv6_address(address, unpack_ipv4=True) if ":" in address else address
