"""Sign-in decisions: the reason each backend gives, and the one audit line per attempt.

Backends ``record`` why they refused on the request; the sign-in form reads it back to choose
what the person sees (one generic message, or "the directory is unavailable", or "locked out")
and writes one line to the ``identity.audit`` logger: outcome, username, client address and
reason, never a password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.http import HttpRequest

audit = logging.getLogger("identity.audit")

UNKNOWN_USER = "unknown user"
WRONG_PASSWORD = "wrong password"
NOT_IN_APP_GROUP = "not in the app group"
INACTIVE = "inactive"
LOCKED_OUT = "locked out"
DIRECTORY_UNAVAILABLE = "directory unavailable"
DIRECTORY_ERROR = "directory error"
INVALID_INPUT = "invalid input"
# Directory entries that cannot be a Django user (identity.accounts).
NO_USERNAME = "no username in the directory entry"
USERNAME_TOO_LONG = "username too long"
NO_STABLE_ID = "no stable id in the directory entry"
USERNAME_TAKEN = "username belongs to a local account"
STABLE_ID_SHARED = "stable id shared by another directory entry"
USERNAME_LOCKED = "username locked out"
SERVICE_ACCOUNT = "the service account"
TOO_MANY_AT_ONCE = "too many at once"

SUCCESS = "success"
DENIED = "denied"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Decision:
    reason: str
    detail: str = ""

    @property
    def directory_away(self) -> bool:
        """The directory could not give an answer: not the person's fault, not a guess."""
        return self.reason in (DIRECTORY_UNAVAILABLE, DIRECTORY_ERROR)

    @property
    def refused_before_directory(self) -> bool:
        """Refused without asking the directory (identity.throttle): not a guess, so not counted."""
        return self.reason in (LOCKED_OUT, USERNAME_LOCKED, SERVICE_ACCOUNT, TOO_MANY_AT_ONCE)


def record(request: HttpRequest | None, reason: str, *, detail: str = "") -> None:
    if request is not None:
        request.sign_in_decision = Decision(reason, detail)  # type: ignore[attr-defined]


def recorded(request: HttpRequest | None) -> Decision | None:
    decision: Decision | None = getattr(request, "sign_in_decision", None)
    return decision


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return "-"
    address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    return str(address or "-")


def log(request: HttpRequest | None, outcome: str, username: str, decision: Decision | None = None) -> None:
    reason = decision.reason if decision else ""
    detail = decision.detail if decision else ""
    fields = {
        "event": "sign-in",
        "outcome": outcome,
        "username": username,
        "client": client_address(request),
        "reason": reason,
        "detail": detail,
    }
    text = f"sign-in {outcome} for {username!r} from {fields['client']}"
    if reason:
        text += f": {reason}" + (f" ({detail})" if detail else "")
    level = logging.INFO if outcome == SUCCESS else logging.WARNING
    audit.log(level, text, extra={"audit": fields})
