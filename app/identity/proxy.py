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
    """``AXES_CLIENT_IP_CALLABLE``: the address the outermost of our proxies was reached from."""
    peer: str | None = request.META.get("REMOTE_ADDR")
    count: int = settings.PROXY_COUNT
    if count == 0 or not is_trusted_proxy(peer):
        return peer
    # ipware counts the proxies named in the header; the last of ours is the peer, not in it.
    forwarded, _ = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=count - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return forwarded or peer
