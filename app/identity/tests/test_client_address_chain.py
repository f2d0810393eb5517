"""Which entry of X-Forwarded-For is the client (identity.proxy.client_ip): behind
DJANGO_PROXY_COUNT proxies, the one the outermost of them wrote, counted from the right; only our
proxies' entries are read, so what the client wrote further left never decides, even when a
proxy wrote something that is not an address there (RFC 7239's ``unknown``)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from identity.proxy import client_ip

PROXY = "10.0.0.1"


@pytest.mark.parametrize(
    ("count", "forwarded", "client"),
    [
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "spoofed, 203.0.113.5", "203.0.113.5"),
        (1, "garbage, 203.0.113.5", "203.0.113.5"),
        (1, " 203.0.113.5 ", "203.0.113.5"),
        (1, "203.0.113.5:1234", "203.0.113.5"),
        (1, "[2001:DB8::7]:443", "2001:db8::7"),
        (1, "2001:db8:0:0:0:0:0:7", "2001:db8::7"),
        (2, "spoofed, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        # The proxy could not tell: the client is unknown, not the address the client wrote.
        (1, "198.51.100.7, unknown", None),
        (1, "unknown", None),
        (2, "198.51.100.7, unknown, 10.0.0.2", None),
        # Fewer entries than our proxies write: not their header; the peer is all we know.
        (2, "203.0.113.5", PROXY),
        (1, "", PROXY),
    ],
)
def test_the_client_is_the_entry_our_outermost_proxy_wrote(count: int, forwarded: str, client: str | None) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(PROXY_COUNT=count, TRUSTED_PROXIES=[PROXY]):
        assert client_ip(request) == client


def test_a_peer_that_is_not_our_proxy_is_the_client_whatever_it_sends() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.5")
    with override_settings(PROXY_COUNT=1, TRUSTED_PROXIES=[PROXY]):
        assert client_ip(request) == "198.51.100.9"


@pytest.mark.parametrize("peer", [PROXY, f"::ffff:{PROXY}"])
@pytest.mark.parametrize("forwarded", ["192.0.2.1", "::ffff:192.0.2.1", "[::FFFF:C000:201]:443"])
def test_an_ipv4_client_is_one_address_directly_or_through_the_proxy(peer: str, forwarded: str) -> None:
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; ipware unpacks them from the header.
    through_proxy = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    direct = RequestFactory().get("/", REMOTE_ADDR="::ffff:192.0.2.1")
    with override_settings(PROXY_COUNT=1, TRUSTED_PROXIES=[PROXY]):
        assert client_ip(through_proxy) == client_ip(direct) == "192.0.2.1"
