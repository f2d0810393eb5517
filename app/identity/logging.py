from __future__ import annotations

import logging

_DECISIONS = ("Authentication failed for", "Rejecting empty password", "Failed to populate user")


class AuthenticationDecisions(logging.Filter):
    """Pass django-auth-ldap's reasons for refusing a sign-in (logged at DEBUG) and anything it
    logs at INFO or above; drop the rest of its DEBUG chatter (binds, searches, compares)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or str(record.msg).startswith(_DECISIONS)
