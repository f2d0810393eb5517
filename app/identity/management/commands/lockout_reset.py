"""`manage.py lockout_reset USERNAME... [--ip ADDRESS...]`: lift locks as a person would name them.

django-axes' own ``axes_reset_username`` and ``axes_reset_ip`` match what is stored exactly, and
the lockout stores one spelling of each: the canonical username (``identity.accounts.
lockout_username``: letter case folded, Unicode NFKC, a digest for names too long for the column)
and the canonical address (``identity.proxy.canonical_ip``). Here a name or address is turned into
that spelling first, so ``GRACE``, ``grace`` and ``2001:DB8::7`` all lift what they name.
"""

from __future__ import annotations

from typing import Any

from axes.utils import reset
from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity.accounts import lockout_username
from identity.proxy import canonical_ip


class Command(BaseCommand):
    help = (
        "Lift the locks of usernames (from every address) and of client addresses, written however a "
        "person writes them: letter case, Unicode form and the spelling of an IPv6 address do not matter."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "usernames",
            nargs="*",
            metavar="USERNAME",
            help="as typed at the sign-in form; for an entry with several uid values, the one in its RDN",
        )
        parser.add_argument(
            "--ip", action="append", default=[], metavar="ADDRESS", help="a client address (repeat for several)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        usernames: list[str] = options["usernames"]
        addresses: list[str] = options["ip"]
        if not usernames and not addresses:
            raise CommandError("name at least one USERNAME or --ip ADDRESS to unlock (axes_reset lifts every lock)")
        # Every argument checked before anything is deleted; each turned into its stored spelling once.
        ips = {address: canonical_ip(address) for address in addresses}
        for address, ip in ips.items():
            if ip is None:
                raise CommandError(f"{address!r} is not an IP address")
        keys = {typed: lockout_username(None, {"username": typed}) for typed in usernames}
        for typed, key in keys.items():
            if not key:  # django-axes' reset with an empty username would lift every lock
                raise CommandError(f"{typed!r} names no username (axes_reset lifts every lock)")
        for typed, key in keys.items():
            self.stdout.write(f"username {typed!r}: {_records(reset(username=key))} removed")
        for address, ip in ips.items():
            self.stdout.write(f"address {address!r}: {_records(reset(ip=ip))} removed")


def _records(count: int) -> str:
    """django-axes keeps one record per username, address and browser, holding its failures."""
    return f"{count} lockout record{'s' * (count != 1)}"
