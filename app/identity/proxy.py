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
    if not address:
        return False
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address the outermost of our proxies was reached from, in
    its one spelling (``canonical_ip``), or None when what was given is not an IP address."""
    peer: str | None = request.META.get("REMOTE_ADDR")
    count: int = settings.PROXY_COUNT
    if count == 0 or not is_trusted_proxy(peer):
        return canonical_ip(peer)
    # ipware counts the proxies named in the header; the last of ours is the peer, not in it.
    forwarded, _ = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=count - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return canonical_ip(forwarded or peer)


def canonical_ip(value: str | None) -> str | None:
    """One spelling per address, the one Django stores in a ``GenericIPAddressField`` (IPv6 lower
    case and compressed, an IPv4-mapped one as ``::ffff:192.0.2.1``; ``django.utils.ipv6``), so the
    lockout's counts and the rows django-axes writes name a client alike however it was written.
    An IPv6 zone (``fe80::1%eth0``) names the server's interface, not the client: it is dropped
    (PostgreSQL's inet has no place for it). Not an IP address: None."""
    if not value:
        return None
    address = value.split("%", 1)[0] if ":" in value else value
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return clean_ipv6_address(address) if ":" in address else address
